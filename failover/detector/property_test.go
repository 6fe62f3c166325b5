package detector_test

import (
	"math"
	"testing"
	"time"

	"github.com/nvrha/nvrha/failover/detector"
	"pgregory.net/rapid"
)

// epoch is the virtual time the tests start at.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// genConfig draws a valid configuration, from tight to loose.
func genConfig(t *rapid.T) detector.Config {
	return detector.Config{
		Kind:            rapid.SampledFrom([]detector.Kind{detector.KindPhiAccrual, detector.KindConsecutiveMiss}).Draw(t, "kind"),
		ProbeInterval:   time.Duration(rapid.Int64Range(int64(time.Millisecond), int64(2*time.Second)).Draw(t, "probeInterval")),
		AcceptablePause: time.Duration(rapid.Int64Range(int64(time.Millisecond), int64(5*time.Second)).Draw(t, "acceptablePause")),
		Threshold:       rapid.Float64Range(0.01, 20).Draw(t, "threshold"),
		MinStdDev:       time.Duration(rapid.Int64Range(1, int64(500*time.Millisecond)).Draw(t, "minStdDev")),
		Window:          rapid.IntRange(1, detector.MaxWindow).Draw(t, "window"),
		Misses:          rapid.IntRange(1, 10).Draw(t, "misses"),
	}
}

// genDetector draws a configuration and builds its detector; the
// configuration is returned with its defaults applied.
func genDetector(t *rapid.T) (detector.Detector, detector.Config) {
	c := genConfig(t)
	d, err := detector.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return d, c.WithDefaults()
}

// genStep draws the time from one probe to the next: mostly the probe
// interval with jitter, sometimes a long silence, sometimes a clock that went
// backwards. c must have its defaults applied.
func genStep(t *rapid.T, c detector.Config) time.Duration {
	pi := int64(c.ProbeInterval)
	switch rapid.IntRange(0, 9).Draw(t, "shape") {
	case 0:
		return -time.Duration(rapid.Int64Range(0, pi).Draw(t, "back"))
	case 1:
		return time.Duration(rapid.Int64Range(0, 4*int64(c.AcceptablePause)).Draw(t, "silence"))
	default:
		return time.Duration(pi + rapid.Int64Range(-pi/2, pi/2).Draw(t, "jitter"))
	}
}

// TestHardFloorProperty: for random configurations and random probe
// histories with pauses, losses and clocks going backwards, Failed(now) is
// never true while now - lastSuccess <= AcceptablePause (lastSuccess being the
// first observation until the server answers), and phi is always a finite,
// non-negative number.
func TestHardFloorProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d, c := genDetector(t)
		phi, _ := d.(*detector.PhiAccrual)
		loss := rapid.Float64Range(0, 1).Draw(t, "loss")
		now := epoch.Add(time.Duration(rapid.Int64Range(-int64(time.Hour), int64(time.Hour)).Draw(t, "start")))
		var lastSuccess time.Time
		observed := false
		check := func(q time.Time, what string) {
			if q.Sub(lastSuccess) <= c.AcceptablePause && d.Failed(q) {
				t.Fatalf("%v: failed %v after the last success, AcceptablePause is %v", what, q.Sub(lastSuccess), c.AcceptablePause)
			}
			if phi != nil {
				if p := phi.Phi(q); math.IsNaN(p) || math.IsInf(p, 0) || p < 0 {
					t.Fatalf("%v: Phi = %v", what, p)
				}
			}
		}
		steps := rapid.IntRange(1, 300).Draw(t, "steps")
		for i := range steps {
			if i > 0 {
				now = now.Add(genStep(t, c))
			}
			ok := rapid.Float64Range(0, 1).Draw(t, "p") >= loss
			d.Observe(now, ok)
			if !observed || (ok && now.After(lastSuccess)) {
				lastSuccess = now
			}
			observed = true
			check(now, "at the observation")
			check(lastSuccess.Add(c.AcceptablePause), "at the floor")
			check(lastSuccess.Add(c.AcceptablePause-1), "just inside the floor")
			check(now.Add(time.Duration(rapid.Int64Range(-int64(c.ProbeInterval), int64(c.AcceptablePause)).Draw(t, "query"))), "between probes")
		}
	})
}

// TestCalmUntilProperty: CalmUntil tells nothing before the first
// observation and after Reset; after any history it is the last success
// (the first observation until there is one) plus AcceptablePause, the
// reference the hard floor is checked against, and Failed is false at any
// time up to it.
func TestCalmUntilProperty(t *testing.T) {
	type calm interface{ CalmUntil() (time.Time, bool) }
	rapid.Check(t, func(t *rapid.T) {
		d, c := genDetector(t)
		cd := d.(calm)
		if _, ok := cd.CalmUntil(); ok {
			t.Fatal("CalmUntil known before any observation")
		}
		now := epoch
		// An observation earlier than one before counts at the latest
		// observation time.
		var lastSuccess, latest time.Time
		for i := range rapid.IntRange(1, 300).Draw(t, "steps") {
			if i > 0 {
				now = now.Add(genStep(t, c))
			}
			ok := rapid.Bool().Draw(t, "ok")
			d.Observe(now, ok)
			at := now
			if i > 0 && at.Before(latest) {
				at = latest
			}
			latest = at
			if i == 0 || ok {
				lastSuccess = at
			}
			until, known := cd.CalmUntil()
			if want := lastSuccess.Add(c.AcceptablePause); !known || !until.Equal(want) {
				t.Fatalf("step %d: CalmUntil = %v, %v; want %v", i, until, known, want)
			}
			q := until.Add(-time.Duration(rapid.Int64Range(0, int64(4*c.AcceptablePause)).Draw(t, "before calm")))
			if d.Failed(until) || d.Failed(q) {
				t.Fatalf("step %d: failed within its calm (until %v)", i, until)
			}
		}
		d.Reset()
		if _, ok := cd.CalmUntil(); ok {
			t.Fatal("CalmUntil known after Reset")
		}
	})
}

// TestResetStartsAfresh: after Reset, a detector with any history answers
// exactly as a new one on the same observations.
func TestResetStartsAfresh(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := genConfig(t)
		used, err := detector.New(c)
		if err != nil {
			t.Fatal(err)
		}
		fresh, _ := detector.New(c)
		c = c.WithDefaults()
		now := epoch
		for range rapid.IntRange(0, 200).Draw(t, "before") {
			now = now.Add(genStep(t, c))
			used.Observe(now, rapid.Bool().Draw(t, "ok"))
		}
		used.Reset()
		now = now.Add(time.Duration(rapid.Int64Range(-int64(time.Hour), int64(time.Hour)).Draw(t, "restart")))
		if used.Failed(now) || used.Failed(now.Add(time.Hour)) {
			t.Fatal("failed after Reset before any observation")
		}
		for i := range rapid.IntRange(1, 200).Draw(t, "after") {
			now = now.Add(genStep(t, c))
			ok := rapid.Bool().Draw(t, "ok")
			used.Observe(now, ok)
			fresh.Observe(now, ok)
			q := now.Add(time.Duration(rapid.Int64Range(0, 4*int64(c.AcceptablePause)).Draw(t, "query")))
			if a, b := used.Failed(q), fresh.Failed(q); a != b {
				t.Fatalf("step %d: Failed = %v after Reset, %v when new", i, a, b)
			}
			if p, ok := used.(*detector.PhiAccrual); ok {
				if a, b := p.Phi(q), fresh.(*detector.PhiAccrual).Phi(q); a != b {
					t.Fatalf("step %d: Phi = %v after Reset, %v when new", i, a, b)
				}
			}
		}
	})
}
