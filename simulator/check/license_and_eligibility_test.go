package check

import (
	"testing"
	"time"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
)

// TestStandbyRecordsOverLicense: a standby that records more cameras than
// its license channels breaks invariant 2, unless its license was lowered
// under the running takeover.
func TestStandbyRecordsOverLicense(t *testing.T) {
	for _, lowered := range []bool{false, true} {
		v, c, s := small(t)
		v.At = 5 * time.Second
		sb := cover(v, "sb-1", "rec-1", 1)
		sb.Facts.LicenseChannels = 2
		if lowered {
			sb.LicenseBefore = []int{32}
		}
		c.Observe(v.Event(history.Event{Kind: history.Done, AllServers: true}))
		if lowered {
			wantNone(t, s)
		} else {
			wantViolation(t, s, 2, "sb-1 records 4 cameras of rec-1 with 2 license channels")
		}
	}
}

// TestTakeoverOfBarredStandby: a takeover started by a standby that
// failed takeovers breaks invariant 2 until its back-off is over, as
// persisted; after it, the standby may be ordered again.
func TestTakeoverOfBarredStandby(t *testing.T) {
	for _, tc := range []struct {
		name    string
		retryAt time.Duration // from the takeover; 0 for none
		broken  bool
	}{{"no retry time", 0, true}, {"within the back-off", time.Minute, true}, {"after the back-off", -time.Second, false}} {
		t.Run(tc.name, func(t *testing.T) {
			v, c, s := small(t)
			withMachine(v)
			v.At = 10 * time.Minute
			var retry time.Time
			if tc.retryAt != 0 {
				retry = history.Abs(v.At + tc.retryAt)
			}
			st := &failover.State{Groups: []failover.GroupState{{ID: failover.DefaultGroupID, Protection: true, Members: []failover.MemberState{
				{Facts: v.S("rec-1").Facts, Role: failover.RoleRecording, Enabled: true},
				{Facts: v.S("sb-1").Facts, Role: failover.RoleStandby, Enabled: true, TakeoverFailed: true, RetryAt: retry}}}}}
			v.Centre.Persisted = st
			c.Observe(v.Event(history.Event{Kind: history.Persisted, State: st}))
			c.Observe(v.Event(history.Event{Kind: history.MachineEvent,
				MachineEvent: &failover.Event{Kind: failover.EventTakeoverStarted, Server: "rec-1", Peer: "sb-1"}}))
			c.Observe(v.Event(history.Event{Kind: history.Done, Machine: true}))
			switch {
			case tc.broken:
				wantViolation(t, s, 2, "takeover of rec-1 by sb-1, which is not ready")
			case s.violations > 0 && s.inv == 2:
				// (The canned snapshot shows no statuses, which the later
				// checks of invariant 5 find.)
				t.Fatalf("invariant 2 violated: %s", s.detail)
			}
		})
	}
}
