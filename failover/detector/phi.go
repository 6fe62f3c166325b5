package detector

import (
	"math"
	"math/bits"
	"time"
)

// Coefficients of the logistic approximation of the standard normal
// distribution used by Akka's phi accrual detector:
// P(X > y) ~= 1 / (1 + exp(y*(logisticA + logisticB*y*y))).
const (
	logisticA = 1.5976
	logisticB = 0.070566
)

// PhiAccrual is the phi accrual failure detector of Hayashibara et al., in the
// formulation Akka uses. The package documentation defines phi exactly.
//
// Build one with [NewPhiAccrual] or [New]; the zero value is not usable. A
// PhiAccrual is not safe for concurrent use.
type PhiAccrual struct {
	// ring holds the accepted inter-arrival times in microseconds. Its length
	// is the window; the n samples start at head.
	ring []uint32
	head int
	n    int
	// sum and sumSq (as the 128-bit hi:lo) are the exact sums of the samples
	// and of their squares, so the statistics never drift however long the
	// detector runs.
	sum          uint64
	sumSqHi      uint64
	sumSqLo      uint64
	shiftedMean  float64 // sample mean + AcceptablePause, in nanoseconds
	floorStdDev  float64 // max(sample standard deviation, MinStdDev), in nanoseconds
	threshold    float64
	pause        time.Duration
	probeEvery   time.Duration
	minStdDev    float64
	last         time.Time // latest success; the first observation until there is one
	lastObserved time.Time // latest observation time seen (never moves backwards)
	state        uint8
}

// NewPhiAccrual returns a phi accrual detector configured by c.WithDefaults().
// c.Kind is validated but otherwise ignored. It returns an error wrapping
// [ErrInvalidConfig] if the configuration is invalid.
func NewPhiAccrual(c Config) (*PhiAccrual, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return newPhiAccrual(c), nil
}

func newPhiAccrual(c Config) *PhiAccrual {
	d := &PhiAccrual{
		ring:       make([]uint32, c.Window),
		threshold:  c.Threshold,
		pause:      c.AcceptablePause,
		probeEvery: c.ProbeInterval,
		minStdDev:  float64(c.MinStdDev),
	}
	d.Reset()
	return d
}

// Reset forgets all history: the next Observe starts afresh, as for a new
// detector. It does not allocate.
func (d *PhiAccrual) Reset() {
	d.head, d.n = 0, 0
	d.sum, d.sumSqHi, d.sumSqLo = 0, 0, 0
	d.last, d.lastObserved = time.Time{}, time.Time{}
	d.state = stateEmpty
	d.updateStats()
}

// Observe records a probe outcome at now. A success restarts the silence and,
// unless it ends a silence the detector already judged a failure, adds the
// time since the previous success to the window. A miss only lets time pass.
// An observation earlier than a previous one is taken as happening at the
// latest observation time.
func (d *PhiAccrual) Observe(now time.Time, ok bool) {
	if d.state == stateEmpty {
		d.last, d.lastObserved = now, now
		d.state = stateNoAnswer
		if ok {
			d.state = stateAnswered
		}
		return
	}
	if now.Before(d.lastObserved) {
		now = d.lastObserved
	}
	d.lastObserved = now
	if !ok {
		return
	}
	if d.state == stateNoAnswer {
		// The first success: there is no previous heartbeat to measure from.
		d.state = stateAnswered
		d.last = now
		return
	}
	if t := now.Sub(d.last); t > 0 && !d.failedAfter(t) {
		d.push(sample(t))
	}
	d.last = now
}

// Failed reports whether the server is considered failed at now: it has been
// observed, more than AcceptablePause has passed since its last success (or
// since the first observation if it never answered), and phi is at or above
// the threshold.
func (d *PhiAccrual) Failed(now time.Time) bool {
	if d.state == stateEmpty || now.Sub(d.last) <= d.pause {
		// Within the acceptable pause, which failedAfter refuses first:
		// answered without phi's arithmetic, since a center asks every
		// detector at every tick and nearly always that early.
		return false
	}
	return d.failedAfter(elapsed(now, d.last))
}

