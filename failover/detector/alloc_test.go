package detector_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/nvrha/nvrha/failover/detector"
)

// steady returns a detector of kind with a full window of regular history,
// and the time of its last observation.
func steady(tb testing.TB, kind detector.Kind) (detector.Detector, time.Time) {
	tb.Helper()
	c := detector.DefaultConfig()
	c.Kind = kind
	d, err := detector.New(c)
	if err != nil {
		tb.Fatal(err)
	}
	now := epoch
	for i := range 2 * c.Window {
		now = now.Add(c.ProbeInterval + time.Duration(i%7)*time.Millisecond)
		d.Observe(now, i%10 != 9)
	}
	return d, now
}

// TestNoAllocationsInSteadyState: Observe (answered and missed probes, with
// the window full so that samples are evicted) and Failed (inside and past
// the AcceptablePause floor) never allocate.
func TestNoAllocationsInSteadyState(t *testing.T) {
	for _, kind := range []detector.Kind{detector.KindPhiAccrual, detector.KindConsecutiveMiss} {
		d, now := steady(t, kind)
		i := 0
		if n := testing.AllocsPerRun(1000, func() {
			now = now.Add(200 * time.Millisecond)
			d.Observe(now, i%5 != 0)
			i++
		}); n != 0 {
			t.Errorf("%v: Observe allocates %v times per call", kind, n)
		}
		if n := testing.AllocsPerRun(1000, func() {
			_ = d.Failed(now.Add(100 * time.Millisecond))
			_ = d.Failed(now.Add(2 * time.Second))
		}); n != 0 {
			t.Errorf("%v: Failed allocates %v times per call", kind, n)
		}
		if p, ok := d.(*detector.PhiAccrual); ok {
			if n := testing.AllocsPerRun(1000, func() { _ = p.Phi(now.Add(time.Second)) }); n != 0 {
				t.Errorf("Phi allocates %v times per call", n)
			}
		}
		if n := testing.AllocsPerRun(100, func() {
			d.Reset()
			d.Observe(now, true)
		}); n != 0 {
			t.Errorf("%v: Reset allocates %v times per call", kind, n)
		}
	}
}

// TestMemoryFootprint: a detector with the default configuration takes well
// under 1 KiB of heap, measured over many constructions.
func TestMemoryFootprint(t *testing.T) {
	for kind, limit := range map[detector.Kind]uint64{
		detector.KindPhiAccrual:      640,
		detector.KindConsecutiveMiss: 128,
	} {
		c := detector.DefaultConfig()
		c.Kind = kind
		const n = 1000
		keep := make([]detector.Detector, n)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range keep {
			keep[i], _ = detector.New(c)
		}
		runtime.ReadMemStats(&after)
		per := (after.TotalAlloc - before.TotalAlloc) / n
		t.Logf("%v: %d bytes per detector", kind, per)
		if per > limit {
			t.Errorf("%v: %d bytes per detector, want at most %d", kind, per, limit)
		}
		runtime.KeepAlive(keep)
	}
}

// TestWindowDropsOldSamples: once Window newer intervals have been seen, the
// older ones no longer count: phi is the same as for a detector that only ever
// saw the newer ones.
func TestWindowDropsOldSamples(t *testing.T) {
	c := detector.DefaultConfig()
	c.Window = 5
	c.AcceptablePause = 2 * time.Second
	build := func(old, recent int) *detector.PhiAccrual {
		d, err := detector.NewPhiAccrual(c)
		if err != nil {
			t.Fatal(err)
		}
		now := epoch
		d.Observe(now, true)
		for range old {
			now = now.Add(200 * time.Millisecond)
			d.Observe(now, true)
		}
		for range recent {
			now = now.Add(600 * time.Millisecond)
			d.Observe(now, true)
		}
		return d
	}
	long, short := build(50, c.Window), build(0, c.Window)
	// The two histories end at different times: compare at the same
	// silence after each one's last success.
	lastLong := epoch.Add(50*200*time.Millisecond + time.Duration(c.Window)*600*time.Millisecond)
	lastShort := epoch.Add(time.Duration(c.Window) * 600 * time.Millisecond)
	for _, after := range []time.Duration{0, time.Second, 2500 * time.Millisecond, 3 * time.Second} {
		if a, b := long.Phi(lastLong.Add(after)), short.Phi(lastShort.Add(after)); a != b {
			t.Errorf("phi %v after the last success: %v with old samples, %v without", after, a, b)
		}
	}
	// One sample fewer: an old 200ms sample is still in the window.
	partial := build(50, c.Window-1)
	lastPartial := lastLong.Add(-600 * time.Millisecond)
	if a, b := partial.Phi(lastPartial.Add(3*time.Second)), short.Phi(lastShort.Add(3*time.Second)); a == b {
		t.Errorf("phi %v does not depend on the window's oldest sample", a)
	}
}

func BenchmarkPhiObserve(b *testing.B) {
	d, now := steady(b, detector.KindPhiAccrual)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(200 * time.Millisecond)
		d.Observe(now, i%10 != 9)
		i++
	}
}

func BenchmarkPhiFailed(b *testing.B) {
	d, now := steady(b, detector.KindPhiAccrual)
	// Past the AcceptablePause floor, so that phi is computed every time.
	q := now.Add(1300 * time.Millisecond)
	b.ReportAllocs()
	for b.Loop() {
		_ = d.Failed(q)
	}
}

func BenchmarkConsecutiveMiss(b *testing.B) {
	d, now := steady(b, detector.KindConsecutiveMiss)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(200 * time.Millisecond)
		d.Observe(now, i%10 != 9)
		_ = d.Failed(now)
		i++
	}
}
