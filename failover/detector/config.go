package detector

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// ErrInvalidConfig is wrapped by every error that [Config.Validate] returns.
var ErrInvalidConfig = errors.New("detector: invalid config")

// Kind selects a failure detector.
type Kind uint8

const (
	// KindPhiAccrual is the phi accrual detector ([PhiAccrual]). It is the
	// zero value and the default.
	KindPhiAccrual Kind = iota
	// KindConsecutiveMiss is the consecutive-miss detector ([ConsecutiveMiss]).
	KindConsecutiveMiss
)

// String returns "phi-accrual", "consecutive-miss" or "Kind(n)".
func (k Kind) String() string {
	switch k {
	case KindPhiAccrual:
		return "phi-accrual"
	case KindConsecutiveMiss:
		return "consecutive-miss"
	default:
		return "Kind(" + strconv.Itoa(int(k)) + ")"
	}
}

// Defaults applied by [Config.WithDefaults] to zero fields. See the package
// documentation for the detection times they give.
const (
	DefaultProbeInterval   = 200 * time.Millisecond
	DefaultSuspectInterval = 50 * time.Millisecond
	DefaultAcceptablePause = time.Second
	DefaultThreshold       = 4.0
	DefaultMinStdDev       = 50 * time.Millisecond
	DefaultWindow          = 100
	DefaultMisses          = 3
)

// MaxWindow is the largest [Config.Window].
const MaxWindow = 1000

// Config configures a detector. Zero fields mean "use the default", so
// Config{} is the default phi accrual detector.
type Config struct {
	// Kind selects the detector built by [New].
	Kind Kind
	// ProbeInterval is how often the center probes (default 200ms). Phi
	// accrual uses it as the expected inter-arrival time until it has
	// measured one.
	ProbeInterval time.Duration
	// SuspectInterval is how often a server whose answer is overdue (no
	// answer to a probe within ProbeInterval) is probed until it answers
	// (default 50ms, at most ProbeInterval). Probes keep flowing during a
	// silence, so a server that was only paused answers the moment it
	// resumes, and one lost answer costs SuspectInterval, not a whole
	// ProbeTimeout. Phi accrual only: the consecutive-miss detector counts
	// timed-out probes, so it probes one at a time.
	SuspectInterval time.Duration
	// AcceptablePause is the longest silence a healthy server may show (a GC
	// pause, a busy disk, a lost probe or two) that must NEVER be declared a
	// failure (default 1s). Hard floor for both detectors: Failed(now) is
	// false while now - lastSuccess <= AcceptablePause.
	AcceptablePause time.Duration
	// Threshold is the phi at or above which a server is failed (phi accrual;
	// default 4).
	Threshold float64
	// MinStdDev floors the inter-arrival standard deviation so that a
	// perfectly regular history does not make phi explode on the first late
	// probe (default 50ms).
	MinStdDev time.Duration
	// Window is how many inter-arrival samples phi accrual keeps (default
	// 100, max [MaxWindow]).
	Window int
	// Misses is how many consecutive failed probes the consecutive-miss
	// detector needs (default 3).
	Misses int
}

// DefaultConfig returns the default configuration: phi accrual, 200ms probes
// (50ms for a suspect), 1s acceptable pause, threshold 4, 50ms minimum
// standard deviation, a window of 100 samples, and 3 misses for the
// consecutive-miss detector.
func DefaultConfig() Config {
	return Config{
		Kind:            KindPhiAccrual,
		ProbeInterval:   DefaultProbeInterval,
		SuspectInterval: DefaultSuspectInterval,
		AcceptablePause: DefaultAcceptablePause,
		Threshold:       DefaultThreshold,
		MinStdDev:       DefaultMinStdDev,
		Window:          DefaultWindow,
		Misses:          DefaultMisses,
	}
}

