package detector_test

import (
	"math"
	"testing"
	"time"

	"github.com/nvrha/nvrha/failover/detector"
	"pgregory.net/rapid"
)

// refPhi is a naive phi accrual detector: it keeps its samples in a plain
// slice and recomputes the mean and standard deviation from it, in two
// passes, every time it needs them. It follows the definition in doc.go
// literally and shares no code with PhiAccrual.
type refPhi struct {
	c        detector.Config
	samples  []float64 // microseconds
	observed bool
	answered bool
	last     time.Time
	lastObs  time.Time
}

func newRefPhi(c detector.Config) *refPhi { return &refPhi{c: c.WithDefaults()} }

func (r *refPhi) meanStd() (mean, std float64) {
	if len(r.samples) == 0 {
		return float64(r.c.ProbeInterval), float64(r.c.MinStdDev)
	}
	var s float64
	for _, x := range r.samples {
		s += x
	}
	m := s / float64(len(r.samples))
	var v float64
	for _, x := range r.samples {
		v += (x - m) * (x - m)
	}
	v /= float64(len(r.samples))
	return m * 1e3, math.Max(math.Sqrt(v)*1e3, float64(r.c.MinStdDev))
}

func (r *refPhi) elapsed(now time.Time) time.Duration {
	t := now.Sub(r.last)
	if t < 0 {
		t = 0
	}
	return t
}

func (r *refPhi) phi(now time.Time) float64 {
	if !r.observed {
		return 0
	}
	mean, std := r.meanStd()
	y := (float64(r.elapsed(now)) - (mean + float64(r.c.AcceptablePause))) / std
	return refPhiOf(y)
}

func (r *refPhi) failed(now time.Time) bool {
	return r.observed && r.elapsed(now) > r.c.AcceptablePause && r.phi(now) >= r.c.Threshold
}

// observe applies one probe outcome. accept decides whether a success's
// interval enters the window; it gets the (clamped) success time and the
// reference's own decision (the interval is refused when the silence it ends
// was already a failure).
func (r *refPhi) observe(now time.Time, ok bool, accept func(at time.Time, refDecision bool) bool) {
	if !r.observed {
		r.observed, r.answered, r.last, r.lastObs = true, ok, now, now
		return
	}
	if now.Before(r.lastObs) {
		now = r.lastObs
	}
	r.lastObs = now
	if !ok {
		return
	}
	if !r.answered {
		r.answered, r.last = true, now
		return
	}
	if t := now.Sub(r.last); t > 0 && accept(now, !r.failed(now)) {
		us := float64(t / time.Microsecond)
		us = math.Min(us, math.MaxUint32)
		r.samples = append(r.samples, us)
		if len(r.samples) > r.c.Window {
			r.samples = r.samples[1:]
		}
	}
	r.last = now
}

// refPhiOf is -log10 of the logistic approximation of P(X > y).
func refPhiOf(y float64) float64 {
	z := y * (1.5976 + 0.070566*y*y)
	// log10(1 + e^z), written so that neither branch overflows or cancels.
	if z > 0 {
		return z/math.Ln10 + math.Log10(1+math.Exp(-z))
	}
	return math.Log1p(math.Exp(z)) / math.Ln10
}

// yFor returns the y at which refPhiOf reaches phi, by bisection.
func yFor(phi float64) float64 {
	lo, hi := -100.0, 100.0
	for range 200 {
		mid := (lo + hi) / 2
		if refPhiOf(mid) >= phi {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

func closeRel(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))+1e-300
}

func TestPhiMatchesNaiveReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := genConfig(t)
		c.Kind = detector.KindPhiAccrual
		d, err := detector.NewPhiAccrual(c)
		if err != nil {
			t.Fatal(err)
		}
		ref := newRefPhi(c)
		c = c.WithDefaults()
		now := epoch
		loss := rapid.Float64Range(0, 1).Draw(t, "loss")
		steps := rapid.IntRange(1, 400).Draw(t, "steps")
		for i := range steps {
			now = now.Add(genStep(t, c))
			ok := rapid.Float64Range(0, 1).Draw(t, "p") >= loss
			ref.observe(now, ok, func(at time.Time, refAccept bool) bool {
				// d has not seen this observation yet: its Failed at the
				// success time is the decision it is about to take.
				realAccept := !d.Failed(at)
				if refAccept != realAccept {
					// Only a tie at the threshold may decide differently.
					if p := ref.phi(now); !closeRel(p, c.Threshold) {
						t.Fatalf("step %d: reference accepts=%v, detector accepts=%v (ref phi %v, threshold %v)",
							i, refAccept, realAccept, p, c.Threshold)
					}
				}
				return realAccept
			})
			d.Observe(now, ok)
			for _, q := range []time.Time{
				now,
				now.Add(c.AcceptablePause),
				now.Add(time.Duration(rapid.Int64Range(-int64(c.ProbeInterval), 4*int64(c.AcceptablePause)).Draw(t, "query"))),
			} {
				got, want := d.Phi(q), ref.phi(q)
				if !closeRel(got, want) {
					t.Fatalf("step %d: Phi(%v) = %v, reference %v", i, q.Sub(epoch), got, want)
				}
				if gf, rf := d.Failed(q), ref.failed(q); gf != rf && !closeRel(want, c.Threshold) {
					t.Fatalf("step %d: Failed(%v) = %v, reference %v", i, q.Sub(epoch), gf, rf)
				}
			}
		}
	})
}

// TestPhiMatchesAkkaFormula checks phi against the expression in Akka's
// PhiAccrualFailureDetector, where that expression is numerically sound.
func TestPhiMatchesAkkaFormula(t *testing.T) {
	akka := func(timeDiff, mean, std float64) float64 {
		y := (timeDiff - mean) / std
		e := math.Exp(-y * (1.5976 + 0.070566*y*y))
		if timeDiff > mean {
			return -math.Log10(e / (1.0 + e))
		}
		return -math.Log10(1.0 - 1.0/(1.0+e))
	}
	c := detector.DefaultConfig()
	d, err := detector.NewPhiAccrual(c)
	if err != nil {
		t.Fatal(err)
	}
	// Two successes 300ms apart: mean 300ms, no spread, so std = MinStdDev.
	d.Observe(epoch, true)
	last := epoch.Add(300 * time.Millisecond)
	d.Observe(last, true)
	mean := float64(300*time.Millisecond + c.AcceptablePause)
	std := float64(c.MinStdDev)
	for ms := 1000; ms <= 1700; ms += 7 {
		tdiff := time.Duration(ms) * time.Millisecond
		got, want := d.Phi(last.Add(tdiff)), akka(float64(tdiff), mean, std)
		if math.Abs(got-want) > 1e-9*math.Max(1, want) {
			t.Errorf("phi after %v = %v, Akka's formula gives %v", tdiff, got, want)
		}
	}
}
