package check

import (
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
	"github.com/nvrha/nvrha/status"
	"github.com/nvrha/nvrha/transport"
)

// setStandby sets standby id's status and back-off in the Canned
// Machine's snapshot.
func setStandby(m *history.Canned, id nvrha.ServerID, st status.Standby, retryAt time.Time) {
	for gi := range m.Snap.Groups {
		for mi := range m.Snap.Groups[gi].Members {
			if ms := &m.Snap.Groups[gi].Members[mi]; ms.ID == id {
				ms.Standby, ms.RetryAt = st, retryAt
			}
		}
	}
}

func machineEvent(c *Checker, k failover.EventKind, rec, sb nvrha.ServerID, e nvrha.Epoch) {
	observeNow(c, history.Event{Kind: history.MachineEvent, MachineEvent: &failover.Event{Kind: k, Server: rec, Peer: sb, Epoch: e}})
}

// TestRefusingStandbyHeld: a standby that refuses every takeover while it
// answers, once given up, shows "Abnormal, protection failed" with a
// back-off of at least FailedStandbyBackoff, and keeps that status until
// a takeover by it is confirmed or an operator looks at it (invariant 10).
func TestRefusingStandbyHeld(t *testing.T) {
	backoff := failover.DefaultFailedStandbyBackoff
	for _, tc := range []struct {
		name    string
		status  status.Standby
		retryIn time.Duration
		later   func(v *history.Static, c *Checker, m *history.Canned)
		want    string
	}{
		{name: "held", status: status.StandbyAbnormalProtectionFailed, retryIn: backoff},
		{name: "shown ready", status: status.StandbyNormalProtectionReady, retryIn: backoff, want: `but once given up it shows "Normal, protection ready"`},
		{name: "ordered again soon", status: status.StandbyAbnormalProtectionFailed, retryIn: 5 * time.Second, want: "may be ordered again at"},
		{name: "status lost", status: status.StandbyAbnormalProtectionFailed, retryIn: backoff,
			later: func(_ *history.Static, _ *Checker, m *history.Canned) {
				setStandby(m, "sb-1", status.StandbyNormalProtectionReady, time.Time{})
			},
			want: `sb-1 refused takeovers and was given up at 1m0s, but it shows "Normal, protection ready"`},
		{name: "confirmed", status: status.StandbyAbnormalProtectionFailed, retryIn: backoff,
			later: func(_ *history.Static, c *Checker, m *history.Canned) {
				machineEvent(c, failover.EventTakeoverSucceeded, "rec-1", "sb-1", 4)
				setStandby(m, "sb-1", status.StandbyNormalProtecting, time.Time{})
			}},
		{name: "re-enabled", status: status.StandbyAbnormalProtectionFailed, retryIn: backoff,
			later: func(v *history.Static, _ *Checker, m *history.Canned) {
				v.S("sb-1").AdminAt = v.At
				setStandby(m, "sb-1", status.StandbyNormalProtectionReady, time.Time{})
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, c, s := small(t)
			m := withMachine(v)
			v.At = time.Minute
			v.S("sb-1").Hostile = history.HostileRefuseTakeover
			setStandby(m, "sb-1", tc.status, history.Abs(v.At+tc.retryIn))
			machineEvent(c, failover.EventTakeoverFailed, "rec-1", "sb-1", 3)
			if tc.later != nil && !c.Failed() {
				ticks(v, c, v.At+time.Second)
				tc.later(v, c, m)
			}
			ticks(v, c, v.At+time.Second)
			if tc.want == "" {
				wantNone(t, s)
			} else {
				wantViolation(t, s, 10, tc.want)
			}
		})
	}
}

// TestRefusingStandbyGivenUpWhileCut: a refusing standby whose link was
// cut when it was given up did not answer: the Machine may judge it by
// its detector instead (invariant 10 does not apply).
func TestRefusingStandbyGivenUpWhileCut(t *testing.T) {
	v, c, s := small(t)
	m := withMachine(v)
	v.At = time.Minute
	sb := v.S("sb-1")
	sb.Hostile = history.HostileRefuseTakeover
	v.Cut[sb.Index] = true
	setStandby(m, "sb-1", status.StandbyAbnormal, time.Time{})
	machineEvent(c, failover.EventTakeoverFailed, "rec-1", "sb-1", 3)
	ticks(v, c, v.At+time.Second)
	wantNone(t, s)
}

