package failover_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
)

// A standby that covers a recovered server in its hold-down is reclaimed as
// soon as another failed server has no standby: make-before-break, so the
// recovered server records throughout, and the waiting server is covered in
// seconds, not at the end of the hold-down.
func TestStandbyInHoldDownIsReclaimedForAFailedServer(t *testing.T) {
	cfg := failover.Config{Failback: failover.FailbackPolicy{HoldDown: 15 * time.Second}}
	w := settled(t, cfg, []nvrha.Facts{standbyFacts("sb-1", 16)}, recordingBatch("rec", 2, 16))
	w.servers["rec-1"].Crash()
	w.waitFor(5*time.Second, "sb-1 covers rec-1", func() bool { return w.covering("sb-1") == "rec-1" })
	w.servers["rec-1"].Restart()
	w.waitFor(3*time.Second, "rec-1 up", func() bool { return w.member("rec-1").Health == nvrha.HealthUp })
	w.run(time.Second)
	w.servers["rec-2"].Crash()
	crashed := w.now
	took := w.waitFor(10*time.Second, "sb-1 covers rec-2", func() bool { return w.covering("sb-1") == "rec-2" })
	if took > 5*time.Second {
		t.Errorf("rec-2 waited %v for the standby of a recovered server", took)
	}
	e, ok := w.lastEvent(failover.EventFailbackStarted, "rec-1")
	if !ok || e.Detail != "standby reclaimed for rec-2" {
		t.Errorf("rec-1's failback: %+v, want one that says it was reclaimed for rec-2", e)
	}
	// rec-1 recorded its cameras all along: itself, or sb-1 until it did.
	cam := recordingFacts("rec-1", 16).Cameras[0]
	for at := crashed; at.Before(w.now); at = at.Add(50 * time.Millisecond) {
		if len(w.m.HoldersAt(cam, at)) == 0 {
			t.Fatalf("nobody holds %s at %v: the reclaim broke before it made: %+v", cam, at.Sub(epoch0), w.m.Ledger(cam))
		}
	}
	if !w.servers["rec-1"].Recording() {
		t.Error("rec-1 does not record after its standby was reclaimed")
	}
	w.wantStatus("rec-2", recAbnormalProtected)
}

// When two recovered servers hold the standbys, the one that flapped less
// gives its standby up first: damping keeps a flapping server covered.
func TestReclaimSparesTheFlappingServer(t *testing.T) {
	cfg := failover.Config{Failback: failover.FailbackPolicy{HoldDown: 20 * time.Second}}
	w := settled(t, cfg, []nvrha.Facts{standbyFacts("sb-1", 16), standbyFacts("sb-2", 16)}, recordingBatch("rec", 3, 16))
	// rec-1 flaps: two outages, the second one still covered.
	w.servers["rec-1"].Crash()
	w.waitFor(5*time.Second, "rec-1 covered", func() bool { return len(w.coverers("rec-1")) == 1 })
	w.servers["rec-1"].Restart()
	w.waitFor(60*time.Second, "rec-1 failed back", func() bool { return len(w.coverers("rec-1")) == 0 && w.servers["rec-1"].Recording() })
	w.run(2 * time.Second)
	w.servers["rec-1"].Crash()
	w.servers["rec-2"].Crash()
	w.waitFor(5*time.Second, "rec-1 and rec-2 covered", func() bool { return len(w.coverers("rec-1")) == 1 && len(w.coverers("rec-2")) == 1 })
	w.servers["rec-1"].Restart()
	w.servers["rec-2"].Restart()
	w.waitFor(3*time.Second, "both up", func() bool {
		return w.member("rec-1").Health == nvrha.HealthUp && w.member("rec-2").Health == nvrha.HealthUp
	})
	w.servers["rec-3"].Crash()
	w.waitFor(10*time.Second, "rec-3 covered", func() bool { return len(w.coverers("rec-3")) == 1 })
	if len(w.coverers("rec-1")) != 1 {
		t.Errorf("the flapping rec-1 lost its standby (coverers %v); rec-2's should have gone", w.coverers("rec-1"))
	}
	if len(w.coverers("rec-2")) != 0 {
		t.Errorf("rec-2 still covered by %v", w.coverers("rec-2"))
	}
}

