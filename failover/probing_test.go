package failover_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
)

// laggy drives a world whose answers do not come back at once: each
// command is executed by its agent when it is sent, and its result is
// stepped into the Machine later, as the link decides.
type laggy struct {
	*world
	// delay returns when the result of c, sent at now, reaches the center,
	// and whether it does at all.
	delay   func(c failover.Command, now time.Time) (time.Time, bool)
	pending []lagged
}

type lagged struct {
	at time.Time
	r  failover.Result
}

// run advances virtual time by d in 10ms steps.
func (l *laggy) run(d time.Duration) {
	l.t.Helper()
	const step = 10 * time.Millisecond
	for end := l.now.Add(d); l.now.Before(end); {
		l.now = l.now.Add(step)
		l.m.Tick(l.now)
		l.exchange()
		slices.SortStableFunc(l.pending, func(a, b lagged) int { return a.at.Compare(b.at) })
		for len(l.pending) > 0 && !l.pending[0].at.After(l.now) {
			r := l.pending[0].r
			l.pending = l.pending[1:]
			if err := l.m.Step(l.now, r); err != nil {
				l.t.Fatal(err)
			}
			l.exchange()
		}
	}
}

func (l *laggy) exchange() {
	rd := l.m.Ready()
	if err := l.save(derefState(rd.State)); err != nil {
		l.t.Fatal(err)
	}
	l.m.Advance(rd)
	l.events = append(l.events, rd.Events...)
	for _, c := range rd.Commands {
		at, ok := l.delay(c, l.now)
		c.Deadline = time.Time{}
		r := failover.Execute(context.Background(), l.tr, c)
		if ok {
			l.pending = append(l.pending, lagged{at: at, r: r})
		}
	}
}

func derefState(st *failover.State) failover.State {
	if st == nil {
		return failover.State{}
	}
	return *st
}

func newLaggy(t *testing.T, cfg failover.Config) *laggy {
	w := settled(t, cfg, []nvrha.Facts{standbyFacts("sb-1", 16), standbyFacts("sb-2", 16)},
		[]nvrha.Facts{recordingFacts("rec-1", 16), recordingFacts("rec-2", 16)})
	return &laggy{world: w}
}

// Answers slower than the probe interval (but within the probe timeout)
// are no failure: a suspect is probed faster than its answers come back,
// and every one of those probes is still awaited.
func TestSlowAnswersAreNoFailure(t *testing.T) {
	l := newLaggy(t, failover.Config{})
	l.delay = func(c failover.Command, now time.Time) (time.Time, bool) {
		return now.Add(350 * time.Millisecond), true
	}
	l.run(30 * time.Second)
	if ev := l.eventsOf(failover.EventServerDown, ""); len(ev) != 0 {
		t.Fatalf("servers declared down with 350ms answers: %v", ev)
	}
}

// A server paused for just under the acceptable pause, whose first answer
// after the pause is lost, is not declared failed: the probes sent during
// the pause are all answered when it resumes.
func TestPauseWithLostAnswerIsNoFailure(t *testing.T) {
	l := newLaggy(t, failover.Config{})
	pause := 950 * time.Millisecond
	var pausedFrom, pausedTo time.Time
	lostOne := false
	l.delay = func(c failover.Command, now time.Time) (time.Time, bool) {
		at := now.Add(5 * time.Millisecond)
		if c.Server != "rec-1" || now.Before(pausedFrom) || !now.Before(pausedTo) {
			return at, true
		}
		if !lostOne {
			lostOne = true
			return at, false
		}
		return pausedTo.Add(5 * time.Millisecond), true
	}
	for i := 0; i < 20; i++ {
		pausedFrom, pausedTo = l.now, l.now.Add(pause)
		lostOne = false
		l.run(5 * time.Second)
	}
	if ev := l.eventsOf(failover.EventServerDown, "rec-1"); len(ev) != 0 {
		t.Fatalf("rec-1 declared down after %v pauses: %v", pause, ev)
	}
}

// A standby that confirms a takeover later than CommandTimeout is not
// given up: the order is sent again, and the late answer to the first
// attempt confirms it.
func TestLateTakeoverAnswerCounts(t *testing.T) {
	l := newLaggy(t, failover.Config{})
	late := failover.DefaultCommandTimeout + 300*time.Millisecond
	l.delay = func(c failover.Command, now time.Time) (time.Time, bool) {
		if c.Kind == failover.CmdTakeover {
			return now.Add(late), true
		}
		return now.Add(5 * time.Millisecond), true
	}
	l.servers["rec-1"].Crash()
	l.run(6 * time.Second)
	ok := l.eventsOf(failover.EventTakeoverSucceeded, "rec-1")
	if len(ok) != 1 {
		t.Fatalf("takeover of rec-1 confirmed %d times; events:\n%s", len(ok), eventLines(l.events))
	}
	if failed := l.eventsOf(failover.EventTakeoverFailed, "rec-1"); len(failed) != 0 {
		t.Fatalf("a standby answering in %v was given up: %v", late, failed)
	}
	if got := l.covering(ok[0].Peer); got != "rec-1" {
		t.Fatalf("%s covers %q", ok[0].Peer, got)
	}
}

// A center reads every server's inventory again and again; an answer that
// changes nothing changes no state, so nothing is persisted for it.
func TestUnchangedInventoryPersistsNothing(t *testing.T) {
	w := settled(t, failover.Config{InventoryInterval: time.Second},
		[]nvrha.Facts{standbyFacts("sb-1", 16)}, []nvrha.Facts{recordingFacts("rec-1", 16)})
	w.saved = nil
	inventories := 0
	w.observe = func(rd failover.Ready) {
		for _, c := range rd.Commands {
			if c.Kind == failover.CmdInventory {
				inventories++
			}
		}
	}
	w.run(10 * time.Second)
	if inventories < 10 {
		t.Fatalf("%d inventory reads in 10s, want one a second per server", inventories)
	}
	if w.saved != nil {
		t.Fatalf("a State was persisted though no answer changed anything")
	}
	// A real change is persisted.
	f := with(recordingFacts("rec-1", 16), func(f *nvrha.Facts) { f.Name = "lobby" })
	w.replaceAgent(f)
	w.run(2 * time.Second)
	if w.saved == nil || w.member("rec-1").Name != "lobby" {
		t.Fatalf("the renamed server's facts were not persisted")
	}
}
