package failover_test

import (
	"testing"
	"time"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/transport"
)

// A standby that falls silent while it alone records a failed server's
// cameras (its answers lost, a slow or one-way link) is given up, but its
// release is held, not sent: it may well record still, and nothing else
// does. It is owed all the same (a restarted center sends it). Once it
// answers, still covering, it is given the takeover back under a new
// epoch, without a gap; if it answers abnormal, or a spare standby takes
// over, the release is sent.
func TestSilentStandbyCoveringAloneIsNotReleased(t *testing.T) {
	silence := func(w *world) {
		// Its answers are lost; releases and takeovers still reach it.
		w.hookOnly("sb-1", transport.Drop(), transport.MethodProbe, transport.MethodInventory)
	}
	t.Run("alone", func(t *testing.T) {
		w := coveredWorld(t, false)
		e := w.m.Epoch("rec-1")
		silence(w)
		held := false
		w.runChecking(8*time.Second, func() {
			if w.covering("sb-1") != "rec-1" {
				t.Fatalf("sb-1 let go of rec-1's cameras while nothing else records them:\n%s", eventLines(w.events))
			}
			for _, o := range w.saved.Owed {
				held = held || o.Server == "sb-1" && o.Kind == failover.CmdRelease
			}
		})
		if _, ok := w.lastEvent(failover.EventTakeoverFailed, "rec-1"); !ok {
			t.Fatalf("sb-1 was never given up:\n%s", eventLines(w.events))
		}
		if !held {
			t.Error("the release held for sb-1 was never persisted as owed")
		}
		w.tr.ClearHook("sb-1")
		w.waitFor(3*time.Second, "sb-1 covers rec-1 for the Machine again", func() bool { return w.member("rec-1").Peer == "sb-1" })
		w.run(time.Second)
		if w.covering("sb-1") != "rec-1" || w.servers["sb-1"].Newest("rec-1") <= e {
			t.Errorf("sb-1 covers %q under epoch %d, want rec-1 under a new epoch above %d", w.covering("sb-1"), w.servers["sb-1"].Newest("rec-1"), e)
		}
		w.wantStatus("sb-1", sbProtecting)
		w.wantStatus("rec-1", recAbnormalProtected)
		w.wantOnlyCoverer("rec-1", "sb-1")
		if len(w.saved.Owed) != 0 {
			t.Errorf("still owed: %+v", w.saved.Owed)
		}
	})
	t.Run("answers abnormal", func(t *testing.T) {
		w := coveredWorld(t, false)
		silence(w)
		w.waitFor(8*time.Second, "sb-1 given up", func() bool {
			_, ok := w.lastEvent(failover.EventTakeoverFailed, "rec-1")
			return ok
		})
		w.servers["sb-1"].SetHealthy(false)
		w.tr.ClearHook("sb-1")
		w.waitFor(3*time.Second, "sb-1 released", func() bool { return w.covering("sb-1") == "" })
		w.run(time.Second)
		if len(w.saved.Owed) != 0 {
			t.Errorf("still owed: %+v", w.saved.Owed)
		}
	})
	t.Run("with a spare", func(t *testing.T) {
		w := coveredWorld(t, true)
		silence(w)
		w.waitFor(8*time.Second, "sb-2 covers rec-1", func() bool { return w.covering("sb-2") == "rec-1" })
		w.waitFor(2*time.Second, "sb-1 released", func() bool { return w.covering("sb-1") == "" })
		w.tr.ClearHook("sb-1")
		w.run(3 * time.Second)
		w.wantOnlyCoverer("rec-1", "sb-2")
		w.wantStatus("sb-1", sbReady)
	})
}
