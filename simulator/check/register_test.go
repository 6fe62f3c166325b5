package check

import (
	"testing"
	"time"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
)

// noEarlyTakeover is a toy invariant, as a newcomer would write one in its
// own file: no takeover starts in the first minute.
type noEarlyTakeover struct{ takeovers int }

func (x *noEarlyTakeover) observe(c *Checker, e *history.Event) {
	if e.Kind == history.MachineEvent && e.MachineEvent.Kind == failover.EventTakeoverStarted {
		x.takeovers++
		if c.now < time.Minute {
			c.fail(99, "takeover "+string(e.MachineEvent.Server)+" in the first minute")
		}
	}
}

// TestRegisteredInvariant: an invariant registered by its file is checked
// by every Checker made afterwards, on every event, after the built-in
// checks.
func TestRegisteredInvariant(t *testing.T) {
	defer func(saved []func() invariant) { registered = saved; delete(registeredNames, 99) }(registered)
	register(99, "no takeover in the first minute", func() invariant { return &noEarlyTakeover{} })
	if Name(99) != "no takeover in the first minute" || Name(7) != Names[7] {
		t.Errorf("names %q, %q", Name(99), Name(7))
	}
	v, c, s := small(t)
	start := v.Event(history.Event{Kind: history.MachineEvent, MachineEvent: &failover.Event{Kind: failover.EventTakeoverStarted, Server: "rec-1", Peer: "sb-1"}})
	v.At = 2 * time.Minute
	c.Observe(v.Event(*start))
	wantNone(t, s)
	v.At = 30 * time.Second
	c.Observe(v.Event(*start))
	wantViolation(t, s, 99, "takeover rec-1 in the first minute")
	if n := c.extra[len(c.extra)-1].(*noEarlyTakeover).takeovers; n != 2 {
		t.Errorf("the invariant saw %d takeovers, want 2", n)
	}
}

// adminOnly is a toy invariant that reads only admin results.
type adminOnly struct{}

func (adminOnly) observe(*Checker, *history.Event)      {}
func (adminOnly) wants(_ *Checker, k history.Kind) bool { return k == history.Admin }

// TestRegisteredInvariantGetsWhatItWants: the world sends a Checker only
// the kinds it Wants, so a registered invariant that reads kinds the
// built-in checks skip (admin results, actions, refusals) must turn them
// on, and only those it wants.
func TestRegisteredInvariantGetsWhatItWants(t *testing.T) {
	skipped := []history.Kind{history.ActionTaken, history.Admin, history.Refused}
	_, c, _ := small(t)
	for _, k := range skipped {
		if c.Wants(k) {
			t.Errorf("a Checker without registered invariants wants %v", k)
		}
	}
	defer func(saved []func() invariant) {
		registered = saved
		delete(registeredNames, 98)
		delete(registeredNames, 99)
	}(registered)
	register(98, "reads admin results", func() invariant { return adminOnly{} })
	_, c, _ = small(t)
	if !c.Wants(history.Admin) || c.Wants(history.ActionTaken) || c.Wants(history.Refused) {
		t.Errorf("with an invariant that wants admin results: Admin %v, ActionTaken %v, Refused %v",
			c.Wants(history.Admin), c.Wants(history.ActionTaken), c.Wants(history.Refused))
	}
	register(99, "reads everything", func() invariant { return &noEarlyTakeover{} })
	_, c, _ = small(t)
	for _, k := range skipped {
		if !c.Wants(k) {
			t.Errorf("with an invariant that reads every event, the Checker does not want %v", k)
		}
	}
}
