package check

import (
	"testing"
	"time"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
	"github.com/nvrha/nvrha/status"
)

// TestRestoredMachinePersistsFirst: the first Ready of a restored Machine
// that sends commands must persist its State (invariant 8).
func TestRestoredMachinePersistsFirst(t *testing.T) {
	v, c, s := small(t)
	probe := failover.Command{ID: 12, Kind: failover.CmdProbe, Server: "rec-1"}
	c.Observe(v.Event(history.Event{Kind: history.RestoredReady, Ready: &failover.Ready{State: &failover.State{}, Commands: []failover.Command{probe}}}))
	wantNone(t, s)
	c.Observe(v.Event(history.Event{Kind: history.RestoredReady, Ready: &failover.Ready{Commands: []failover.Command{probe}}}))
	wantViolation(t, s, 8, "sends commands before it persisted its State")
}

// TestCommandIDsAfterRestart: a restored Machine must not hand out a
// command ID an earlier incarnation sent (invariant 8).
func TestCommandIDsAfterRestart(t *testing.T) {
	for _, next := range []uint64{8, 5} {
		v, c, s := small(t)
		m := withMachine(v)
		c.Observe(v.Event(history.Event{Kind: history.CommandSent, Known: true, Command: &failover.Command{ID: 7, Kind: failover.CmdProbe, Server: "rec-1"}}))
		v.Centre.Up = false
		c.Observe(v.Event(history.Event{Kind: history.CenterCrash}))
		st := failover.State{NextCommandID: next}
		m.St = st
		v.Centre.Up = true
		c.Observe(v.Event(history.Event{Kind: history.CenterRestarted, State: &st}))
		if next > 7 {
			wantNone(t, s)
		} else {
			wantViolation(t, s, 8, "next command ID is 5, but IDs up to 7 were sent")
		}
	}
}

// TestHolderNamedUnlessDownSinceInTheSameEvent: after a completed
// failback the ledger must name the recording server as the holder of its
// cameras (invariant 8), unless the same event declared it down since: a
// failback completes when its standby goes down, in a tick that may find
// the recording server down too, and its interval then ends where it was
// last seen.
func TestHolderNamedUnlessDownSinceInTheSameEvent(t *testing.T) {
	for _, downSince := range []bool{true, false} {
		v, c, s := small(t)
		m := withMachine(v)
		setStatuses(m, status.RecordingNormalProtected, status.StandbyNormalProtectionReady)
		st := persistAll(v, m)
		c.Observe(v.Event(history.Event{Kind: history.Persisted, State: st}))
		v.At = time.Minute
		machineEvent(c, failover.EventFailbackCompleted, "rec-1", "sb-1", 7)
		if downSince {
			rec := v.S("rec-1")
			rec.Crashed, rec.DisturbedAt, v.Last = true, v.At, v.At
			machineEvent(c, failover.EventServerDown, "rec-1", "", 0)
		}
		c.Observe(v.Event(history.Event{Kind: history.Done, Machine: true}))
		if downSince {
			wantNone(t, s)
		} else {
			wantViolation(t, s, 8, "after failback-completed the ledger does not name rec-1 as a holder of rec-1/cam-01 now")
		}
	}
}
