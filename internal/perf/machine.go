// Package perf holds the cost benchmarks of nvrha as plain functions, so that
// both `go test -bench` and the nvrbench command run the same code.
package perf

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/transport"
)

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Center is a Machine with groups of healthy servers, driven directly on
// virtual time with healthy probe answers: the steady state of a center.
type Center struct {
	M   *failover.Machine
	Now time.Time
	// Recording and Standby list the servers by role.
	Recording, Standby []nvrha.ServerID

	// down and covering drive Persist's incidents: the servers that do not
	// answer, and whose cameras each standby records.
	down     map[nvrha.ServerID]bool
	covering map[nvrha.ServerID]nvrha.ServerID
}

// NewCenter builds groups × perGroup servers, a quarter of them standbys,
// and runs them to a settled state.
func NewCenter(tb testing.TB, groups, perGroup int) *Center {
	tb.Helper()
	m, err := failover.NewMachine(failover.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	c := &Center{M: m, Now: start}
	for g := 0; g < groups; g++ {
		gid := failover.DefaultGroupID
		if g > 0 {
			if gid, err = m.AddGroup(fmt.Sprintf("Group %d", g+1)); err != nil {
				tb.Fatal(err)
			}
		}
		var recs, sbs []nvrha.Facts
		for i := 0; i < perGroup; i++ {
			id := nvrha.ServerID(fmt.Sprintf("g%d-s%d", g, i))
			if i%4 == 3 {
				sbs = append(sbs, nvrha.Facts{ID: id, Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 64,
					RecordingSpaces: []nvrha.RecordingSpace{{Name: "v", Empty: true}}})
				c.Standby = append(c.Standby, id)
				continue
			}
			f := nvrha.Facts{ID: id, Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 32,
				RecordingSpaces: []nvrha.RecordingSpace{{Name: "v"}}}
			for k := 0; k < 16; k++ {
				f.Cameras = append(f.Cameras, nvrha.CameraID(fmt.Sprintf("%s-c%d", id, k)))
			}
			recs = append(recs, f)
			c.Recording = append(c.Recording, id)
		}
		if len(recs) > 0 {
			if err := m.AddRecordingServers(gid, recs...); err != nil {
				tb.Fatal(err)
			}
		}
		if len(sbs) > 0 {
			if err := m.AddStandbyServers(gid, sbs...); err != nil {
				tb.Fatal(err)
			}
		}
	}
	for i := 0; i < 40; i++ {
		c.Step(50*time.Millisecond, nil)
	}
	return c
}

// Step advances virtual time by d, ticks, and answers every command: probes
// healthy (unless down says the server is down), other commands with success.
// It returns how many probe answers it stepped.
func (c *Center) Step(d time.Duration, down map[nvrha.ServerID]bool) int {
	c.Now = c.Now.Add(d)
	c.M.Tick(c.Now)
	return c.Exchange(down)
}

// Exchange answers every command the Machine has to send, as Step does,
// until it has none, and returns how many probe answers it stepped.
func (c *Center) Exchange(down map[nvrha.ServerID]bool) int {
	probes := 0
	for c.M.HasReady() {
		rd := c.M.Ready()
		c.M.Advance(rd)
		for _, cmd := range rd.Commands {
			r := failover.Result{ID: cmd.ID}
			switch cmd.Kind {
			case failover.CmdProbe:
				probes++
				if down[cmd.Server] {
					r.Err = transport.ErrUnreachable
				} else {
					r.Report = transport.ProbeReport{Server: cmd.Server, Healthy: true, Recording: true, HasEmptyRecordingSpace: true}
				}
			case failover.CmdInventory:
				r.Err = transport.ErrUnreachable // facts stay as they are
			}
			_ = c.M.Step(c.Now, r)
		}
	}
	return probes
}

// ProbeResults measures the Machine's cost per probe result in the steady
// state of a center of n servers in groups of 64: ticks, probe commands,
// their healthy answers, detectors and status upkeep, all included.
func ProbeResults(n int) func(b *testing.B) {
	return func(b *testing.B) {
		groups, per := max(n/64, 1), min(n, 64)
		c := NewCenter(b, groups, per)
		b.ReportAllocs()
		b.ResetTimer()
		done := 0
		for done < b.N {
			done += c.Step(50*time.Millisecond, nil)
		}
		b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "probes/s")
	}
}

// Tick measures one Tick of a center of groups × perGroup servers, probes
// included, without the answers.
func Tick(groups, perGroup int) func(b *testing.B) {
	return func(b *testing.B) {
		c := NewCenter(b, groups, perGroup)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			c.Now = c.Now.Add(50 * time.Millisecond)
			c.M.Tick(c.Now)
			b.StopTimer()
			rd := c.M.Ready()
			c.M.Advance(rd)
			for _, cmd := range rd.Commands {
				_ = c.M.Step(c.Now, failover.Result{ID: cmd.ID, Report: transport.ProbeReport{Server: cmd.Server,
					Healthy: true, Recording: true, HasEmptyRecordingSpace: true}})
			}
			b.StartTimer()
		}
	}
}

// AssignMetric is the unit Assignment reports its figure in: the time of
// the detecting Tick alone (ns/op includes building the center).
const AssignMetric = "ns/assign-tick"

// Assignment measures the Tick in which failed recording servers of one
// 64-server group (48 recording, 16 standby) are all detected at once and
// assigned standbys: the Tick that starts the failures' takeovers, before
// its Ready is built and persisted. The Machine is deterministic, so a
// rehearsal finds how many silent steps come before it, and only that
// Tick is timed.
func Assignment(failures int) func(b *testing.B) {
	return func(b *testing.B) {
		// The Tick is timed by hand: b.StartTimer and b.StopTimer read
		// memory statistics, a pause longer than the Tick itself.
		var ticks time.Duration
		steps := -1
		for i := 0; i < b.N; i++ {
			c := NewCenter(b, 1, 64)
			down := map[nvrha.ServerID]bool{}
			for _, id := range c.Recording[:failures] {
				down[id] = true
			}
			first := c.Recording[0]
			isDown := func() bool { return c.M.Snapshot().Groups[0].Members[c.index(first)].Health == nvrha.HealthDown }
			if steps < 0 {
				// The rehearsal.
				for steps = 1; ; steps++ {
					c.Step(50*time.Millisecond, down)
					if isDown() {
						break
					}
				}
				c = NewCenter(b, 1, 64)
			}
			for range steps - 1 {
				c.Step(50*time.Millisecond, down)
			}
			c.Now = c.Now.Add(50 * time.Millisecond)
			t0 := time.Now()
			c.M.Tick(c.Now)
			ticks += time.Since(t0)
			c.Exchange(down)
			if !isDown() {
				b.Fatalf("the %dth step did not detect the failures", steps)
			}
		}
		b.ReportMetric(float64(ticks.Nanoseconds())/float64(b.N), AssignMetric)
	}
}

// index returns the position of a server in the first group's snapshot.
func (c *Center) index(id nvrha.ServerID) int {
	for i, m := range c.M.Snapshot().Groups[0].Members {
		if m.ID == id {
			return i
		}
	}
	return -1
}

// MemoryPerServer reports the heap a Machine holds per server, for a center
// of n servers in groups of 64.
func MemoryPerServer(tb testing.TB, n int) float64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	c := NewCenter(tb, max(n/64, 1), min(n, 64))
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(c)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}
