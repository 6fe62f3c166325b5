package failover_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/status"
)

// Every event a Machine publishes survives a JSON round trip, so a UI or a
// log pipeline can decode what a center sent.
func TestEventJSONRoundTrip(t *testing.T) {
	w := settled(t, failover.Config{Failback: failover.FailbackPolicy{HoldDown: 2 * time.Second}},
		[]nvrha.Facts{standbyFacts("sb-1", 16)}, []nvrha.Facts{recordingFacts("rec-1", 16)})
	w.servers["rec-1"].Crash()
	w.run(3 * time.Second)
	w.servers["rec-1"].Restart()
	w.run(5 * time.Second)
	kinds := map[failover.EventKind]bool{}
	for _, e := range w.events {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var back failover.Event
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("decoding %s: %v", b, err)
		}
		if !reflect.DeepEqual(back, e) {
			t.Fatalf("round trip of %s gave %+v, want %+v", b, back, e)
		}
		kinds[e.Kind] = true
	}
	if len(kinds) < 5 {
		t.Errorf("only %d kinds of event seen: %v", len(kinds), kinds)
	}
	var k failover.EventKind
	if err := k.UnmarshalText([]byte("no-such-kind")); err == nil {
		t.Error("an unknown event kind decoded")
	}
}

// One server and one epoch can be looked up without scanning snapshots,
// and the typed Failover Status is one call whatever the role.
func TestMemberLookup(t *testing.T) {
	w := settled(t, failover.Config{}, []nvrha.Facts{standbyFacts("sb-1", 16)}, []nvrha.Facts{recordingFacts("rec-1", 16)})
	w.servers["rec-1"].Crash()
	w.waitFor(5*time.Second, "takeover", func() bool { return w.covering("sb-1") == "rec-1" })
	w.run(time.Second)
	snap := w.m.Snapshot()
	for _, id := range []nvrha.ServerID{"rec-1", "sb-1"} {
		got, ok := w.m.Member(id)
		want, ok2 := snap.Member(id)
		if !ok || !ok2 || !reflect.DeepEqual(got, want) {
			t.Errorf("Member(%s) = %+v, %v; the snapshot has %+v, %v", id, got, ok, want, ok2)
		}
	}
	if _, ok := w.m.Member("nobody"); ok {
		t.Error("Member found a server in no group")
	}
	rec, _ := w.m.Member("rec-1")
	sb, _ := w.m.Member("sb-1")
	if rec.FailoverStatus() != status.RecordingAbnormalProtected || sb.FailoverStatus() != status.StandbyNormalProtecting {
		t.Errorf("statuses %v and %v", rec.FailoverStatus(), sb.FailoverStatus())
	}
	if g, ok := snap.Group(failover.DefaultGroupID); !ok || g.Name != failover.DefaultGroupName {
		t.Errorf("Group(default) = %+v, %v", g, ok)
	}
}

func TestControllerMemberAndEpoch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, &failover.MemoryStore{})
		r.start()
		defer r.stop()
		r.join()
		r.agents["rec-1"].Crash()
		if _, ok := waitFor(10*time.Second, func() bool { return r.covering("sb-1") == "rec-1" || r.covering("sb-2") == "rec-1" }); !ok {
			t.Fatal("no takeover")
		}
		ms, ok, err := r.ctl.Member(t.Context(), "rec-1")
		if err != nil || !ok || ms.Peer == "" || ms.FailoverStatus() != status.RecordingAbnormalProtected {
			t.Errorf("Member(rec-1) = %+v, %v, %v", ms, ok, err)
		}
		if _, ok, err := r.ctl.Member(t.Context(), "nobody"); ok || err != nil {
			t.Errorf("Member(nobody) = %v, %v", ok, err)
		}
		if e, err := r.ctl.Epoch(t.Context(), "rec-1"); err != nil || e == 0 {
			t.Errorf("Epoch(rec-1) = %d, %v", e, err)
		}
	})
}
