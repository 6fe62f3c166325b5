package failover_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/agenttest"
)

// brokenAgent stands in front of a sound agent and misbehaves as its
// switches say, the way broken or hostile agents do; with every switch
// off it is the sound agent.
type brokenAgent struct {
	*agenttest.Server
	// fakeTakeovers: every takeover order is acknowledged and dropped.
	fakeTakeovers bool
	// fakeReleases: every release is acknowledged and dropped.
	fakeReleases bool
	// leap: every order is refused as stale, with a newest epoch just
	// within failover.MaxEpochJump ahead of the order's, one a center
	// believes.
	leap bool
}

// breakAgent puts a brokenAgent, all its switches off, in front of server
// id's agent and returns it.
func (w *world) breakAgent(id nvrha.ServerID) *brokenAgent {
	w.t.Helper()
	b := &brokenAgent{Server: w.servers[id]}
	w.tr.Unregister(id)
	if err := w.tr.Register(id, b); err != nil {
		w.t.Fatal(err)
	}
	return b
}

func (b *brokenAgent) leapEpoch(key nvrha.ServerID, got nvrha.Epoch) error {
	return &transport.StaleEpochError{Key: key, Got: got, Newest: got + failover.MaxEpochJump}
}

func (b *brokenAgent) Takeover(ctx context.Context, o transport.TakeoverOrder) error {
	switch {
	case b.leap:
		return b.leapEpoch(o.Recording, o.Epoch)
	case b.fakeTakeovers:
		return o.Validate()
	}
	return b.Server.Takeover(ctx, o)
}

func (b *brokenAgent) Release(ctx context.Context, o transport.ReleaseOrder) error {
	switch {
	case b.leap:
		return b.leapEpoch(o.Recording, o.Epoch)
	case b.fakeReleases:
		return o.Validate()
	}
	return b.Server.Release(ctx, o)
}

func (b *brokenAgent) StandDown(ctx context.Context, o transport.StandDownOrder) error {
	if b.leap {
		return b.leapEpoch(b.ID(), o.Epoch)
	}
	return b.Server.StandDown(ctx, o)
}

// ordersTo returns the commands of kind sent to server, in order.
func ordersTo(cmds []failover.Command, kind failover.CommandKind, server nvrha.ServerID) []failover.Command {
	var out []failover.Command
	for _, c := range cmds {
		if c.Kind == kind && c.Server == server {
			out = append(out, c)
		}
	}
	return out
}

// sentAt is when c was sent, from its deadline.
func sentAt(cfg failover.Config, c failover.Command) time.Time {
	d := cfg.WithDefaults().CommandTimeout
	if c.Kind == failover.CmdProbe {
		d = cfg.WithDefaults().ProbeTimeout
	}
	return c.Deadline.Add(-d)
}

// A standby whose probes deny the takeover it acknowledged (here it drops
// every order) is ordered again a few times, backed off, and then given
// up like one that refuses takeovers: "Abnormal, protection failed",
// fenced off, not ordered again before its back-off, which doubles at
// its next failure; the next standby takes over at once.
func TestStandbyDenyingItsTakeoverIsGivenUp(t *testing.T) {
	cfg := failover.Config{}
	w := settled(t, cfg, []nvrha.Facts{standbyFacts("sb-1", 16), standbyFacts("sb-2", 32)},
		[]nvrha.Facts{recordingFacts("rec-1", 16), recordingFacts("rec-2", 16)})
	sb1 := w.breakAgent("sb-1")
	sb1.fakeTakeovers = true
	cmds := w.recordCommands()
	w.servers["rec-1"].Crash()
	took := w.waitFor(15*time.Second, "sb-2 covers rec-1", func() bool { return w.covering("sb-2") == "rec-1" })
	if took > 6*time.Second {
		t.Errorf("sb-2 took rec-1 over %v after its crash", took)
	}
	orders := ordersTo(*cmds, failover.CmdTakeover, "sb-1")
	if n := len(orders); n < 2 || n > failover.DefaultTakeoverAttempts {
		t.Fatalf("sb-1 got %d takeover orders, want 2 to %d", n, failover.DefaultTakeoverAttempts)
	}
	// Ordered again after a back-off, not at every probe.
	first, last := sentAt(cfg, orders[0]), sentAt(cfg, orders[len(orders)-1])
	var backoffs time.Duration
	for i := 1; i < len(orders); i++ {
		backoffs += failover.DefaultRetryBase << (i - 1)
	}
	if last.Sub(first) < backoffs {
		t.Errorf("%d orders within %v, less than their back-offs (%v)", len(orders), last.Sub(first), backoffs)
	}
	if e, ok := w.lastEvent(failover.EventTakeoverFailed, "rec-1"); !ok || e.Peer != "sb-1" {
		t.Fatalf("no takeover by sb-1 failed:\n%s", eventLines(w.events))
	}
	if len(ordersTo(*cmds, failover.CmdRelease, "sb-1")) == 0 {
		t.Error("sb-1 was never fenced off with a release")
	}
	w.run(time.Second)
	w.wantStatus("sb-1", sbProtectionFailed)
	w.wantStatus("rec-1", recAbnormalProtected)
	backoff := func() time.Duration { return w.member("sb-1").RetryAt.Sub(w.now) }
	if d := backoff(); d < 55*time.Second {
		t.Errorf("sb-1 may be ordered again in %v, want about %v", d, failover.DefaultFailedStandbyBackoff)
	}

	// rec-2 fails too: sb-1 alone is left, and is not ordered within its
	// back-off; after it, it is tried as a last resort, denies again, and
	// its back-off doubles.
	n := len(orders)
	w.servers["rec-2"].Crash()
	w.run(50 * time.Second)
	if got := len(ordersTo(*cmds, failover.CmdTakeover, "sb-1")); got != n {
		t.Fatalf("sb-1 got %d takeover orders within its back-off", got-n)
	}
	w.wantStatus("rec-2", recAbnormalUnprotected)
	w.waitFor(30*time.Second, "sb-1 given up again", func() bool {
		return len(w.eventsOf(failover.EventTakeoverFailed, "rec-2")) == 1
	})
	if d := backoff(); d < 115*time.Second {
		t.Errorf("given up a second time, sb-1 may be ordered again in %v, want about twice %v", d, failover.DefaultFailedStandbyBackoff)
	}
	w.wantStatus("sb-1", sbProtectionFailed)
}

