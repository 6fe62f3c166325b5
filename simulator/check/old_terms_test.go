package check

import (
	"time"

	"testing"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
	"github.com/nvrha/nvrha/transport"
)

// multi is small with three centers, c1 leading term 1.
func multi(t *testing.T) (*history.Static, *Checker, *sink) {
	t.Helper()
	v, _, _ := small(t)
	v.Set.Centers, v.Set.Lease = 3, DefaultLeaseForTests
	v.Centre.Leader, v.Centre.Term, v.Centre.StoreTerm, v.Centre.LeaseHeld, v.Centre.Elections = 1, 1, 1, true, 1
	s := &sink{}
	return v, New(v, s, nil), s
}

// DefaultLeaseForTests is the lease of the hand-written multi-center
// worlds.
const DefaultLeaseForTests = 5 * time.Second

// takeoverOrder is the takeover of rec-1 by sb with epoch e, ID id.
func takeoverOrder(id uint64, sb nvrha.ServerID, e nvrha.Epoch) *failover.Command {
	return &failover.Command{ID: id, Kind: failover.CmdTakeover, Server: sb, Recording: "rec-1", Epoch: e}
}

// sent is the event of cmd leaving with term.
func sent(v *history.Static, cmd *failover.Command, term uint64) *history.Event {
	return v.Event(history.Event{Kind: history.CommandSent, Known: true, Command: cmd, Term: term})
}

// persistEpoch shows c a persisted State with epoch 9 for rec-1, so that
// the orders of these histories leave with persisted epochs.
func persistEpoch(v *history.Static, c *Checker) {
	c.Observe(v.Event(history.Event{Kind: history.Persisted, State: &failover.State{Epochs: []failover.EpochState{{Server: "rec-1", Epoch: 9}}}}))
}

// delivered is the event of cmd (of term) reaching its server, which
// answers err.
func delivered(v *history.Static, cmd *failover.Command, term uint64, err error) *history.Event {
	return v.Event(history.Event{Kind: history.Delivered, Server: v.S(cmd.Server).Index, Command: cmd, Term: term,
		Result: &failover.Result{ID: cmd.ID, Err: err}})
}

// TestAgentObeysNoOlderTerm: an agent that carried out an order of term 2
// must not carry out one of term 1 afterwards; refusing it is right, and
// so is carrying out term-1 orders before any of term 2 (invariant 11).
func TestAgentObeysNoOlderTerm(t *testing.T) {
	old, newer := takeoverOrder(10, "sb-1", 3), takeoverOrder(20, "sb-1", 4)

	v, c, s := multi(t)
	c.Observe(delivered(v, old, 1, nil)) // before the new leader reached it
	c.Observe(delivered(v, newer, 2, nil))
	c.Observe(delivered(v, old, 1, &transport.StaleTermError{Got: 1, Newest: 2}))
	wantNone(t, s)

	v, c, s = multi(t)
	c.Observe(delivered(v, newer, 2, nil))
	c.Observe(delivered(v, old, 1, nil))
	wantViolation(t, s, 11, "sb-1 carried out #10 takeover sb-1 for rec-1 epoch 3 of center term 1 after it had carried out an order of term 2")

	// Another server's term is its own.
	v, c, s = multi(t)
	c.Observe(delivered(v, newer, 2, nil))
	c.Observe(delivered(v, takeoverOrder(11, "sb-2", 3), 1, nil))
	wantNone(t, s)

	// A replaying agent acknowledges without carrying out.
	v, c, s = multi(t)
	c.Observe(delivered(v, newer, 2, nil))
	v.S("sb-1").Hostile = history.HostileReplay
	c.Observe(delivered(v, old, 1, nil))
	wantNone(t, s)
}

// TestOrderSentAfterItsTerm: an order that left once its term had ended
// (a newer term granted, or its lease no longer held) must be carried out
// by no agent; refused, it breaks nothing (invariant 11).
func TestOrderSentAfterItsTerm(t *testing.T) {
	cmd := takeoverOrder(30, "sb-2", 5)

	v, c, s := multi(t)
	persistEpoch(v, c)
	v.Centre.StoreTerm = 2
	c.Observe(sent(v, cmd, 1))
	c.Observe(delivered(v, cmd, 1, &transport.StaleTermError{Got: 1, Newest: 2}))
	wantNone(t, s)
	c.Observe(delivered(v, cmd, 1, nil))
	wantViolation(t, s, 11, "which its center sent once its term had ended: it left at 0s, when term 2 had been granted")

	v, c, s = multi(t)
	persistEpoch(v, c)
	v.Centre.LeaseHeld = false
	c.Observe(sent(v, cmd, 1))
	v.Centre.LeaseHeld = true // a later term, say: the order left too late all the same
	c.Observe(delivered(v, cmd, 1, nil))
	wantViolation(t, s, 11, "its lease no longer held in the store")

	// Sent while its term held, carried out after the next election by an
	// agent that has not obeyed the new term yet: an order in flight.
	v, c, s = multi(t)
	persistEpoch(v, c)
	c.Observe(sent(v, cmd, 1))
	v.Centre.StoreTerm, v.Centre.Term = 2, 2
	c.Observe(delivered(v, cmd, 1, nil))
	wantNone(t, s)
}

// TestOneCenterHasNoTerms: one center's orders carry term 0, which never
// breaks invariant 11, whatever the agents carried out before.
func TestOneCenterHasNoTerms(t *testing.T) {
	v, c, s := small(t)
	persistEpoch(v, c)
	c.Observe(sent(v, takeoverOrder(1, "sb-1", 1), 0))
	c.Observe(delivered(v, takeoverOrder(1, "sb-1", 1), 0, nil))
	c.Observe(delivered(v, takeoverOrder(2, "sb-1", 2), 0, nil))
	wantNone(t, s)
}

// TestStaleTermChangesNothing: an order refused for a stale term must
// leave the agent as it was, its term included (invariant 3).
func TestStaleTermChangesNothing(t *testing.T) {
	for _, changed := range []bool{false, true} {
		v, c, s := multi(t)
		before := history.ServerState{Term: 2, Newest: 4}
		after := before
		if changed {
			after.Newest = 5
		}
		e := delivered(v, takeoverOrder(9, "sb-1", 5), 1, &transport.StaleTermError{Got: 1, Newest: 2})
		e.Before, e.After = before, after
		c.Observe(e)
		if changed {
			wantViolation(t, s, 3, "refused as stale by sb-1 but changed its state")
		} else {
			wantNone(t, s)
		}
	}
}

// TestLeaderStopsWithItsRefusedState: a leader that stops while the lease
// store refuses its State holds exactly that State beyond the persisted
// one (invariant 8); without one to show, what it holds is unpersisted.
func TestLeaderStopsWithItsRefusedState(t *testing.T) {
	refused := failover.State{NextGroupID: 2, Epochs: []failover.EpochState{{Server: "rec-1", Epoch: 7}}}
	for _, show := range []bool{true, false} {
		v, c, s := multi(t)
		m := withMachine(v)
		m.St = refused
		e := history.Event{Kind: history.CenterCrash, Detail: "lease lost"}
		if show {
			e.State = &refused
		}
		c.Observe(v.Event(e))
		if show {
			wantNone(t, s)
		} else {
			wantViolation(t, s, 8, "the Machine holds changes it never persisted")
		}
	}
}
