package detector_test

import (
	"fmt"
	"time"

	"github.com/nvrha/nvrha/failover/detector"
)

// A server answers every 200ms probe, then goes silent at 10s. The default
// phi accrual detector declares it failed 1.4s later, at the eighth missed
// probe; the consecutive-miss detector 1s later, at the sixth.
func Example() {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, kind := range []detector.Kind{detector.KindPhiAccrual, detector.KindConsecutiveMiss} {
		c := detector.DefaultConfig()
		c.Kind = kind
		d, err := detector.New(c)
		if err != nil {
			panic(err)
		}
		for now := start; ; now = now.Add(c.ProbeInterval) {
			ok := now.Sub(start) < 10*time.Second // the server dies at 10s
			d.Observe(now, ok)
			if d.Failed(now) {
				fmt.Printf("%v: silent from 10s, failed at %v\n", kind, now.Sub(start))
				break
			}
		}
	}
	// Output:
	// phi-accrual: silent from 10s, failed at 11.2s
	// consecutive-miss: silent from 10s, failed at 11s
}

// Phi rises with the silence; the server is failed once phi reaches the
// threshold (4) and the silence is longer than AcceptablePause (1s).
func ExamplePhiAccrual_Phi() {
	d, err := detector.NewPhiAccrual(detector.DefaultConfig())
	if err != nil {
		panic(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var last time.Time
	for i := range 50 {
		last = start.Add(time.Duration(i) * 200 * time.Millisecond)
		d.Observe(last, true)
	}
	for _, silence := range []time.Duration{200 * time.Millisecond, time.Second, 1200 * time.Millisecond, 1400 * time.Millisecond, 1462 * time.Millisecond} {
		now := last.Add(silence)
		fmt.Printf("silent %v: phi %.2f failed %v\n", silence, d.Phi(now), d.Failed(now))
	}
	// Output:
	// silent 200ms: phi 0.00 failed false
	// silent 1s: phi 0.00 failed false
	// silent 1.2s: phi 0.30 failed false
	// silent 1.4s: phi 4.74 failed true
	// silent 1.462s: phi 8.05 failed true
}
