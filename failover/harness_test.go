package failover_test

import (
	"context"
	"maps"
	"slices"
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
	// observe, when set, sees every Ready the world handled, in order,
	// after its state was saved and its commands were sent.
	observe func(failover.Ready)
	// changes, when set, makes the world run its Machine incremental
	// (SetIncremental) and save the Changes of each Ready through it.
	changes *changesFollower
	// watch, when set, looks at the Machine after every Tick and every
	// exchange.
	watch func()
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
		var rd failover.Ready
		var err error
		if w.changes != nil {
			rd = w.exchangeChanges()
		} else {
			rd, err = failover.Exchange(context.Background(), w.m, w.tr, w.save, w.now)
		}
		if err != nil {
			w.t.Fatal(err)
		}
		w.events = append(w.events, rd.Events...)
		if w.observe != nil {
			w.observe(rd)
		}
		if w.watch != nil {
			w.watch()
		}
	}
}

func (w *world) save(st failover.State) error {
	w.saved = &st
	return nil
}

// exchangeChanges is failover.Exchange for an incremental Machine: it
// saves the Ready's Changes, checking that they rebuild the Machine's
// State.
func (w *world) exchangeChanges() failover.Ready {
	w.t.Helper()
	rd := w.m.Ready()
	if rd.State != nil {
		w.t.Fatal("an incremental Machine handed a whole State")
	}
	if rd.Changes != nil {
		w.changes.apply(w.m, *rd.Changes)
		st := w.changes.rep.State()
		w.saved = &st
	}
	w.m.Advance(rd)
	for _, c := range rd.Commands {
		c.Deadline = time.Time{}
		_ = w.m.Step(w.now, failover.Execute(context.Background(), w.tr, c))
	}
	return rd
}

// run advances virtual time by d in steps.
func (w *world) run(d time.Duration) {
	w.t.Helper()
	end := w.now.Add(d)
	for w.now.Before(end) {
		w.now = w.now.Add(w.step)
		w.m.Tick(w.now)
		if w.watch != nil {
			w.watch()
		}
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

// addStandbys starts agents for standby servers and adds them to group g.
func (w *world) addStandbys(g failover.GroupID, fs ...nvrha.Facts) {
	w.t.Helper()
	w.serve(fs...)
	if err := w.m.AddStandbyServers(g, fs...); err != nil {
		w.t.Fatal(err)
	}
}

// addRecordings starts agents for recording servers and adds them to group g.
func (w *world) addRecordings(g failover.GroupID, fs ...nvrha.Facts) {
	w.t.Helper()
	w.serve(fs...)
	if err := w.m.AddRecordingServers(g, fs...); err != nil {
		w.t.Fatal(err)
	}
}

// hookOnly makes h stand between the center and server id for the given
// methods only; every other call goes through.
func (w *world) hookOnly(id nvrha.ServerID, h transport.Hook, methods ...transport.Method) {
	w.tr.SetHook(id, func(ctx context.Context, c transport.Call) error {
		for _, m := range methods {
			if c.Method == m {
				return h(ctx, c)
			}
		}
		return nil
	})
}

// recordCommands makes the world keep every command it sends, in order, and
// returns where they are kept.
func (w *world) recordCommands() *[]failover.Command {
	var cmds []failover.Command
	prev := w.observe
	w.observe = func(rd failover.Ready) {
		cmds = append(cmds, rd.Commands...)
		if prev != nil {
			prev(rd)
		}
	}
	return &cmds
}

// restart replaces the Machine by one restored from the last saved State, as
// a center that crashed and started again now.
func (w *world) restart() {
	w.t.Helper()
	if w.saved == nil {
		w.t.Fatal("nothing saved to restart from")
	}
	w.restartFrom(*w.saved)
}

// restartFrom replaces the Machine by one restored from st now.
func (w *world) restartFrom(st failover.State) {
	w.t.Helper()
	m, err := failover.RestoreMachine(w.cfg, st, w.now)
	if err != nil {
		w.t.Fatalf("RestoreMachine: %v", err)
	}
	if w.changes != nil {
		m.SetIncremental(true)
	}
	w.m = m
	w.flush()
}

// coverers returns, in ID order, the running agents that record recording
// server rec's cameras now.
func (w *world) coverers(rec nvrha.ServerID) []nvrha.ServerID {
	var out []nvrha.ServerID
	for _, id := range slices.Sorted(maps.Keys(w.servers)) {
		if got, _ := w.servers[id].Covering(); got == rec {
			out = append(out, id)
		}
	}
	return out
}

// lastEvent returns the newest event of kind about server, if any.
func (w *world) lastEvent(kind failover.EventKind, server nvrha.ServerID) (failover.Event, bool) {
	for i := len(w.events) - 1; i >= 0; i-- {
		if e := w.events[i]; e.Kind == kind && (server == "" || e.Server == server) {
			return e, true
		}
	}
	return failover.Event{}, false
}

// replaceAgent puts a fresh agent with facts f behind f.ID, as a server that
// was reinstalled with a new license: it knows no epochs and covers nobody.
func (w *world) replaceAgent(f nvrha.Facts) {
	w.t.Helper()
	w.tr.Unregister(f.ID)
	delete(w.servers, f.ID)
	w.serve(f)
}