// orders shows the checker takeover orders of sb-1 for rec-1, one every
// gap, under epochs from e on (the same epoch when same), after a State
// that persisted them.
func orders(v *history.Static, c *Checker, n int, gap time.Duration, e nvrha.Epoch, same bool) {
	observeNow(c, history.Event{Kind: history.Persisted, State: &failover.State{Epochs: []failover.EpochState{{Server: "rec-1", Epoch: e + 100}}}})
	for i := range n {
		observeNow(c, history.Event{Kind: history.CommandSent, Known: true,
			Command: &failover.Command{ID: uint64(v.At / time.Millisecond), Kind: failover.CmdTakeover, Server: "sb-1", Recording: "rec-1", Epoch: e}})
		if !same {
			e++
		}
		if i < n-1 {
			v.At += gap
		}
	}
}

// TestHostileStandbyOrdersBounded: a hostile standby gets at most
// TakeoverAttempts takeover orders within FailedStandbyBackoff while its
// link is calm (invariant 10); an interrupted try does not count.
func TestHostileStandbyOrdersBounded(t *testing.T) {
	for _, tc := range []struct {
		name    string
		first   int
		gap     time.Duration
		between func(v *history.Static, c *Checker)
		then    int
		broken  bool
	}{
		{name: "six", first: 6, gap: 300 * time.Millisecond},
		{name: "seven", first: 6, gap: 300 * time.Millisecond, then: 1, broken: true},
		{name: "a minute apart", first: 6, gap: 300 * time.Millisecond, then: 6,
			between: func(v *history.Static, _ *Checker) { v.At += time.Minute }},
		{name: "interrupted", first: 5, gap: 300 * time.Millisecond, then: 6,
			between: func(v *history.Static, c *Checker) {
				machineEvent(c, failover.EventTakeoverInterrupted, "rec-1", "sb-1", 1)
			}},
		{name: "cut off", first: 5, gap: 300 * time.Millisecond, then: 6,
			between: func(v *history.Static, _ *Checker) { v.S("sb-1").DisturbedAt = v.At + 500*time.Millisecond }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, c, s := small(t)
			v.At = time.Minute
			v.S("sb-1").Hostile = history.HostileRefuseTakeover
			orders(v, c, tc.first, tc.gap, 1, false)
			if tc.between != nil {
				tc.between(v, c)
			}
			v.At += time.Second
			orders(v, c, tc.then, tc.gap, 20, false)
			if tc.broken {
				wantViolation(t, s, 10, "sb-1 (refuse-takeover) got 7 takeover orders within 2.5s (at most 6)")
			} else {
				wantNone(t, s)
			}
		})
	}
}

// TestSoundStandbyOrdersUnbounded: a sound standby may be ordered to
// take over as often as recording servers fail.
func TestSoundStandbyOrdersUnbounded(t *testing.T) {
	v, c, s := small(t)
	v.At = time.Minute
	orders(v, c, 20, 300*time.Millisecond, 1, false)
	wantNone(t, s)
}

// TestReorderedUnderOneEpoch: a hostile standby ordered again and again
// to take over under one epoch, the takeover confirmed each time (its
// probes deny it), gets no more orders than any other hostile standby: the
// seventh within a minute violates invariant 10.
func TestReorderedUnderOneEpoch(t *testing.T) {
	v, c, s := small(t)
	v.At = time.Minute
	v.S("sb-1").Hostile = history.HostileFakeTakeover
	for i := range 7 {
		orders(v, c, 1, 0, 7, true)
		if i < 6 {
			wantNone(t, s)
		}
		machineEvent(c, failover.EventTakeoverSucceeded, "rec-1", "sb-1", 7)
		v.At += 200 * time.Millisecond
	}
	wantViolation(t, s, 10, "sb-1 (fake-takeover) got 7 takeover orders within 1.2s (at most 6)")
}

