package check

import (
	"testing"

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
