package simulator

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/failover/detector"
	"github.com/nvrha/nvrha/simulator/history"
)

// ErrInvalidConfig is wrapped by every error about a Config New cannot run.
var ErrInvalidConfig = errors.New("simulator: invalid config")

// Defaults of Config.
const (
	DefaultDuration      = time.Hour
	DefaultTickInterval  = 50 * time.Millisecond
	DefaultStreamStart   = time.Second
	DefaultLatency       = history.DefaultLatency
	DefaultJitter        = history.DefaultJitter
	DefaultTraceTail     = 20
	DefaultMaxGapSamples = 20000
	// DefaultLease is the leader's lease where several centers stand by
	// for each other: package etcdha's DefaultLeaseTTL.
	DefaultLease = 5 * time.Second
	// DefaultRecordingChannels, DefaultCameras and DefaultStandbyChannels
	// shape the servers of UniformWorld when a count is zero.
	DefaultRecordingChannels = history.DefaultRecordingChannels
	DefaultCameras           = history.DefaultCameras
	DefaultStandbyChannels   = history.DefaultStandbyChannels
)

// Start is the virtual instant every world begins at. Simulated time is
// reported as an offset from it.
var Start = history.Start

// Config describes one simulation run. The zero value is valid: the default
// world (one group of 14 recording and 2 standby servers, 16 cameras each) on
// a quiet LAN for an hour, seed 0, with no faults. Zero fields take the
// documented defaults.
type Config struct {
	// Seed selects the run: the same Config and Seed give the same trace,
	// byte for byte.
	Seed uint64
	// Duration is how much simulated time to run (default one hour).
	Duration time.Duration
	// World is the shape of the world: groups, servers, cameras. A zero
	// World is DefaultWorld(); RandomWorld draws one from the seed instead.
	World       WorldSpec
	RandomWorld bool
	// Net is the network between the center and every server.
	Net NetConfig
	// Center configures the center and the Machine it runs.
	Center CenterConfig
	// Centers is how many centers stand by for each other (default 1, at
	// most history.MaxCenters). With two or more they share a lease store
	// on virtual time, as package etcdha's Nodes share etcd: one is elected
	// and leads, the others follow and take over when its lease expires
	// (multicenter.go). One center runs no election and its orders carry
	// term 0.
	Centers int
	// Servers configures the simulated servers.
	Servers ServerConfig
	// Nemesis draws faults at random from the seed. It is off unless
	// Nemesis.Enabled is set.
	Nemesis NemesisConfig
	// Scenario is a script of faults, admin operations and expectations to
	// run in the world, as parsed by ParseScenario. Its header (world shape,
	// network, duration) has already been applied by Scenario.Apply when
	// the Config was built from it; New does not apply it again.
	Scenario *Scenario
	// ScenarioPath is the file Scenario came from, for the replay command.
	ScenarioPath string
	// Baseline drives the world with BaselineFailover()'s detector and
	// assignment instead of Center.Failover's: Milestone XProtect's
	// published poll/timeout detection and a naive first-fit standby
	// choice. Everything else (the failback policy included) stays the same.
	Baseline bool
	// Oracle drives the world with a center that knows the truth: the
	// floor no detector can beat (see OracleFailover). The center's probes
	// never cross the simulated network: each is answered at once from the
	// server's ground truth, a partition notwithstanding, and the Machine
	// declares a server down one acceptable pause after it last answered
	// healthy, that is one acceptable pause after it really stopped (to
	// within one tick). Orders and inventories still go over the network.
	// Everything else is nvrha's (Center.Failover). Oracle and Baseline
	// do not go together.
	Oracle bool
	// Trace, when set, receives the canonical line of every event.
	Trace io.Writer
	// TraceTail is how many of the last events a Violation quotes (default 20).
	TraceTail int
	// MaxGapSamples caps the gap samples kept in the Report (default
	// 20000); the statistics always use every sample.
	MaxGapSamples int
	// Tolerate lists known issues (KnownIssues) to record in the Report
	// instead of stopping the run with a violation.
	Tolerate []string
	// pauseScale is the acceptable pause the nemesis sizes pauses by (set
	// by withDefaults).
	pauseScale time.Duration
	// FaultsFlag is the -faults value that reproduces Nemesis on the command
	// line; it only shapes the replay command. Empty means it is derived
	// from Nemesis.
	FaultsFlag string
}

// NetConfig is the network between the center and each server (see
// history.NetConfig).
type NetConfig = history.NetConfig

// QuietLAN returns the default network: 1 ms latency, 0-2 ms jitter, no
// loss.
func QuietLAN() NetConfig { return history.QuietLAN() }

// NoisyLAN returns the standard noisy network of the performance work: 1 ms
// latency, 0-100 ms jitter, 1% loss, 0.1% duplication.
func NoisyLAN() NetConfig { return history.NoisyLAN() }

