package perf

import (
	"fmt"
	"testing"
)

func BenchmarkProbeResults(b *testing.B) {
	for _, n := range []int{8, 64, 256, 1024} {
		b.Run(fmt.Sprintf("servers=%d", n), ProbeResults(n))
	}
}

func BenchmarkTick(b *testing.B) {
	for _, gs := range [][2]int{{1, 8}, {1, 64}, {4, 64}, {16, 64}} {
		b.Run(fmt.Sprintf("groups=%dx%d", gs[0], gs[1]), Tick(gs[0], gs[1]))
	}
}

func BenchmarkAssignment(b *testing.B) {
	for _, f := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("failures=%d", f), Assignment(f))
	}
}

func BenchmarkMemoryPerServer(b *testing.B) {
	for _, n := range []int{8, 64, 1024} {
		b.Run(fmt.Sprintf("servers=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.ReportMetric(MemoryPerServer(b, n), "B/server")
			}
		})
	}
}

// TestCenterSettles checks the benchmark world itself: every server is up
// and the benchmark's probe loop keeps it so.
func TestCenterSettles(t *testing.T) {
	c := NewCenter(t, 2, 16)
	for _, g := range c.M.Snapshot().Groups {
		for _, m := range g.Members {
			if m.Health.String() != "up" {
				t.Fatalf("%s is %v after settling", m.ID, m.Health)
			}
		}
	}
	if n := c.Step(200*1e6, nil); n == 0 {
		t.Fatal("no probe answered in a probe interval")
	}
}
