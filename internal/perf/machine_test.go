package perf

import (
	"fmt"
	"testing"

	"github.com/nvrha/nvrha/failover"
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

// BenchmarkPersist persists the changes of incidents (a failure, its
// takeover, the recovery and the failback) in a center of 1,024 servers,
// both as Changes applied to a FileStore and as the whole State saved to
// another, and reports the bytes each wrote per persisted change and
// their ratio.
func BenchmarkPersist(b *testing.B) {
	for _, n := range []int{64, 1024} {
		b.Run(fmt.Sprintf("servers=%d", n), func(b *testing.B) {
			var r PersistResult
			for i := 0; i < b.N; i++ {
				r = Persist(b, b.TempDir(), max(n/64, 1), min(n, 64), 2, true)
			}
			d, f := r.BytesPerChange()
			b.ReportMetric(d, "delta-B/change")
			b.ReportMetric(f, "full-B/change")
			b.ReportMetric(r.Ratio(), "delta/full")
			b.ReportMetric(float64(r.DeltaTime.Microseconds())/float64(max(r.Changes, 1)), "delta-µs/change")
			b.ReportMetric(float64(r.FullTime.Microseconds())/float64(max(r.Changes, 1)), "full-µs/change")
			b.ReportMetric(float64(r.Changes), "changes")
		})
	}
}

// TestPersistCostsTheChange checks that persisting a change in a center
// of 1,024 servers writes a small part of what saving the whole State
// does, compactions included.
func TestPersistCostsTheChange(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a center of 1,024 servers")
	}
	r := Persist(t, t.TempDir(), 16, 64, 1, true)
	d, f := r.BytesPerChange()
	t.Logf("%d changes: %.0f bytes per change incrementally, %.0f whole (ratio %.4f), %d compactions", r.Changes, d, f, r.Ratio(), r.Compactions)
	if r.Changes < 4 || r.Ratio() > 0.01 {
		t.Errorf("%d changes cost %.0f bytes each, %.4f of the whole State's %.0f; want under 1%%", r.Changes, d, r.Ratio(), f)
	}
}

// BenchmarkSnapshotAfterChange changes one server of a 16 x 64 center
// (its priority, which shows in its group) and takes the center's
// snapshot into reused memory, with SnapshotInto (every group) and with
// UpdateSnapshot (the group that changed), in the same run.
func BenchmarkSnapshotAfterChange(b *testing.B) {
	for _, how := range []string{"SnapshotInto", "UpdateSnapshot"} {
		b.Run(how, func(b *testing.B) {
			c := NewCenter(b, 16, 64)
			var s failover.Snapshot
			take := c.M.SnapshotInto
			if how == "UpdateSnapshot" {
				take = c.M.UpdateSnapshot
			}
			take(&s)
			b.ResetTimer()
			for i := range b.N {
				if err := c.M.SetServerPriority(c.Recording[i%len(c.Recording)], 1+i%2); err != nil {
					b.Fatal(err)
				}
				take(&s)
			}
		})
	}
}