// CenterConfig configures the center.
type CenterConfig struct {
	// TickInterval is how often the center ticks its Machine (default 50 ms).
	TickInterval time.Duration
	// Failover configures the Machine; its zero value is the library's
	// defaults.
	Failover failover.Config
	// WrapMachine, when set, wraps every Machine the center creates or
	// restores, for tests that deliberately break it.
	WrapMachine func(*failover.Machine) Machine
	// JSONStore makes the center's store round-trip every State through
	// JSON (failover.MemoryStore) instead of a deep copy: slower, but it
	// proves that what is persisted survives encoding.
	JSONStore bool
	// Lease is the leader's lease where several centers stand by for each
	// other (default DefaultLease): the leader renews it every fifth of it
	// and stops ordering once a fifth of it is all that may be left.
	Lease time.Duration
}

// ServerConfig configures the simulated servers.
type ServerConfig struct {
	// StreamStart is how long after a takeover or resume order is accepted
	// (or a server restarts) before a camera's footage starts (default 1 s).
	StreamStart time.Duration
	// AckWhenRecording makes a server answer a takeover or resume order
	// only once the footage flows, instead of as soon as it accepts it.
	AckWhenRecording bool
}

// BaselineFailover returns the failover configuration of the baseline the
// performance work compares with: a fixed poll/timeout detector with
// Milestone XProtect's published timings (a poll every 0.5 s, a server down
// after 5 s, that is 10 consecutive missed polls and 5 s of silence), and
// a naive first-fit standby choice: each failed server, in group order,
// gets the first free standby in group order that fits.
func BaselineFailover() failover.Config {
	return failover.Config{
		Detector: detector.Config{
			Kind:            detector.KindConsecutiveMiss,
			ProbeInterval:   500 * time.Millisecond,
			Misses:          10,
			AcceptablePause: 5 * time.Second,
		},
		Assignment: failover.AssignFirstFit,
		// A standby keeps a recovered server until its failback is due,
		// and one that failed a takeover is tried again as soon as it is
		// up: a product that does not weigh where standbys save footage.
		Failback:                failover.FailbackPolicy{NoReclaim: true},
		FailedStandbyBackoff:    time.Nanosecond,
		FailedStandbyMaxBackoff: time.Nanosecond,
	}
}

// OracleFailover returns fc with the oracle's detector: a consecutive-miss
// detector probing at every tick that declares a server down at the first
// miss once pause has passed since its last healthy answer. With probes
// answered from the ground truth (Config.Oracle), that is exactly one
// acceptable pause after the server stopped, the earliest a detector that
// rides out an acceptable pause can act.
func OracleFailover(fc failover.Config, tick, pause time.Duration) failover.Config {
	fc.Detector = detector.Config{
		Kind:            detector.KindConsecutiveMiss,
		ProbeInterval:   tick,
		Misses:          1,
		AcceptablePause: pause,
	}
	return fc
}

// The shape of a world (see package history).
type (
	WorldSpec  = history.WorldSpec
	GroupSpec  = history.GroupSpec
	ServerSpec = history.ServerSpec
)

// UniformWorld returns groups groups of recording recording servers and
// standbys standby servers each, every recording server with cameras
// cameras and recChannels license channels, every standby with sbChannels.
// Zero sizes take the defaults (16 cameras, 16 and 32 channels). Servers are
// numbered across the world: rec-1, rec-2, ... and sb-1, sb-2, ...
func UniformWorld(groups, recording, standbys, cameras, recChannels, sbChannels int) WorldSpec {
	return history.UniformWorld(groups, recording, standbys, cameras, recChannels, sbChannels)
}

// DefaultWorld is the realistic group of the one-hour run: one group of 14
// recording servers with 16 cameras and 16 license channels each, and 2
// standbys with 32 channels.
func DefaultWorld() WorldSpec { return UniformWorld(1, 14, 2, 0, 0, 0) }

func recID(i int) nvrha.ServerID { return history.RecordingID(i) }
func sbID(i int) nvrha.ServerID  { return history.StandbyID(i) }

func groupName(i int) string { return history.GroupName(i) }
func groupRef(i int) string  { return history.GroupRef(i) }

// randomWorld draws a small world: 1-3 groups, 1-6 recording servers and
// 1-3 standbys per group, mixed sizes.
func randomWorld(r *rng) WorldSpec {
	var w WorldSpec
	groups := 1 + r.intn(3)
	rc, sc := 0, 0
	for range groups {
		var g GroupSpec
		top := 0
		for range 1 + r.intn(6) {
			rc++
			cams := []int{4, 8, 16, 16, 32}[r.intn(5)]
			ch := cams + []int{0, 0, 8}[r.intn(3)]
			top = max(top, ch)
			g.Recording = append(g.Recording, ServerSpec{ID: recID(rc), Channels: ch, Cameras: cams})
		}
		for range 1 + r.intn(3) {
			sc++
			ch := top + []int{0, 0, 16, 32}[r.intn(4)]
			g.Standby = append(g.Standby, ServerSpec{ID: sbID(sc), Channels: ch})
		}
		w.Groups = append(w.Groups, g)
	}
	return w
}