// A standby that lost the takeover it confirmed (its agent was
// reinstalled) is ordered again under the same epoch and covers again: one
// denial does not give it up.
func TestStandbyThatLostItsTakeoverIsOrderedAgain(t *testing.T) {
	w := settled(t, failover.Config{}, []nvrha.Facts{standbyFacts("sb-1", 16), standbyFacts("sb-2", 32)},
		[]nvrha.Facts{recordingFacts("rec-1", 16)})
	w.servers["rec-1"].Crash()
	w.waitFor(5*time.Second, "sb-1 covers rec-1", func() bool { return w.covering("sb-1") == "rec-1" })
	e := w.m.Epoch("rec-1")
	for range 3 {
		w.run(5 * time.Second)
		w.replaceAgent(standbyFacts("sb-1", 16))
		w.waitFor(2*time.Second, "sb-1 covers rec-1 again", func() bool { return w.covering("sb-1") == "rec-1" })
	}
	w.run(time.Second)
	if n := len(w.eventsOf(failover.EventTakeoverFailed, "")); n != 0 {
		t.Errorf("%d takeovers failed:\n%s", n, eventLines(w.events))
	}
	if got := w.servers["sb-1"].Newest("rec-1"); got != e || w.m.Epoch("rec-1") != e {
		t.Errorf("sb-1 covers under epoch %d, the Machine's is %d; want the takeover's %d", got, w.m.Epoch("rec-1"), e)
	}
	w.wantStatus("sb-1", sbProtecting)
	w.wantOnlyCoverer("rec-1", "sb-1")
}

