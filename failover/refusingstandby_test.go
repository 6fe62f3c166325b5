package failover_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/transport"
)

// refuseTakeovers makes standby id answer probes but refuse every takeover.
func refuseTakeovers(w *world, id nvrha.ServerID) {
	w.hookOnly(id, func(context.Context, transport.Call) error {
		return errors.New("agent: cannot start recording")
	}, transport.MethodTakeover)
}

// A standby that answers probes but fails every takeover is "Abnormal,
// protection failed" for an operator to see, not "ready" an instant later;
// it is ordered again only after a growing back-off, at most 6 takeover
// orders a minute, while the recording server waits for it alone.
func TestStandbyThatRefusesTakeoversShowsProtectionFailed(t *testing.T) {
	w := settled(t, failover.Config{}, []nvrha.Facts{standbyFacts("sb-1", 16)}, []nvrha.Facts{recordingFacts("rec-1", 16)})
	refuseTakeovers(w, "sb-1")
	cmds := w.recordCommands()
	w.servers["rec-1"].Crash()
	w.waitFor(10*time.Second, "a failed takeover", func() bool {
		_, ok := w.lastEvent(failover.EventTakeoverFailed, "rec-1")
		return ok
	})
	start := w.now
	for w.now.Sub(start) < 10*time.Minute {
		w.run(time.Second)
		if got := w.status("sb-1"); got != sbProtectionFailed && w.covering("sb-1") == "" {
			t.Fatalf("%v after the first failure sb-1 shows %q, want %q", w.now.Sub(start), got, sbProtectionFailed)
		}
		if got := w.status("rec-1"); got != recAbnormalUnprotected {
			t.Fatalf("%v after the first failure rec-1 shows %q, want %q", w.now.Sub(start), got, recAbnormalUnprotected)
		}
	}
	// No window of a minute holds more than 6 orders.
	var at []time.Time
	for _, c := range *cmds {
		if c.Kind == failover.CmdTakeover && c.Server == "sb-1" {
			at = append(at, c.Deadline)
		}
	}
	for i := range at {
		n := 0
		for j := i; j < len(at) && at[j].Sub(at[i]) < time.Minute; j++ {
			n++
		}
		if n > 6 {
			t.Fatalf("%d takeover orders to sb-1 within a minute from %v", n, at[i].Sub(epoch0))
		}
	}
	if len(at) < 12 {
		t.Errorf("only %d takeover orders in 10 minutes: the standby is never tried again", len(at))
	}
	// Mended, it proves itself at its next try and is ready again.
	w.tr.ClearHook("sb-1")
	w.waitFor(20*time.Minute, "sb-1 covers rec-1", func() bool { return w.covering("sb-1") == "rec-1" })
	w.run(2 * time.Second)
	w.wantStatus("sb-1", sbProtecting)
}

// With another standby at hand, the one that failed is not tried again
// while its back-off lasts: the next one takes over at once.
func TestNextStandbyIsTriedAtOnceAfterARefusal(t *testing.T) {
	w := settled(t, failover.Config{}, []nvrha.Facts{standbyFacts("sb-1", 16), standbyFacts("sb-2", 32)},
		[]nvrha.Facts{recordingFacts("rec-1", 16), recordingFacts("rec-2", 16)})
	refuseTakeovers(w, "sb-1")
	w.servers["rec-1"].Crash()
	w.waitFor(10*time.Second, "sb-2 covers rec-1", func() bool { return w.covering("sb-2") == "rec-1" })
	w.wantStatus("sb-1", sbProtectionFailed)
	// rec-2 fails too: sb-1 is the only standby left, and its back-off runs.
	w.servers["rec-2"].Crash()
	w.run(30 * time.Second)
	if n := len(w.eventsOf(failover.EventTakeoverStarted, "rec-2")); n != 0 {
		t.Errorf("sb-1 was ordered %d times within its back-off", n)
	}
	w.wantStatus("rec-2", recAbnormalUnprotected)
	// Re-enabling it is the operator's word that it is mended.
	w.tr.ClearHook("sb-1")
	for _, on := range []bool{false, true} {
		if _, err := w.m.SetServerEnabled("sb-1", on); err != nil {
			t.Fatal(err)
		}
	}
	w.waitFor(5*time.Second, "sb-1 covers rec-2", func() bool { return w.covering("sb-1") == "rec-2" })
}
