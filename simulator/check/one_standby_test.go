package check

import (
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/simulator/history"
)

// cover makes standby id record rec's cameras under epoch e, as a takeover
// order it carried out does.
func cover(v *history.Static, id, rec nvrha.ServerID, e nvrha.Epoch) *history.ServerTruth {
	sb := v.S(id)
	sb.Covering, sb.CoverEpoch, sb.CoverCameras = rec, e, v.S(rec).Facts.Cameras
	sb.Cover = history.Footage{On: true, Of: rec, Cams: v.S(rec).OwnCams}
	return sb
}

// TestTwoStandbysOneEpoch: two standbys that record rec-1's cameras under
// the same epoch break invariant 1, whichever starts first; under two
// epochs (the older one fenced off, its release on the way) they do not.
func TestTwoStandbysOneEpoch(t *testing.T) {
	for _, tc := range []struct {
		second   nvrha.Epoch
		broken   bool
		sb2First bool
	}{{5, true, false}, {5, true, true}, {6, false, false}} {
		v, c, s := small(t)
		v.At = 5 * time.Second
		first, second := func() {
			c.Observe(v.Event(history.Event{Kind: history.Done, Touched: []int{cover(v, "sb-1", "rec-1", 5).Index}}))
		}, func() {
			c.Observe(v.Event(history.Event{Kind: history.Done, Touched: []int{cover(v, "sb-2", "rec-1", tc.second).Index}}))
		}
		if tc.sb2First {
			first, second = second, first
		}
		first()
		second()
		if tc.broken {
			wantViolation(t, s, 1, "sb-1 and sb-2 both record rec-1's cameras under epoch 5")
		} else {
			wantNone(t, s)
		}
	}
}

// TestUnwantedStandbyReleased: a standby that records rec-1's cameras
// while the Machine has it as nobody's peer must stop within the release
// budget (invariant 1, liveness).
func TestUnwantedStandbyReleased(t *testing.T) {
	v, c, s := small(t)
	withMachine(v)
	v.At = 10 * time.Second
	cover(v, "sb-1", "rec-1", 3)
	ticks(v, c, v.At+c.Budgets().Fence)
	wantNone(t, s)
	ticks(v, c, v.At+time.Second)
	wantViolation(t, s, 1, "sb-1 still records rec-1's cameras (epoch 3)")
}
