package failover_test

import (
	"context"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/transport"
)

// A broken or hostile standby that holds an absurd epoch for a recording
// server (one keyed release with 2^64-1 is enough) cannot push the center's
// epochs to the edge of their range: its refusals count as failures, the
// next standby takes over under a small epoch, and the state the center
// saved restores.
func TestAbsurdEpochAnswerIsNotAdopted(t *testing.T) {
	for _, absurd := range []nvrha.Epoch{^nvrha.Epoch(0), failover.MaxEpoch + 1, 4 * failover.MaxEpochJump} {
		t.Run("", func(t *testing.T) {
			w := newWorld(t, failover.Config{})
			// sb-1 is the smallest standby that fits, so it is tried first.
			w.serve(standbyFacts("sb-1", 16), standbyFacts("sb-2", 32), recordingFacts("rec-1", 16))
			if err := w.servers["sb-1"].Release(context.Background(), transport.ReleaseOrder{Recording: "rec-1", Epoch: absurd}); err != nil {
				t.Fatal(err)
			}
			g := failover.DefaultGroupID
			mustAddStandby(t, w.m, g, standbyFacts("sb-1", 16), standbyFacts("sb-2", 32))
			mustAddRecording(t, w.m, g, recordingFacts("rec-1", 16))
			w.run(3 * time.Second)
			w.servers["rec-1"].Crash()
			w.waitFor(10*time.Second, "sb-2 covers rec-1", func() bool { return w.covering("sb-2") == "rec-1" })
			if e := w.m.Epoch("rec-1"); e == 0 || e > 100 {
				t.Errorf("rec-1's epoch is %d after one bad answer of %d", e, absurd)
			}
			if _, ok := w.lastEvent(failover.EventTakeoverFailed, "rec-1"); !ok {
				t.Errorf("sb-1 refused every takeover, yet no takeover failed:\n%s", eventLines(w.events))
			}
			if got := w.coverers("rec-1"); len(got) != 1 || got[0] != "sb-2" {
				t.Errorf("rec-1 covered by %v, want sb-2 alone", got)
			}
			w.run(5 * time.Second)
			if _, err := failover.RestoreMachine(failover.Config{}, *w.saved, w.now); err != nil {
				t.Fatalf("the state the center saved does not load: %v", err)
			}
		})
	}
}

// An epoch one below the top is still issued, and the one after it does not
// wrap to zero: the state saved there loads.
func TestEpochsNeverWrap(t *testing.T) {
	w := newWorld(t, failover.Config{})
	w.serve(standbyFacts("sb-1", 16), recordingFacts("rec-1", 16))
	g := failover.DefaultGroupID
	mustAddStandby(t, w.m, g, standbyFacts("sb-1", 16))
	mustAddRecording(t, w.m, g, recordingFacts("rec-1", 16))
	w.run(time.Second)
	st := *w.saved
	st.Epochs = append(st.Epochs[:0:0], failover.EpochState{Server: "rec-1", Epoch: ^nvrha.Epoch(0) - 1})
	w.restartFrom(st)
	// The agents hold a top epoch the restored center knows of, as after
	// years under a center that was given such a state.
	for i := 0; i < 3; i++ {
		w.servers["rec-1"].Crash()
		w.waitFor(5*time.Second, "sb-1 covers rec-1", func() bool { return w.covering("sb-1") == "rec-1" })
		w.servers["rec-1"].Restart()
		w.run(40 * time.Second)
	}
	if e := w.m.Epoch("rec-1"); e < ^nvrha.Epoch(0)-1 {
		t.Fatalf("epoch went back to %d", e)
	}
	if _, err := failover.RestoreMachine(failover.Config{}, *w.saved, w.now); err != nil {
		t.Fatalf("the state the center saved does not load: %v", err)
	}
}
