package failover_test

import (
	"context"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/transport"
)

// A recording server that answers healthy, is covered by nobody, and says it
// does not record is the silent loss behind a "Normal" status: it is told to
// resume, and the ledger never names it as holding the footage it did not
// record.
func TestHealthyUncoveredServerNotRecordingIsResumed(t *testing.T) {
	w := settled(t, failover.Config{}, []nvrha.Facts{standbyFacts("sb-1", 16)}, []nvrha.Facts{recordingFacts("rec-1", 16)})
	rec := w.servers["rec-1"]
	cam := recordingFacts("rec-1", 16).Cameras[0]
	// The agent stops recording behind the center's back (a stand-down
	// from an order the center has forgotten, a bug): it stays healthy.
	if err := rec.StandDown(context.Background(), transport.StandDownOrder{Epoch: max(1, w.m.Epoch("rec-1"))}); err != nil {
		t.Fatal(err)
	}
	if rec.Recording() {
		t.Fatal("agent still records after a stand-down")
	}
	stopped := w.now
	w.waitFor(3*time.Second, "rec-1 records again", rec.Recording)
	if _, ok := w.lastEvent(failover.EventNotRecording, "rec-1"); !ok {
		t.Errorf("no %s event:\n%s", failover.EventNotRecording, eventLines(w.events))
	}
	w.run(time.Second)
	// The ledger may not claim rec-1 recorded while it said it did not.
	if hs := w.m.HoldersAt(cam, stopped); len(hs) != 0 {
		t.Errorf("ledger names %v as holders of %s after rec-1 stopped recording: %+v", hs, cam, w.m.Ledger(cam))
	}
	if hs := w.m.HoldersAt(cam, w.now); len(hs) != 1 || hs[0].Server != "rec-1" {
		t.Errorf("after the resume the ledger names %+v for %s now, want rec-1", hs, cam)
	}
	w.wantStatus("rec-1", recNormalProtected)
	w.wantEpochsIssued("rec-1")
}

// Servers that record as they should are never told to resume: not in a
// quiet world, not through a crash, a takeover and a failback.
func TestRecordingServersThatRecordOrderNothing(t *testing.T) {
	w := settled(t, failover.Config{Failback: failover.FailbackPolicy{HoldDown: 3 * time.Second}},
		[]nvrha.Facts{standbyFacts("sb-1", 16)}, recordingBatch("rec", 3, 16))
	w.run(5 * time.Second)
	w.servers["rec-2"].Crash()
	w.waitFor(5*time.Second, "sb-1 covers rec-2", func() bool { return w.covering("sb-1") == "rec-2" })
	w.servers["rec-2"].Restart()
	w.waitFor(10*time.Second, "failback of rec-2", func() bool {
		_, ok := w.lastEvent(failover.EventFailbackCompleted, "rec-2")
		return ok
	})
	w.run(5 * time.Second)
	if n := len(w.eventsOf(failover.EventNotRecording, "")); n != 0 {
		t.Fatalf("%d not-recording events for servers that record:\n%s", n, eventLines(w.events))
	}
	for _, id := range []nvrha.ServerID{"rec-1", "rec-3"} {
		if e := w.m.Epoch(id); e != 0 {
			t.Errorf("%s: epoch %d issued with nothing to order", id, e)
		}
	}
}