// A standby that acknowledges the failback's release and records on
// (its probes say it covers the recording server, a takeover the Machine
// no longer has) is fenced off with releases, backed off, under the
// failback's epoch, and never counted as protection meanwhile; once it
// carries a release out it is ready again.
func TestStrayCoverIsReleased(t *testing.T) {
	cfg := failover.Config{Failback: failover.FailbackPolicy{HoldDown: 3 * time.Second}}
	w := settled(t, cfg, []nvrha.Facts{standbyFacts("sb-1", 16)},
		[]nvrha.Facts{recordingFacts("rec-1", 16), recordingFacts("rec-2", 16)})
	sb1 := w.breakAgent("sb-1")
	w.servers["rec-1"].Crash()
	w.waitFor(5*time.Second, "sb-1 covers rec-1", func() bool { return w.covering("sb-1") == "rec-1" })
	sb1.fakeReleases = true
	cmds := w.recordCommands()
	w.servers["rec-1"].Restart()
	w.waitFor(10*time.Second, "failback completed", func() bool {
		return len(w.eventsOf(failover.EventFailbackCompleted, "rec-1")) == 1
	})
	e := w.m.Epoch("rec-1")
	if w.covering("sb-1") != "rec-1" {
		t.Fatal("sb-1 carried the release out")
	}
	// Each release to the stray, the same order again included, is owed
	// in the State saved before it left: a center that crashes then still
	// owes it.
	observe := w.observe
	w.observe = func(rd failover.Ready) {
		observe(rd)
		for _, c := range rd.Commands {
			if c.Kind == failover.CmdRelease && !slices.ContainsFunc(w.saved.Owed, func(o failover.OwedState) bool {
				return o.Server == c.Server && o.Kind == c.Kind && o.Recording == c.Recording && o.Epoch == c.Epoch
			}) {
				t.Errorf("%v left before it was saved as owed: %+v", c, w.saved.Owed)
			}
		}
	}
	w.run(time.Second)
	w.wantStatus("sb-1", sbWarning)
	w.wantStatus("rec-2", recNormalUnprotected)
	// rec-2 fails: sb-1 records rec-1's cameras, it is no standby for it.
	w.servers["rec-2"].Crash()
	w.run(20 * time.Second)
	if n := len(ordersTo(*cmds, failover.CmdTakeover, "sb-1")); n != 0 {
		t.Errorf("sb-1 was ordered to take rec-2 over %d times while it records rec-1's cameras", n)
	}
	w.wantStatus("rec-2", recAbnormalUnprotected)
	releases := ordersTo(*cmds, failover.CmdRelease, "sb-1")
	if len(releases) < 5 {
		t.Fatalf("sb-1 got %d releases in 20 s of recording rec-1's cameras as a stray", len(releases))
	}
	// Backed off: at most one every RetryMax once the back-off is grown.
	if max := 21*time.Second/failover.DefaultRetryMax + 8; len(releases) > int(max) {
		t.Errorf("sb-1 got %d releases in 21 s, want at most %d", len(releases), max)
	}
	for _, c := range releases {
		if c.Recording != "rec-1" || c.Epoch != e {
			t.Fatalf("release %v, want rec-1's under the failback's epoch %d", c, e)
		}
	}
	if w.m.Epoch("rec-1") != e {
		t.Errorf("rec-1's epoch went from %d to %d", e, w.m.Epoch("rec-1"))
	}
	// Mended, it lets go at the next release, and takes rec-2 over.
	sb1.fakeReleases = false
	w.waitFor(failover.DefaultRetryMax+time.Second, "sb-1 lets go of rec-1", func() bool { return w.covering("sb-1") != "rec-1" })
	w.waitFor(5*time.Second, "sb-1 covers rec-2", func() bool { return w.covering("sb-1") == "rec-2" })
	w.run(time.Second)
	w.wantStatus("sb-1", sbProtecting)
	w.wantStatus("rec-2", recAbnormalProtected)
}

// A standby that refuses every order as stale with a newer epoch the
// Machine believes is given up once its refusals reach TakeoverAttempts,
// and the release owed to it is ordered again under a newer epoch with a
// back-off that grows to RetryMax, not at every answer.
func TestStaleRefusalsAreBounded(t *testing.T) {
	cfg := failover.Config{}
	w := settled(t, cfg, []nvrha.Facts{standbyFacts("sb-1", 16), standbyFacts("sb-2", 32)},
		[]nvrha.Facts{recordingFacts("rec-1", 16)})
	sb1 := w.breakAgent("sb-1")
	sb1.leap = true
	cmds := w.recordCommands()
	w.servers["rec-1"].Crash()
	w.waitFor(10*time.Second, "sb-2 covers rec-1", func() bool { return w.covering("sb-2") == "rec-1" })
	w.run(time.Minute)
	if n := len(ordersTo(*cmds, failover.CmdTakeover, "sb-1")); n > failover.DefaultTakeoverAttempts {
		t.Errorf("sb-1 got %d takeover orders, at most %d", n, failover.DefaultTakeoverAttempts)
	}
	w.wantStatus("sb-1", sbProtectionFailed)
	w.wantOnlyCoverer("rec-1", "sb-2")
	releases := ordersTo(*cmds, failover.CmdRelease, "sb-1")
	if max := time.Minute/failover.DefaultRetryMax + 8; len(releases) > int(max) || len(releases) < 10 {
		t.Fatalf("sb-1 got %d releases in a minute, want 10 to %d", len(releases), max)
	}
	for i := 1; i < len(releases); i++ {
		if releases[i].Epoch <= releases[i-1].Epoch {
			t.Fatalf("release %v after %v: not under a newer epoch", releases[i], releases[i-1])
		}
	}
	gap := func(i int) time.Duration { return sentAt(cfg, releases[i]).Sub(sentAt(cfg, releases[i-1])) }
	if g := gap(len(releases) - 1); g < failover.DefaultRetryMax {
		t.Errorf("the last releases are %v apart, want the back-off grown to %v", g, failover.DefaultRetryMax)
	}
	// Mended, it takes the release.
	sb1.leap = false
	w.waitFor(2*failover.DefaultRetryMax, "the release owed to sb-1 acknowledged", func() bool {
		return len(w.saved.Owed) == 0
	})
	w.run(time.Second)
	w.wantEpochsIssued("rec-1")
}

