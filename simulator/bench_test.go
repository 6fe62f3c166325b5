package simulator

import (
	"testing"
	"time"
)

// BenchmarkOneHourGroup runs one hour of the realistic group (1 group, 14
// recording and 2 standby servers, 16 cameras each) with the nemesis on,
// and reports simulated seconds per wall second.
func BenchmarkOneHourGroup(b *testing.B) {
	var simulated time.Duration
	start := time.Now()
	for i := 0; i < b.N; i++ {
		w, err := New(Config{Seed: uint64(i + 1), Duration: time.Hour, Nemesis: NemesisConfig{Enabled: true},
			Tolerate: tolerated})
		if err != nil {
			b.Fatal(err)
		}
		rep := w.Run()
		if rep.Violation != nil {
			b.Fatal(rep.Violation)
		}
		simulated += rep.Simulated
	}
	b.ReportMetric(simulated.Seconds()/time.Since(start).Seconds(), "sim-s/s")
}
