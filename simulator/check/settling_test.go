package check

import (
	"testing"
	"time"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
)

// TestShortPauseDeclaredFailed: a server declared failed while it was
// neither down nor disturbed within the detection budget breaks invariant
// 7; one disturbed a moment ago does not.
func TestShortPauseDeclaredFailed(t *testing.T) {
	for _, disturbed := range []bool{true, false} {
		v, c, s := small(t)
		v.At = time.Minute
		if disturbed {
			v.S("rec-1").DisturbedAt = v.At - time.Second
		}
		c.Observe(&history.Event{Kind: history.MachineEvent, MachineEvent: &failover.Event{Kind: failover.EventServerDown, Server: "rec-1"}})
		if disturbed {
			wantNone(t, s)
		} else {
			wantViolation(t, s, 7, "rec-1 declared failed, but it only paused within the acceptable pause")
		}
	}
}