// withDefaults returns c with defaults applied and the world drawn, and the
// failover configuration the center runs.
func (c Config) withDefaults(r *rng) Config {
	if c.Duration <= 0 {
		c.Duration = DefaultDuration
	}
	if c.RandomWorld {
		c.World = randomWorld(r)
	} else if len(c.World.Groups) == 0 {
		c.World = DefaultWorld()
	}
	c.Net = c.Net.WithDefaults()
	if c.Center.TickInterval <= 0 {
		c.Center.TickInterval = DefaultTickInterval
	}
	if c.Centers == 0 {
		c.Centers = 1
	}
	if c.Center.Lease == 0 {
		c.Center.Lease = DefaultLease
	}
	// The nemesis sizes pauses by nvrha's acceptable pause, before the
	// baseline replaces the detector: both sides must face the same world.
	c.pauseScale = c.Center.Failover.Detector.WithDefaults().AcceptablePause
	if c.Baseline {
		// The baseline's detector, standby choice and naive use of
		// standbys; the failback policy, platform and everything else stay
		// the caller's.
		b := BaselineFailover()
		c.Center.Failover.Detector, c.Center.Failover.Assignment = b.Detector, b.Assignment
		c.Center.Failover.Failback.NoReclaim = b.Failback.NoReclaim
		c.Center.Failover.FailedStandbyBackoff, c.Center.Failover.FailedStandbyMaxBackoff = b.FailedStandbyBackoff, b.FailedStandbyMaxBackoff
	}
	if c.Oracle {
		c.Center.Failover = OracleFailover(c.Center.Failover, c.Center.TickInterval, c.pauseScale)
	}
	c.Center.Failover = c.Center.Failover.WithDefaults()
	if c.Servers.StreamStart <= 0 {
		c.Servers.StreamStart = DefaultStreamStart
	}
	if c.TraceTail <= 0 {
		c.TraceTail = DefaultTraceTail
	}
	if c.MaxGapSamples <= 0 {
		c.MaxGapSamples = DefaultMaxGapSamples
	}
	c.Nemesis = c.Nemesis.withDefaults(c.Duration)
	return c
}

