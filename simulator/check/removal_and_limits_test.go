package check

import (
	"fmt"
	"testing"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
)

// TestRemoveInTakeover: removing a server the Machine shows in a takeover
// must fail with ErrInTakeover (invariant 6).
func TestRemoveInTakeover(t *testing.T) {
	for _, tc := range []struct {
		inTakeover bool
		err        error
		broken     string
	}{
		{false, nil, ""},
		{true, fmt.Errorf("remove rec-1: %w", failover.ErrInTakeover), ""},
		{true, nil, "the Machine removed rec-1, which was in the takeover process"},
		{true, failover.ErrNotMember, "want ErrInTakeover"},
	} {
		v, c, s := small(t)
		c.Observe(v.Event(history.Event{Kind: history.Removed, Server: v.S("rec-1").Index, InTakeover: tc.inTakeover, Err: tc.err}))
		if tc.broken == "" {
			wantNone(t, s)
		} else {
			wantViolation(t, s, 6, tc.broken)
		}
	}
}

// TestDeleteDefaultGroup: deleting the default group must fail with
// ErrDefaultGroup (invariant 6).
func TestDeleteDefaultGroup(t *testing.T) {
	v, c, s := small(t)
	c.Observe(v.Event(history.Event{Kind: history.GroupDeleted, Group: 0, Err: failover.ErrDefaultGroup}))
	wantNone(t, s)
	c.Observe(v.Event(history.Event{Kind: history.GroupDeleted, Group: 0}))
	wantViolation(t, s, 6, "deleting the default group gave no error")
}
