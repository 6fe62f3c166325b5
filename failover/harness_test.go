package failover_test

import (
	"context"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/agenttest"
)

// epoch0 is the virtual start of every world.
var epoch0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// world runs a Machine over in-process servers on virtual time: the
// transport answers at once, so a step of virtual time is a Tick followed by
// exchanges until the Machine has nothing more to say.
type world struct {
	t       testing.TB
	m       *failover.Machine
	cfg     failover.Config
	tr      *transport.InMemory
	servers map[nvrha.ServerID]*agenttest.Server
	now     time.Time
	step    time.Duration
	events  []failover.Event
	saved   *failover.State
}

func newWorld(t testing.TB, cfg failover.Config) *world {
	t.Helper()
	m, err := failover.NewMachine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &world{t: t, m: m, cfg: cfg, tr: transport.NewInMemory(), servers: map[nvrha.ServerID]*agenttest.Server{},
		now: epoch0, step: 50 * time.Millisecond}
}

// serve starts an agent for each server.
func (w *world) serve(fs ...nvrha.Facts) {
	w.t.Helper()
	for _, f := range fs {
		a := agenttest.New(f)
		if err := w.tr.Register(f.ID, a); err != nil {
			w.t.Fatal(err)
		}
		w.servers[f.ID] = a
	}
}

// flush exchanges until the Machine is quiet.
func (w *world) flush() {
	w.t.Helper()
	for i := 0; w.m.HasReady(); i++ {
		if i > 1000 {
			w.t.Fatal("machine never quiet")
		}
		rd, err := failover.Exchange(context.Background(), w.m, w.tr, w.save, w.now)
		if err != nil {
			w.t.Fatal(err)
		}
		w.events = append(w.events, rd.Events...)
	}
}

func (w *world) save(st failover.State) error {
	w.saved = &st
	return nil
}

// run advances virtual time by d in steps.
func (w *world) run(d time.Duration) {
	w.t.Helper()
	end := w.now.Add(d)
	for w.now.Before(end) {
		w.now = w.now.Add(w.step)
		w.m.Tick(w.now)
		w.flush()
	}
}

// until runs until cond holds or limit passes, and returns the time it took.
func (w *world) until(limit time.Duration, cond func() bool) (time.Duration, bool) {
	w.t.Helper()
	start := w.now
	for w.now.Sub(start) < limit {
		if cond() {
			return w.now.Sub(start), true
		}
		w.run(w.step)
	}
	return w.now.Sub(start), cond()
}

func (w *world) member(id nvrha.ServerID) failover.MemberSnapshot {
	w.t.Helper()
	for _, g := range w.m.Snapshot().Groups {
		for _, mem := range g.Members {
			if mem.ID == id {
				return mem
			}
		}
	}
	w.t.Fatalf("no member %s", id)
	return failover.MemberSnapshot{}
}

func (w *world) status(id nvrha.ServerID) string { return w.member(id).Status() }

func (w *world) eventsOf(kind failover.EventKind, server nvrha.ServerID) []failover.Event {
	var out []failover.Event
	for _, e := range w.events {
		if e.Kind == kind && (server == "" || e.Server == server) {
			out = append(out, e)
		}
	}
	return out
}

func (w *world) covering(sb nvrha.ServerID) nvrha.ServerID {
	rec, _ := w.servers[sb].Covering()
	return rec
}