// WithDefaults returns c with every zero field set to its default. Kind is
// left as it is: its zero value already is the default.
func (c Config) WithDefaults() Config {
	if c.ProbeInterval == 0 {
		c.ProbeInterval = DefaultProbeInterval
	}
	if c.AcceptablePause == 0 {
		c.AcceptablePause = DefaultAcceptablePause
	}
	if c.SuspectInterval == 0 {
		c.SuspectInterval = min(DefaultSuspectInterval, c.ProbeInterval)
	}
	if c.Threshold == 0 {
		c.Threshold = DefaultThreshold
	}
	if c.MinStdDev == 0 {
		c.MinStdDev = DefaultMinStdDev
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.Misses == 0 {
		c.Misses = DefaultMisses
	}
	return c
}

// Validate reports every problem with c, each wrapping [ErrInvalidConfig]
// (joined with [errors.Join] when there are several). It checks the values
// that would be used, that is c.WithDefaults(): a zero field is valid because
// it means the default, so Threshold <= 0 and Misses < 1 can only come from
// negative values.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	bad := func(problem string) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalidConfig, problem))
	}
	if c.Kind > KindConsecutiveMiss {
		bad(fmt.Sprintf("unknown Kind %d", uint8(c.Kind)))
	}
	if c.ProbeInterval < 0 {
		bad(fmt.Sprintf("ProbeInterval %v is negative", c.ProbeInterval))
	}
	if c.SuspectInterval < 0 || c.SuspectInterval > c.ProbeInterval {
		bad(fmt.Sprintf("SuspectInterval %v is outside [0, ProbeInterval %v]", c.SuspectInterval, c.ProbeInterval))
	}
	if c.AcceptablePause < 0 {
		bad(fmt.Sprintf("AcceptablePause %v is negative", c.AcceptablePause))
	}
	if c.MinStdDev < 0 {
		bad(fmt.Sprintf("MinStdDev %v is negative", c.MinStdDev))
	}
	if math.IsNaN(c.Threshold) || math.IsInf(c.Threshold, 0) || c.Threshold <= 0 {
		bad(fmt.Sprintf("Threshold %v is not a positive finite number", c.Threshold))
	}
	if c.Window < 1 || c.Window > MaxWindow {
		bad(fmt.Sprintf("Window %d is outside [1, %d]", c.Window, MaxWindow))
	}
	if c.Misses < 1 {
		bad(fmt.Sprintf("Misses %d is below 1", c.Misses))
	}
	return errors.Join(errs...)
}

// New returns the detector that c.Kind selects, configured by
// c.WithDefaults(). It returns an error wrapping [ErrInvalidConfig] if the
// configuration is invalid.
func New(c Config) (Detector, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Kind == KindConsecutiveMiss {
		return newConsecutiveMiss(c), nil
	}
	return newPhiAccrual(c), nil
}

// Detector decides from probe outcomes whether a server has failed.
//
// A Detector is a plain value: it never reads a clock (time is always an
// argument), never starts goroutines and never allocates after construction.
// It is not safe for concurrent use; one owner calls it.
type Detector interface {
	// Observe records a probe outcome at now: ok is true when the server
	// answered healthy in time.
	Observe(now time.Time, ok bool)
	// Failed reports whether the server is considered failed at now.
	Failed(now time.Time) bool
	// Reset forgets all history, as for a server that just joined or was
	// re-enabled; the next Observe starts afresh.
	Reset()
}

var (
	_ Detector = (*PhiAccrual)(nil)
	_ Detector = (*ConsecutiveMiss)(nil)
)

// anchor states shared by both detectors.
const (
	stateEmpty    uint8 = iota // nothing observed since construction or Reset
	stateNoAnswer              // observed, but never a success: last is the first observation
	stateAnswered              // last is the time of the latest success
)

// elapsed returns now - last, treating time that went backwards as no time
// passed.
func elapsed(now, last time.Time) time.Duration {
	if d := now.Sub(last); d > 0 {
		return d
	}
	return 0
}