// NoReclaim keeps the standby with the recovered server until its
// failback is due, as before.
func TestNoReclaimKeepsTheStandby(t *testing.T) {
	cfg := failover.Config{Failback: failover.FailbackPolicy{HoldDown: 15 * time.Second, NoReclaim: true}}
	w := settled(t, cfg, []nvrha.Facts{standbyFacts("sb-1", 16)}, recordingBatch("rec", 2, 16))
	w.servers["rec-1"].Crash()
	w.waitFor(5*time.Second, "sb-1 covers rec-1", func() bool { return w.covering("sb-1") == "rec-1" })
	w.servers["rec-1"].Restart()
	w.run(2 * time.Second)
	w.servers["rec-2"].Crash()
	w.run(8 * time.Second)
	if got := w.covering("sb-1"); got != "rec-1" {
		t.Errorf("sb-1 covers %q, want rec-1 until its hold-down ends", got)
	}
}

// Priorities are the operator's failover sequence: a server of higher
// priority gets the reclaimed standby first; priorities are validated and
// survive a restart.
func TestPriorityOrdersWhoIsCoveredFirst(t *testing.T) {
	cfg := failover.Config{Failback: failover.FailbackPolicy{HoldDown: time.Minute}}
	w := settled(t, cfg, []nvrha.Facts{standbyFacts("sb-1", 16)}, recordingBatch("rec", 3, 16))
	if err := w.m.SetServerPriority("rec-3", 5); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		id nvrha.ServerID
		p  int
	}{{"sb-1", 1}, {"rec-1", failover.MaxPriority + 1}, {"rec-1", -failover.MaxPriority - 1}} {
		before := w.m.Snapshot()
		refused(t, w.m, before, w.m.SetServerPriority(bad.id, bad.p), failover.ErrInvalidPriority)
	}
	w.servers["rec-1"].Crash()
	w.waitFor(5*time.Second, "sb-1 covers rec-1", func() bool { return w.covering("sb-1") == "rec-1" })
	w.servers["rec-1"].Restart()
	w.waitFor(3*time.Second, "rec-1 up", func() bool { return w.member("rec-1").Health == nvrha.HealthUp })
	w.servers["rec-2"].Crash()
	w.servers["rec-3"].Crash()
	w.waitFor(10*time.Second, "sb-1 covers rec-3", func() bool { return w.covering("sb-1") == "rec-3" })
	w.run(5 * time.Second)
	w.wantStatus("rec-2", recAbnormalUnprotected)
	w.restart()
	if p := w.member("rec-3").Priority; p != 5 {
		t.Errorf("rec-3's priority after a restart is %d, want 5", p)
	}
}

// When failures outnumber standbys, the server with the most cameras at
// stake is covered first, whatever its ID or channels.
func TestMostCamerasAreCoveredFirst(t *testing.T) {
	big := with(recordingFacts("rec-2", 8), func(f *nvrha.Facts) {
		for i := 3; i <= 8; i++ {
			f.Cameras = append(f.Cameras, nvrha.CameraID(fmt.Sprintf("rec-2-cam-%d", i)))
		}
	})
	w := settled(t, failover.Config{}, []nvrha.Facts{standbyFacts("sb-1", 16)}, []nvrha.Facts{recordingFacts("rec-1", 16), big})
	w.servers["rec-1"].Crash()
	w.servers["rec-2"].Crash()
	w.waitFor(5*time.Second, "sb-1 covers rec-2", func() bool { return w.covering("sb-1") == "rec-2" })
	w.run(2 * time.Second)
	w.wantStatus("rec-1", recAbnormalUnprotected)
}