func (c Config) validate() error {
	if c.Oracle && c.Baseline {
		return fmt.Errorf("%w: Oracle and Baseline are two different centers; set one", ErrInvalidConfig)
	}
	if err := c.World.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if err := c.Center.Failover.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	n := c.Net
	switch {
	case n.Latency < 0 || n.Jitter < 0:
		return fmt.Errorf("%w: negative latency or jitter", ErrInvalidConfig)
	case n.Loss < 0 || n.Loss >= 1 || n.Duplicate < 0 || n.Duplicate >= 1:
		return fmt.Errorf("%w: loss and duplication must be in [0, 1)", ErrInvalidConfig)
	case c.Duration > 1000*time.Hour:
		return fmt.Errorf("%w: duration %v too long", ErrInvalidConfig, c.Duration)
	case c.Centers < 1 || c.Centers > history.MaxCenters:
		return fmt.Errorf("%w: %d centers (want 1 to %d)", ErrInvalidConfig, c.Centers, history.MaxCenters)
	case c.Center.Lease < 5*c.Center.TickInterval || c.Center.Lease > time.Hour:
		return fmt.Errorf("%w: lease %v (want at least 5 ticks of %v, at most an hour)", ErrInvalidConfig, c.Center.Lease, c.Center.TickInterval)
	}
	if err := c.validateCenterActions(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return c.Nemesis.validate()
}

// ReplayCommand returns the one-line command that replays c with nvrsim.
// Settings the command line cannot express (a wrapped Machine, a custom
// world or network) are named in a trailing comment.
func (c Config) ReplayCommand() string {
	var b strings.Builder
	var custom []string
	b.WriteString("go run ./simulator/cmd/nvrsim -seed ")
	b.WriteString(strconv.FormatUint(c.Seed, 10))
	d := c.Duration
	if d <= 0 {
		d = DefaultDuration
	}
	b.WriteString(" -duration " + d.String())
	switch {
	case c.ScenarioPath != "":
		b.WriteString(" -scenario " + c.ScenarioPath)
	case c.Scenario != nil:
		b.WriteString(" -scenario FILE")
	case c.RandomWorld:
		b.WriteString(" -random-world")
	default:
		if shape, ok := uniformShape(c.World); ok {
			fmt.Fprintf(&b, " -groups %d -servers %d -standbys %d -cameras %d", shape[0], shape[1], shape[2], shape[3])
		} else {
			custom = append(custom, "world")
		}
	}
	f := c.FaultsFlag
	if f == "" {
		f = c.Nemesis.flag()
	}
	b.WriteString(" -faults " + f)
	if c.Nemesis.Enabled && c.Nemesis.Rate != 0 && c.Nemesis.Rate != 1 {
		b.WriteString(" -rate " + strconv.FormatFloat(c.Nemesis.Rate, 'g', -1, 64))
	}
	if q := c.Nemesis.QuietTail; q != 0 && q != min(d/5, 15*time.Minute) {
		b.WriteString(" -quiet-tail " + q.String())
	}
	fb := c.Center.Failover.Failback
	for _, x := range []struct {
		flag    string
		v, dflt time.Duration
	}{
		{"hold-down", fb.HoldDown, failover.DefaultHoldDown},
		{"max-hold-down", fb.MaxHoldDown, failover.DefaultMaxHoldDown},
		{"flap-window", fb.FlapWindow, failover.DefaultFlapWindow},
	} {
		if x.v != 0 && x.v != x.dflt && c.Scenario == nil {
			b.WriteString(" -" + x.flag + " " + x.v.String())
		}
	}
	det := c.Center.Failover.Detector
	if c.Baseline && c.pauseScale != 0 {
		// Defaults applied: the baseline's detector replaced the caller's,
		// of which only the acceptable pause still shapes the world (the
		// nemesis sizes pauses by it), and -baseline sets the rest.
		det = detector.Config{AcceptablePause: c.pauseScale}
	}
	if det.ProbeInterval != 0 && det.ProbeInterval != detector.DefaultProbeInterval && !c.Oracle {
		b.WriteString(" -probe-interval " + det.ProbeInterval.String())
	}
	if det.AcceptablePause != 0 && det.AcceptablePause != detector.DefaultAcceptablePause {
		b.WriteString(" -acceptable-pause " + det.AcceptablePause.String())
	}
	if det.Threshold != 0 && det.Threshold != detector.DefaultThreshold && !c.Oracle {
		b.WriteString(" -threshold " + strconv.FormatFloat(det.Threshold, 'g', -1, 64))
	}
	if c.Baseline {
		b.WriteString(" -baseline")
	}
	if c.Oracle {
		b.WriteString(" -oracle")
	}
	if c.Centers > 1 && (c.Scenario == nil || c.Scenario.Centers != c.Centers) {
		b.WriteString(" -centers " + strconv.Itoa(c.Centers))
	}
	if l := c.Center.Lease; l != 0 && l != DefaultLease && (c.Scenario == nil || c.Scenario.Lease != l) {
		b.WriteString(" -lease " + l.String())
	}
	switch c.Net.WithDefaults() {
	case QuietLAN():
	case NoisyLAN():
		b.WriteString(" -net noisy")
	default:
		if c.Scenario == nil || c.Scenario.Net == nil {
			custom = append(custom, "network")
		}
	}
	if len(c.Tolerate) > 0 {
		b.WriteString(" -tolerate " + strings.Join(c.Tolerate, ","))
	}
	if c.Center.WrapMachine != nil {
		custom = append(custom, "a wrapped Machine (CenterConfig.WrapMachine)")
	}
	if c.Center.JSONStore {
		custom = append(custom, "the JSON store")
	}
	if len(custom) > 0 {
		b.WriteString("  # plus the caller's " + strings.Join(custom, ", "))
	}
	return b.String()
}

// uniformShape recognises a world UniformWorld made with default channels:
// groups, recording, standbys, cameras.
func uniformShape(w WorldSpec) ([4]int, bool) {
	if len(w.Groups) == 0 {
		return [4]int{1, 14, 2, DefaultCameras}, true
	}
	g := w.Groups[0]
	if len(g.Recording) == 0 {
		return [4]int{}, false
	}
	cams := g.Recording[0].Cameras
	u := UniformWorld(len(w.Groups), len(g.Recording), len(g.Standby), cams, 0, 0)
	if !sameWorld(u, w) {
		return [4]int{}, false
	}
	return [4]int{len(w.Groups), len(g.Recording), len(g.Standby), cams}, true
}

func sameWorld(a, b WorldSpec) bool {
	as, bs := a.Servers(), b.Servers()
	if len(as) != len(bs) || len(a.Groups) != len(b.Groups) {
		return false
	}
	for i := range as {
		if as[i] != bs[i] {
			return false
		}
	}
	for i := range a.Groups {
		if len(a.Groups[i].Recording) != len(b.Groups[i].Recording) {
			return false
		}
	}
	return true
}
