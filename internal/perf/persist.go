package perf

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/transport"
)

// PersistResult is what persisting a center's changes cost, incrementally
// (Changes applied to a FileStore: log records, and the snapshots of its
// compactions) and whole (the State saved to a FileStore at each change,
// as before Changes), over the same changes in the same run.
type PersistResult struct {
	Servers int
	// Changes counts the persisted changes: the Readies that carried
	// Changes, after the first (the whole State).
	Changes int
	// DeltaBytes and FullBytes are the bytes each store wrote for them;
	// DeltaTime and FullTime the time its writes took, syncs included.
	DeltaBytes, FullBytes int64
	DeltaTime, FullTime   time.Duration
	// Compactions counts the snapshots the incremental store wrote.
	Compactions int
}

// BytesPerChange returns the bytes written per persisted change,
// incrementally and whole.
func (r PersistResult) BytesPerChange() (delta, full float64) {
	n := float64(max(r.Changes, 1))
	return float64(r.DeltaBytes) / n, float64(r.FullBytes) / n
}

// Ratio is the incremental store's bytes per change over the whole
// State's.
func (r PersistResult) Ratio() float64 {
	d, f := r.BytesPerChange()
	return d / f
}

// Persist runs incidents in a center of groups × perGroup servers (a
// quarter standbys, 16 cameras per recording server): in each, a recording
// server fails, is taken over, recovers and fails back, and the next
// incident takes the next server. Every change the Machine persists is
// applied to a FileStore in dir/delta, and its whole State saved to one in
// dir/full (full false skips that store, for long runs).
func Persist(tb testing.TB, dir string, groups, perGroup, incidents int, full bool) PersistResult {
	tb.Helper()
	c := NewCenter(tb, groups, perGroup)
	c.M.SetIncremental(true)
	res := PersistResult{Servers: groups * perGroup}
	mk := func(name string) *failover.FileStore {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o700); err != nil {
			tb.Fatal(err)
		}
		return failover.NewFileStore(filepath.Join(dir, name, "state.json"))
	}
	delta, whole := mk("delta"), mk("full")
	ctx := context.Background()
	first := true
	persist := func() {
		for c.M.HasReady() {
			rd := c.M.Ready()
			if rd.Changes != nil {
				before := filesOf(tb, delta)
				t0 := time.Now()
				if err := delta.Apply(ctx, *rd.Changes); err != nil {
					tb.Fatal(err)
				}
				dt := time.Since(t0)
				if !first {
					res.Changes++
					res.DeltaTime += dt
					n, snap := written(tb, before, filesOf(tb, delta))
					res.DeltaBytes += n
					if snap {
						res.Compactions++
					}
					if full {
						st := c.M.State()
						t0 := time.Now()
						if err := whole.Save(ctx, st); err != nil {
							tb.Fatal(err)
						}
						res.FullTime += time.Since(t0)
						fi, err := os.Stat(whole.Path())
						if err != nil {
							tb.Fatal(err)
						}
						res.FullBytes += fi.Size()
					}
				}
				first = false
			}
			c.M.Advance(rd)
			for _, cmd := range rd.Commands {
				_ = c.M.Step(c.Now, c.answer(cmd))
			}
		}
	}
	persist()
	for i := range incidents {
		victim := c.Recording[i%len(c.Recording)]
		c.down = map[nvrha.ServerID]bool{victim: true}
		for !c.covered(victim) {
			c.advance(persist)
		}
		c.down = nil
		for c.covered(victim) {
			c.advance(persist)
		}
	}
	// The last store holds what the Machine holds.
	st, err := failover.NewFileStore(delta.Path()).Load(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	want := c.M.State()
	// The next command ID moves with every command; it is persisted with
	// the next change.
	st.NextCommandID, want.NextCommandID = 0, 0
	if got, want := fmt.Sprint(st), fmt.Sprint(want); got != want {
		tb.Fatal("the incremental store does not hold the Machine's State")
	}
	return res
}

// advance moves the center's time on one step, persisting what changes.
func (c *Center) advance(persist func()) {
	c.Now = c.Now.Add(50 * time.Millisecond)
	c.M.Tick(c.Now)
	persist()
	if c.Now.Sub(start) > 24*time.Hour {
		panic("perf: an incident did not end in a day")
	}
}

// answer is the answer of a server to cmd: healthy and obeying, unless
// down. A standby says whose cameras it covers.
func (c *Center) answer(cmd failover.Command) failover.Result {
	r := failover.Result{ID: cmd.ID}
	if c.covering == nil {
		c.covering = map[nvrha.ServerID]nvrha.ServerID{}
	}
	switch {
	case c.down[cmd.Server]:
		r.Err = transport.ErrUnreachable
	case cmd.Kind == failover.CmdProbe:
		r.Report = transport.ProbeReport{Server: cmd.Server, Healthy: true, Recording: true, HasEmptyRecordingSpace: true,
			Covering: c.covering[cmd.Server]}
	case cmd.Kind == failover.CmdInventory:
		r.Err = transport.ErrUnreachable // facts stay as they are
	case cmd.Kind == failover.CmdTakeover:
		c.covering[cmd.Server] = cmd.Recording
	case cmd.Kind == failover.CmdRelease:
		delete(c.covering, cmd.Server)
	}
	return r
}

// covered reports whether a recording server has a standby.
func (c *Center) covered(id nvrha.ServerID) bool {
	for _, g := range c.M.Snapshot().Groups {
		for _, m := range g.Members {
			if m.ID == id {
				return m.Peer != ""
			}
		}
	}
	return false
}

// storeFiles is what a FileStore's files were at one moment.
type storeFiles struct {
	snap, log os.FileInfo
}

func filesOf(tb testing.TB, s *failover.FileStore) storeFiles {
	var f storeFiles
	var err error
	if f.snap, err = os.Stat(s.Path()); err != nil && !os.IsNotExist(err) {
		tb.Fatal(err)
	}
	if f.log, err = os.Stat(s.LogPath()); err != nil && !os.IsNotExist(err) {
		tb.Fatal(err)
	}
	return f
}

// written returns the bytes written between two looks at a store's files,
// and whether a snapshot was among them.
func written(tb testing.TB, before, after storeFiles) (int64, bool) {
	var n int64
	snap := after.snap != nil && (before.snap == nil || !os.SameFile(before.snap, after.snap))
	if snap {
		n += after.snap.Size()
	}
	switch {
	case after.log == nil:
	case before.log == nil || !os.SameFile(before.log, after.log):
		n += after.log.Size()
	default:
		n += after.log.Size() - before.log.Size()
	}
	return n, snap
}