// A recording server that records on while it answers abnormal, and
// refuses its stand-down as stale with a newer epoch the center believes,
// is told again after the back-off of a failure, not at every probe; once
// its agent is sound, it is stood down.
func TestRefusedStandDownIsBackedOff(t *testing.T) {
	cfg := failover.Config{}
	w := settled(t, cfg, []nvrha.Facts{standbyFacts("sb-1", 16)}, []nvrha.Facts{recordingFacts("rec-1", 16)})
	rec1 := w.breakAgent("rec-1")
	rec1.leap = true
	cmds := w.recordCommands()
	w.servers["rec-1"].SetHealthy(false)
	w.waitFor(10*time.Second, "sb-1 covers rec-1", func() bool { return w.covering("sb-1") == "rec-1" })
	w.run(time.Minute)
	downs := ordersTo(*cmds, failover.CmdStandDown, "rec-1")
	if max := time.Minute/failover.DefaultRetryMax + 8; len(downs) > int(max) || len(downs) < 5 {
		t.Fatalf("rec-1 got %d stand-downs in a minute of refusing them, want 5 to %d", len(downs), max)
	}
	gap := sentAt(cfg, downs[len(downs)-1]).Sub(sentAt(cfg, downs[len(downs)-2]))
	if gap < failover.DefaultRetryMax {
		t.Errorf("the last stand-downs are %v apart, want the back-off grown to %v", gap, failover.DefaultRetryMax)
	}
	if !w.servers["rec-1"].Recording() {
		t.Fatal("rec-1 stopped recording though it refused every stand-down")
	}
	rec1.leap = false
	w.waitFor(2*failover.DefaultRetryMax, "rec-1 stood down", func() bool { return !w.servers["rec-1"].Recording() })
	w.wantOnlyCoverer("rec-1", "sb-1")
}

// A standby gets at most TakeoverAttempts takeover orders within
// FailedStandbyBackoff once it fails takeovers, whichever takeovers they
// are for: here the order a restarted center sends again for a takeover it
// restored counts with the attempts of the next takeover, which the
// standby acknowledges and drops.
func TestFailingStandbyOrdersBoundedAcrossTakeovers(t *testing.T) {
	cfg := failover.Config{Failback: failover.FailbackPolicy{HoldDown: 3 * time.Second}}
	w := settled(t, cfg, []nvrha.Facts{standbyFacts("sb-1", 16)},
		[]nvrha.Facts{recordingFacts("rec-1", 16), recordingFacts("rec-2", 16)})
	sb1 := w.breakAgent("sb-1")
	w.servers["rec-1"].Crash()
	w.waitFor(5*time.Second, "sb-1 covers rec-1", func() bool { return w.covering("sb-1") == "rec-1" })
	w.run(time.Second)
	cmds := w.recordCommands()
	w.restart()
	w.servers["rec-1"].Restart()
	w.waitFor(10*time.Second, "failback completed", func() bool {
		return len(w.eventsOf(failover.EventFailbackCompleted, "rec-1")) == 1
	})
	sb1.fakeTakeovers = true
	w.servers["rec-2"].Crash()
	w.waitFor(10*time.Second, "sb-1 given up", func() bool { return len(w.eventsOf(failover.EventTakeoverFailed, "rec-2")) == 1 })
	w.run(2 * time.Minute)
	orders := ordersTo(*cmds, failover.CmdTakeover, "sb-1")
	if len(orders) < 2 {
		t.Fatalf("sb-1 got %d takeover orders", len(orders))
	}
	for i := range orders {
		n := 0
		for j := i; j < len(orders) && sentAt(cfg, orders[j]).Sub(sentAt(cfg, orders[i])) < failover.DefaultFailedStandbyBackoff; j++ {
			n++
		}
		if n > failover.DefaultTakeoverAttempts {
			t.Fatalf("sb-1 got %d takeover orders within %v from %v", n, failover.DefaultFailedStandbyBackoff, sentAt(cfg, orders[i]).Sub(epoch0))
		}
	}
	w.wantStatus("sb-1", sbProtectionFailed)
}
