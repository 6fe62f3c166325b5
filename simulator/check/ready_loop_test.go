package check

import (
	"testing"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
)

// TestMalformedCommand: a command without a valid kind, server or ID
// breaks invariant 0.
func TestMalformedCommand(t *testing.T) {
	v, c, s := small(t)
	c.Observe(v.Event(history.Event{Kind: history.CommandSent, Known: true, Command: &failover.Command{ID: 1, Kind: failover.CmdProbe, Server: "rec-1"}}))
	wantNone(t, s)
	c.Observe(v.Event(history.Event{Kind: history.CommandSent, Malformed: true, Command: &failover.Command{Kind: failover.CmdProbe, Server: "rec-1"}}))
	wantViolation(t, s, 0, "malformed command")
}