// TestStaleRetriesCount: a takeover ordered again above the epoch the
// standby claimed counts like any order: past the last attempt it
// violates invariant 10.
func TestStaleRetriesCount(t *testing.T) {
	v, c, s := small(t)
	v.At = time.Minute
	v.S("sb-1").Hostile = history.HostileLeapEpoch
	orders(v, c, 6, 300*time.Millisecond, 1, false)
	cmd := &failover.Command{ID: 1, Kind: failover.CmdTakeover, Server: "sb-1", Recording: "rec-1", Epoch: 6}
	observeNow(c, history.Event{Kind: history.Delivered, Server: v.S("sb-1").Index, Command: cmd,
		Result: &failover.Result{ID: 1, Err: &transport.StaleEpochError{Key: "rec-1", Got: 6, Newest: 50}}})
	wantNone(t, s)
	v.At += 3 * time.Millisecond
	orders(v, c, 1, 0, 51, false)
	wantViolation(t, s, 10, "sb-1 (leap-epoch) got 7 takeover orders within 1.503s (at most 6)")
}

// TestEpochsFarFromTheEnd: no epoch of the Machine's or of an order comes
// near the end of the range, whatever agents claim (invariant 3).
func TestEpochsFarFromTheEnd(t *testing.T) {
	_, c, s := small(t)
	observeNow(c, history.Event{Kind: history.Persisted, State: &failover.State{Epochs: []failover.EpochState{{Server: "rec-1", Epoch: ^nvrha.Epoch(0)}}}})
	observeNow(c, history.Event{Kind: history.CommandSent, Known: true,
		Command: &failover.Command{ID: 1, Kind: failover.CmdRelease, Server: "sb-1", Recording: "rec-1", Epoch: failover.MaxEpoch + 5}})
	wantNone(t, s)
	observeNow(c, history.Event{Kind: history.CommandSent, Known: true,
		Command: &failover.Command{ID: 2, Kind: failover.CmdRelease, Server: "sb-1", Recording: "rec-1", Epoch: ^nvrha.Epoch(0)}})
	wantViolation(t, s, 3, "near the end of the range")

	v, c, s := small(t)
	m := withMachine(v)
	m.Epochs = map[nvrha.ServerID]nvrha.Epoch{"rec-2": failover.MaxEpoch + failover.MaxEpochJump + 1}
	observeNow(c, history.Event{Kind: history.Done, Machine: true})
	wantViolation(t, s, 3, "the Machine's epoch for rec-2 is 9223372041149743105, near the end of the range")
}

// TestStrayCover: a standby that acknowledged a release and records on
// violates invariant 1 once the release budget has passed, as any
// standby that records cameras the Machine does not have it cover.
func TestStrayCover(t *testing.T) {
	v, c, s := small(t)
	withMachine(v)
	v.At = 10 * time.Second
	sb := cover(v, "sb-1", "rec-1", 3)
	observeNow(c, history.Event{Kind: history.Delivered, Server: sb.Index, Result: &failover.Result{ID: 1},
		Command: &failover.Command{ID: 1, Kind: failover.CmdRelease, Server: "sb-1", Recording: "rec-1", Epoch: 4}})
	ticks(v, c, v.At+c.Budgets().Fence+time.Second)
	wantViolation(t, s, 1, "sb-1 still records rec-1's cameras (epoch 3)")
}

// observeNow shows the checker e at the view's present time.
func observeNow(c *Checker, e history.Event) {
	e.At = c.v.Now()
	c.Observe(&e)
}

// TestRestoredOrdersAreTheRestores: the takeover orders a Machine sends
// in the event that restored it re-send the takeovers it persisted; they
// do not count against a hostile standby's tries (invariant 10), the
// orders of the events after do.
func TestRestoredOrdersAreTheRestores(t *testing.T) {
	for _, restored := range []bool{true, false} {
		v, c, s := small(t)
		v.At = time.Minute
		v.S("sb-1").Hostile = history.HostileRefuseTakeover
		if restored {
			c.Observe(v.Event(history.Event{Kind: history.RestoredReady, Ready: &failover.Ready{State: &failover.State{}}}))
		}
		orders(v, c, 1, 0, 1, false)
		c.Observe(v.Event(history.Event{Kind: history.Done}))
		v.At += 10 * time.Second
		orders(v, c, 6, 300*time.Millisecond, 20, false)
		if restored {
			wantNone(t, s)
		} else {
			wantViolation(t, s, 10, "sb-1 (refuse-takeover) got 7 takeover orders within 11.5s (at most 6)")
		}
	}
}
