package check

import (
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
	"github.com/nvrha/nvrha/transport"
)

// TestStaleOrderChangesNothing: an order a server refuses as stale must
// leave it as it was (invariant 3).
func TestStaleOrderChangesNothing(t *testing.T) {
	for _, changed := range []bool{false, true} {
		v, c, s := small(t)
		before := history.ServerState{Covering: "rec-1", CoverEpoch: 4, Newest: 4, Cover: true, CoverOn: true}
		after := before
		if changed {
			after.Covering, after.Cover, after.CoverOn = "", false, false
		}
		c.Observe(v.Event(history.Event{Kind: history.Delivered, Server: v.S("sb-1").Index, Before: before, After: after,
			Command: &failover.Command{ID: 9, Kind: failover.CmdRelease, Server: "sb-1", Recording: "rec-1", Epoch: 3},
			Result:  &failover.Result{ID: 9, Err: &transport.StaleEpochError{Key: "rec-1", Got: 3, Newest: 4}}}))
		if changed {
			wantViolation(t, s, 3, "refused as stale by sb-1 but changed its state")
		} else {
			wantNone(t, s)
		}
	}
}

// TestEpochPersistedBeforeSent: an order may carry only an epoch the
// center persisted before it left, and one epoch serves one change of who
// records (invariant 3).
func TestEpochPersistedBeforeSent(t *testing.T) {
	takeover := func(sb nvrha.ServerID, e nvrha.Epoch) *history.Event {
		return &history.Event{Kind: history.CommandSent, Known: true,
			Command: &failover.Command{ID: uint64(e) + 100, Kind: failover.CmdTakeover, Server: sb, Recording: "rec-1", Epoch: e}}
	}
	persisted := &failover.State{Epochs: []failover.EpochState{{Server: "rec-1", Epoch: 2}}}

	v, c, s := small(t)
	c.Observe(v.Event(history.Event{Kind: history.Persisted, State: persisted}))
	c.Observe(takeover("sb-1", 3))
	wantViolation(t, s, 3, "carries epoch 3 for rec-1, but only 2 was persisted")

	v, c, s = small(t)
	c.Observe(v.Event(history.Event{Kind: history.Persisted, State: persisted}))
	c.Observe(takeover("sb-1", 2))
	c.Observe(takeover("sb-1", 2)) // the same takeover ordered again
	wantNone(t, s)
	c.Observe(takeover("sb-2", 2))
	wantViolation(t, s, 3, "reuses epoch 2 of rec-1, already used for takeover by sb-1")
}

// TestPersistedChangesChecked: Changes persisted to a State are checked
// as a whole State would be: an epoch sent must not go down (invariant 3),
// and a camera's intervals only grow, dropping the oldest only at the
// ledger's limit (8).
func TestPersistedChangesChecked(t *testing.T) {
	at := history.Abs
	iv := func(server nvrha.ServerID, from, to time.Duration) failover.Interval {
		i := failover.Interval{Server: server, For: "rec-1", Epoch: 1, From: at(from)}
		if to > 0 {
			i.To = at(to)
		}
		return i
	}
	prev := &failover.State{
		Epochs: []failover.EpochState{{Server: "rec-1", Epoch: 2}},
		Ledger: []failover.CameraLedger{{Camera: "cam-1", Intervals: []failover.Interval{iv("rec-1", 0, 5*time.Second), iv("sb-1", 4*time.Second, 0)}}},
	}
	for _, tc := range []struct {
		name   string
		c      failover.Changes
		inv    int
		detail string
	}{
		{"the open interval closed", failover.Changes{Ledger: []failover.LedgerChange{{Camera: "cam-1", Keep: 1,
			Intervals: []failover.Interval{iv("sb-1", 4*time.Second, 9*time.Second)}}}}, 0, ""},
		{"an interval added", failover.Changes{Ledger: []failover.LedgerChange{{Camera: "cam-1", Keep: 2,
			Intervals: []failover.Interval{iv("rec-1", 9*time.Second, 0)}}}}, 0, ""},
		{"a new camera", failover.Changes{Ledger: []failover.LedgerChange{{Camera: "cam-0",
			Intervals: []failover.Interval{iv("rec-1", 9*time.Second, 0)}}}}, 0, ""},
		{"the epoch raised", failover.Changes{Epochs: []failover.EpochState{{Server: "rec-1", Epoch: 3}}}, 0, ""},
		{"a closed interval rewritten", failover.Changes{Ledger: []failover.LedgerChange{{Camera: "cam-1",
			Intervals: []failover.Interval{iv("rec-1", 0, 6*time.Second), iv("sb-1", 4*time.Second, 0)}}}}, 8, "do not extend them"},
		{"an interval lost", failover.Changes{Ledger: []failover.LedgerChange{{Camera: "cam-1", Keep: 1}}}, 8, "do not extend them"},
		{"the oldest dropped below the limit", failover.Changes{Ledger: []failover.LedgerChange{{Camera: "cam-1", Trim: 1, Keep: 1}}}, 8, "under the limit"},
		{"more kept than there are", failover.Changes{Ledger: []failover.LedgerChange{{Camera: "cam-1", Keep: 3}}}, 8, "keeps 3 of 2"},
		{"the epoch lowered below one sent", failover.Changes{Epochs: []failover.EpochState{{Server: "rec-1", Epoch: 1}}}, 3, "went down to 1 after 2 was sent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, c, s := small(t)
			c.Observe(v.Event(history.Event{Kind: history.Persisted, State: prev}))
			c.Observe(v.Event(history.Event{Kind: history.CommandSent, Known: true,
				Command: &failover.Command{ID: 7, Kind: failover.CmdTakeover, Server: "sb-1", Recording: "rec-1", Epoch: 2}}))
			c.Observe(v.Event(history.Event{Kind: history.Persisted, Prev: prev, Changes: &tc.c}))
			if tc.inv == 0 {
				wantNone(t, s)
			} else {
				wantViolation(t, s, tc.inv, tc.detail)
			}
		})
	}
}
