package failover_test

import (
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/status"
)

// basicWorld is one group with two recording servers and two standbys, all
// up and settled.
func basicWorld(t *testing.T, cfg failover.Config) *world {
	t.Helper()
	w := newWorld(t, cfg)
	recs := []nvrha.Facts{recordingFacts("rec-1", 32), recordingFacts("rec-2", 16)}
	sbs := []nvrha.Facts{standbyFacts("sb-1", 32), standbyFacts("sb-2", 64)}
	w.serve(append(recs, sbs...)...)
	g := failover.DefaultGroupID
	if err := w.m.AddRecordingServers(g, recs...); err != nil {
		t.Fatal(err)
	}
	if err := w.m.AddStandbyServers(g, sbs...); err != nil {
		t.Fatal(err)
	}
	w.run(3 * time.Second)
	for _, id := range []nvrha.ServerID{"rec-1", "rec-2"} {
		if got := w.status(id); got != status.RecordingNormalProtected.Label() {
			t.Fatalf("%s settled as %q", id, got)
		}
	}
	return w
}

func TestCrashedRecordingServerIsTakenOverAndFailedBack(t *testing.T) {
	w := basicWorld(t, failover.Config{})
	w.servers["rec-1"].Crash()
	took, ok := w.until(10*time.Second, func() bool { return w.covering("sb-1") == "rec-1" })
	if !ok {
		t.Fatalf("sb-1 never took over rec-1; events: %v", w.events)
	}
	if took > 2500*time.Millisecond {
		t.Errorf("takeover took %v, want within 2.5s of the crash", took)
	}
	_, cams := w.servers["sb-1"].Covering()
	if len(cams) != 2 {
		t.Errorf("sb-1 records %v, want rec-1's 2 cameras", cams)
	}
	w.run(time.Second)
	if got := w.status("rec-1"); got != status.RecordingAbnormalProtected.Label() {
		t.Errorf("rec-1 is %q during takeover", got)
	}
	if got := w.status("sb-1"); got != status.StandbyNormalProtecting.Label() {
		t.Errorf("sb-1 is %q during takeover", got)
	}
	if got := w.covering("sb-2"); got != "" {
		t.Errorf("sb-2 covers %s; the smallest standby that fits rec-1 is sb-1", got)
	}

	w.servers["rec-1"].Restart()
	// Automatic failback after the 30 s hold-down.
	back, ok := w.until(40*time.Second, func() bool { return w.covering("sb-1") == "" })
	if !ok {
		t.Fatalf("no failback; events: %v", w.events)
	}
	if back < failover.DefaultHoldDown {
		t.Errorf("failback after %v, before the hold-down", back)
	}
	if !w.servers["rec-1"].Recording() {
		t.Error("rec-1 does not record after failback")
	}
	w.run(time.Second)
	if got := w.status("rec-1"); got != status.RecordingNormalProtected.Label() {
		t.Errorf("rec-1 is %q after failback", got)
	}
	if got := w.status("sb-1"); got != status.StandbyNormalProtectionReady.Label() {
		t.Errorf("sb-1 is %q after failback", got)
	}
	if n := len(w.eventsOf(failover.EventFailbackCompleted, "rec-1")); n != 1 {
		t.Errorf("%d failbacks completed", n)
	}

	// The ledger finds the footage: rec-1 before the crash, sb-1 during the
	// takeover, rec-1 again after.
	iv := w.m.Ledger("rec-1-cam-1")
	if len(iv) != 3 || iv[0].Server != "rec-1" || iv[1].Server != "sb-1" || iv[2].Server != "rec-1" {
		t.Fatalf("ledger %+v", iv)
	}
	if !iv[2].Open() || iv[1].Open() || iv[0].Open() {
		t.Errorf("ledger open/closed wrong: %+v", iv)
	}
	if !iv[2].From.Before(iv[1].To) && !iv[2].From.Equal(iv[1].To) {
		t.Errorf("gap between standby and failback: %+v", iv)
	}
	mid := iv[1].From.Add(iv[1].To.Sub(iv[1].From) / 2)
	h := w.m.HoldersAt("rec-1-cam-1", mid)
	if len(h) != 1 || h[0].Server != "sb-1" {
		t.Errorf("HoldersAt(mid-takeover) = %+v", h)
	}
	if e := w.servers["sb-1"].Newest("rec-1"); e != w.m.Epoch("rec-1") {
		t.Errorf("standby's newest epoch %d, machine's %d", e, w.m.Epoch("rec-1"))
	}
}
