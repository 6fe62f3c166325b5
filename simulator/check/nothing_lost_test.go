package check

import (
	"testing"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
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