// CalmUntil returns a time up to which Failed is false, until the next
// Observe or Reset: the latest success (or first observation) plus the
// acceptable pause. ok is false before the first observation, when Failed
// is false whatever the time. A caller that asks Failed of many detectors
// at every tick can skip those that are calm.
func (d *PhiAccrual) CalmUntil() (t time.Time, ok bool) {
	if d.state == stateEmpty {
		return time.Time{}, false
	}
	return d.last.Add(d.pause), true
}

// Phi returns the suspicion level at now, without the AcceptablePause floor
// that [PhiAccrual.Failed] adds. It is 0 before the first observation, and is
// never negative, infinite or NaN.
func (d *PhiAccrual) Phi(now time.Time) float64 {
	if d.state == stateEmpty {
		return 0
	}
	return d.phiAfter(elapsed(now, d.last))
}

func (d *PhiAccrual) failedAfter(t time.Duration) bool {
	return t > d.pause && d.phiAfter(t) >= d.threshold
}

func (d *PhiAccrual) phiAfter(t time.Duration) float64 {
	return phiOf((float64(t) - d.shiftedMean) / d.floorStdDev)
}

// phiOf returns -log10(P(X > y)) under the logistic approximation, that is
// log10(1 + exp(z)) with z = y*(a + b*y*y), computed without overflow or
// cancellation.
func phiOf(y float64) float64 {
	z := y * (logisticA + logisticB*y*y)
	if z > 0 {
		return (z + math.Log1p(math.Exp(-z))) / math.Ln10
	}
	return math.Log1p(math.Exp(z)) / math.Ln10
}

// maxSample is the largest inter-arrival sample, in microseconds (about 71
// minutes). Longer gaps are recorded as maxSample.
const maxSample = math.MaxUint32

// sample converts an inter-arrival time to whole microseconds, truncating
// and capping at maxSample.
func sample(t time.Duration) uint32 {
	us := t / time.Microsecond
	if us > maxSample {
		return maxSample
	}
	return uint32(us)
}

// push adds x to the window, evicting the oldest sample when it is full.
func (d *PhiAccrual) push(x uint32) {
	if d.n == len(d.ring) {
		old := uint64(d.ring[d.head])
		d.sum -= old
		var borrow uint64
		d.sumSqLo, borrow = bits.Sub64(d.sumSqLo, old*old, 0)
		d.sumSqHi -= borrow
		d.ring[d.head] = x
		d.head++
		if d.head == len(d.ring) {
			d.head = 0
		}
	} else {
		i := d.head + d.n
		if i >= len(d.ring) {
			i -= len(d.ring)
		}
		d.ring[i] = x
		d.n++
	}
	v := uint64(x)
	d.sum += v
	var carry uint64
	d.sumSqLo, carry = bits.Add64(d.sumSqLo, v*v, 0)
	d.sumSqHi += carry
	d.updateStats()
}

// updateStats recomputes the cached mean and standard deviation from the
// exact sums. With no sample yet the expected inter-arrival time is the probe
// interval with no spread.
func (d *PhiAccrual) updateStats() {
	mean, std := float64(d.probeEvery), 0.0
	if d.n > 0 {
		n := uint64(d.n)
		mean = float64(d.sum) / float64(n) * float64(time.Microsecond)
		// n*sumSq - sum*sum = n^2 * variance, exactly, in 128 bits. It fits:
		// sumSq < 1000 * 2^64 and sum < 1000 * 2^32.
		hi, lo := bits.Mul64(d.sumSqLo, n)
		hi += d.sumSqHi * n
		sHi, sLo := bits.Mul64(d.sum, d.sum)
		lo, borrow := bits.Sub64(lo, sLo, 0)
		hi, _ = bits.Sub64(hi, sHi, borrow)
		variance := (float64(hi)*0x1p64 + float64(lo)) / float64(n) / float64(n)
		std = math.Sqrt(variance) * float64(time.Microsecond)
	}
	d.shiftedMean = mean + float64(d.pause)
	d.floorStdDev = math.Max(std, d.minStdDev)
}
