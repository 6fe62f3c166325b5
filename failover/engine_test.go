package failover_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/failover/detector"
	"github.com/nvrha/nvrha/status"
	"github.com/nvrha/nvrha/transport"
)

// Scenario tests of the takeover engine: a Machine drives in-process agents
// over the in-memory transport on virtual time, faults are injected through
// the agents and the transport's hooks, and each test checks what QVR Center's manual
// and nvrha's invariants (docs/invariants.md) promise for one situation.

// The labels the tests expect, as QVR Center's manual's tables word them.
var (
	recNormalProtected     = status.RecordingNormalProtected.Label()
	recNormalUnprotected   = status.RecordingNormalUnprotected.Label()
	recAbnormalProtected   = status.RecordingAbnormalProtected.Label()
	recAbnormalUnprotected = status.RecordingAbnormalUnprotected.Label()
	recDisabled            = status.RecordingDisabled.Label()
	sbReady                = status.StandbyNormalProtectionReady.Label()
	sbProtecting           = status.StandbyNormalProtecting.Label()
	sbWarning              = status.StandbyWarning.Label()
	sbProtectionFailed     = status.StandbyAbnormalProtectionFailed.Label()
	sbDisabled             = status.StandbyDisabled.Label()
)

// settled returns a world whose default group has the given standbys
// (added first, so that small ones pass the license rule) and recording
// servers, all up and settled.
func settled(t *testing.T, cfg failover.Config, sbs, recs []nvrha.Facts) *world {
	t.Helper()
	w := newWorld(t, cfg)
	g := failover.DefaultGroupID
	if len(sbs) > 0 {
		w.addStandbys(g, sbs...)
	}
	if len(recs) > 0 {
		w.addRecordings(g, recs...)
	}
	w.run(3 * time.Second)
	for _, f := range append(slices.Clone(sbs), recs...) {
		if h := w.member(f.ID).Health; h != nvrha.HealthUp {
			t.Fatalf("%s is %v after settling", f.ID, h)
		}
	}
	return w
}

// waitFor runs the world until cond holds, failing the test after limit.
func (w *world) waitFor(limit time.Duration, what string, cond func() bool) time.Duration {
	w.t.Helper()
	took, ok := w.until(limit, cond)
	if !ok {
		w.t.Fatalf("%s: not within %v; events:\n%s", what, limit, eventLines(w.events))
	}
	return took
}

// runChecking runs the world for d and calls check after every step.
func (w *world) runChecking(d time.Duration, check func()) {
	w.t.Helper()
	end := w.now.Add(d)
	for w.now.Before(end) {
		w.run(w.step)
		check()
	}
}

func (w *world) wantStatus(id nvrha.ServerID, want string) {
	w.t.Helper()
	if got := w.status(id); got != want {
		w.t.Errorf("%s is %q, want %q", id, got, want)
	}
}

// wantOnlyCoverer checks that exactly the agent sb records rec's cameras,
// that the Machine agrees, and that no agent holds an epoch for rec that the
// Machine never issued.
func (w *world) wantOnlyCoverer(rec, sb nvrha.ServerID) {
	w.t.Helper()
	if got := w.coverers(rec); !slices.Equal(got, []nvrha.ServerID{sb}) {
		w.t.Errorf("agents covering %s: %v, want only %s", rec, got, sb)
	}
	if p := w.member(rec).Peer; p != sb {
		w.t.Errorf("the Machine has %s covered by %q, want %s", rec, p, sb)
	}
	w.wantEpochsIssued(rec)
}

// wantEpochsIssued checks that no agent holds an epoch for rec above the
// newest the Machine issued.
func (w *world) wantEpochsIssued(rec nvrha.ServerID) {
	w.t.Helper()
	for id, a := range w.servers {
		if e := a.Newest(rec); e > w.m.Epoch(rec) {
			w.t.Errorf("%s holds epoch %d for %s, above the Machine's %d", id, e, rec, w.m.Epoch(rec))
		}
	}
}

func eventLines(es []failover.Event) string {
	var b bytes.Buffer
	for _, e := range es {
		if e.Kind == failover.EventStatusChanged {
			continue
		}
		fmt.Fprintf(&b, "  %v\n", e)
	}
	return b.String()
}

func countKind(cmds []failover.Command, kind failover.CommandKind, server nvrha.ServerID) int {
	n := 0
	for _, c := range cmds {
		if c.Kind == kind && (server == "" || c.Server == server) {
			n++
		}
	}
	return n
}

// crashOn crashes agent id as a call of one of the methods reaches it, and
// lets the call through to find it crashed: the server dies right as the
// order arrives.
func (w *world) crashOn(id nvrha.ServerID, methods ...transport.Method) {
	w.hookOnly(id, func(context.Context, transport.Call) error {
		w.servers[id].Crash()
		w.tr.ClearHook(id)
		return nil
	}, methods...)
}

// --- Lost commands -------------------------------------------------------------

func TestTakeoverUnderLostCommands(t *testing.T) {
	// The first takeover orders never reach the standby, for about a second
	// after the takeover starts: the takeover completes by retry once they
	// do.
	for _, tc := range []struct {
		name string
		hook func(w *world)
	}{
		{"takeover orders dropped", func(w *world) { w.hookOnly("sb-1", transport.Drop(), transport.MethodTakeover) }},
		{"every call dropped", func(w *world) {
			// From the first takeover order on, the standby is cut off.
			w.hookOnly("sb-1", func(ctx context.Context, c transport.Call) error {
				w.tr.SetHook("sb-1", transport.Drop())
				return transport.ErrUnreachable
			}, transport.MethodTakeover)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := settled(t, failover.Config{}, []nvrha.Facts{standbyFacts("sb-1", 16)}, []nvrha.Facts{recordingFacts("rec-1", 16)})
			cmds := w.recordCommands()
			tc.hook(w)
			w.servers["rec-1"].Crash()
			w.waitFor(3*time.Second, "takeover started", func() bool {
				return len(w.eventsOf(failover.EventTakeoverStarted, "rec-1")) > 0
			})
			w.run(time.Second)
			if got := w.covering("sb-1"); got != "" {
				t.Fatalf("sb-1 covers %s while every order to it is lost", got)
			}
			w.tr.ClearHook("sb-1")
			took := w.waitFor(10*time.Second, "sb-1 covers rec-1 once orders get through", func() bool {
				return w.covering("sb-1") == "rec-1"
			})
			t.Logf("covered %v after the orders got through; %d takeover orders sent", took, countKind(*cmds, failover.CmdTakeover, "sb-1"))
			if took > 4*time.Second {
				t.Errorf("takeover took %v after the orders got through", took)
			}
			w.run(2 * time.Second)
			w.wantOnlyCoverer("rec-1", "sb-1")
			w.wantStatus("rec-1", recAbnormalProtected)
			w.wantStatus("sb-1", sbProtecting)
			if e, ok := w.lastEvent(failover.EventTakeoverSucceeded, "rec-1"); !ok || e.Epoch != w.servers["sb-1"].Newest("rec-1") {
				t.Errorf("last takeover-succeeded %+v; sb-1 holds epoch %d", e, w.servers["sb-1"].Newest("rec-1"))
			}
			if n := countKind(*cmds, failover.CmdTakeover, "sb-1"); n < 2 {
				t.Errorf("%d takeover orders sent; the lost ones should have been retried", n)
			}
		})
	}

	// The standby acts on its takeover orders but every answer is lost for a
	// second: the Machine cannot tell it took over, gives it up, fences it off
	// and uses the other standby. At every moment at most one agent records
	// the cameras, and at the end exactly one does, under the newest epoch.
	for _, tc := range []struct {
		name string
		hook func(w *world)
	}{
		{"takeover answers lost", func(w *world) { w.hookOnly("sb-1", transport.DropAfterDelivery(), transport.MethodTakeover) }},
		{"every answer lost", func(w *world) {
			// From the first takeover order on, nothing sb-1 answers arrives.
			w.hookOnly("sb-1", func(ctx context.Context, c transport.Call) error {
				w.tr.SetHook("sb-1", transport.DropAfterDelivery())
				return transport.DropAfterDelivery()(ctx, c)
			}, transport.MethodTakeover)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := settled(t, failover.Config{},
				[]nvrha.Facts{standbyFacts("sb-1", 16), standbyFacts("sb-2", 32)},
				[]nvrha.Facts{recordingFacts("rec-1", 16)})
			tc.hook(w)
			w.servers["rec-1"].Crash()
			w.waitFor(3*time.Second, "takeover started", func() bool {
				return len(w.eventsOf(failover.EventTakeoverStarted, "rec-1")) > 0
			})
			atMostOne := func() {
				if got := w.coverers("rec-1"); len(got) > 1 {
					t.Fatalf("at %v agents %v all record rec-1's cameras", w.now.Sub(epoch0), got)
				}
			}
			w.runChecking(time.Second, atMostOne)
			if w.servers["sb-1"].Newest("rec-1") == 0 {
				t.Fatal("sb-1 never got a takeover order")
			}
			w.tr.ClearHook("sb-1")
			w.runChecking(5*time.Second, atMostOne)
			cov := w.coverers("rec-1")
			if len(cov) != 1 {
				t.Fatalf("agents covering rec-1: %v; events:\n%s", cov, eventLines(w.events))
			}
			w.wantOnlyCoverer("rec-1", cov[0])
			e, ok := w.lastEvent(failover.EventTakeoverSucceeded, "rec-1")
			if !ok || e.Peer != cov[0] || w.servers[cov[0]].Newest("rec-1") != e.Epoch {
				t.Errorf("last takeover-succeeded %+v; %s covers under epoch %d", e, cov[0], w.servers[cov[0]].Newest("rec-1"))
			}
			for _, id := range []nvrha.ServerID{"sb-1", "sb-2"} {
				if id != cov[0] {
					w.wantStatus(id, sbReady)
				}
			}
		})
	}
}

// --- A standby that dies --------------------------------------------------------

func TestStandbyDyingMidTakeoverFailsOverToNextStandby(t *testing.T) {
	for _, tc := range []struct {
		name string
		// kill crashes sb-1 at some point of its takeover of rec-1.
		kill func(t *testing.T, w *world)
	}{
		{"as the order arrives", func(t *testing.T, w *world) {
			w.crashOn("sb-1", transport.MethodTakeover)
			w.servers["rec-1"].Crash()
			w.waitFor(3*time.Second, "takeover by sb-1 started", func() bool {
				e, ok := w.lastEvent(failover.EventTakeoverStarted, "rec-1")
				return ok && e.Peer == "sb-1"
			})
		}},
		{"once active", func(t *testing.T, w *world) {
			w.servers["rec-1"].Crash()
			w.waitFor(3*time.Second, "sb-1 covers rec-1", func() bool { return w.covering("sb-1") == "rec-1" })
			w.run(time.Second)
			w.wantStatus("sb-1", sbProtecting)
			w.servers["sb-1"].Crash()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := settled(t, failover.Config{},
				[]nvrha.Facts{standbyFacts("sb-1", 16), standbyFacts("sb-2", 32)},
				[]nvrha.Facts{recordingFacts("rec-1", 16)})
			tc.kill(t, w)
			took := w.waitFor(5*time.Second, "sb-2 covers rec-1", func() bool { return w.covering("sb-2") == "rec-1" })
			t.Logf("sb-2 covered %v after sb-1 died", took)
			if took > 3*time.Second {
				t.Errorf("sb-2 took over %v after sb-1 died", took)
			}
			w.run(500 * time.Millisecond)
			w.wantStatus("sb-1", sbProtectionFailed)
			w.wantStatus("rec-1", recAbnormalProtected)
			w.wantStatus("sb-2", sbProtecting)
			if e, ok := w.lastEvent(failover.EventTakeoverFailed, "rec-1"); !ok || e.Peer != "sb-1" {
				t.Errorf("no takeover-failed event for sb-1: %+v", e)
			}
			w.wantOnlyCoverer("rec-1", "sb-2")

			// sb-1 stays down a while, then comes back: it is fenced off and
			// ready again, and never records rec-1's cameras beside sb-2.
			w.run(5 * time.Second)
			w.wantStatus("sb-1", sbProtectionFailed)
			w.servers["sb-1"].Restart()
			w.waitFor(5*time.Second, "sb-1 ready again", func() bool { return w.status("sb-1") == sbReady })
			if got := w.covering("sb-1"); got != "" {
				t.Errorf("sb-1 still covers %s after it was fenced off", got)
			}
			failed, _ := w.lastEvent(failover.EventTakeoverFailed, "rec-1")
			if e := w.servers["sb-1"].Newest("rec-1"); e <= failed.Epoch || e > w.m.Epoch("rec-1") {
				t.Errorf("sb-1 holds epoch %d for rec-1; want the fence's, above the failed takeover's %d and at most the Machine's %d",
					e, failed.Epoch, w.m.Epoch("rec-1"))
			}
			w.run(10 * time.Second)
			w.wantOnlyCoverer("rec-1", "sb-2")
			w.wantStatus("sb-1", sbReady)
			if n := len(w.eventsOf(failover.EventTakeoverStarted, "rec-1")); n != 2 {
				t.Errorf("%d takeovers of rec-1 started, want 2:\n%s", n, eventLines(w.events))
			}
		})
	}
}

// --- No standby that fits -------------------------------------------------------

func TestNoStandbyThatFitsIsAbnormalUnprotected(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change nvrha.Facts
	}{
		{"recording server licensed up", recordingFacts("rec-1", 32)},
		{"standby licensed down", standbyFacts("sb-1", 8)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := settled(t, failover.Config{}, []nvrha.Facts{standbyFacts("sb-1", 16)}, []nvrha.Facts{recordingFacts("rec-1", 16)})
			w.wantStatus("rec-1", recNormalProtected)
			// The server is reinstalled with its new license, and the
			// center told: both agree from now on.
			w.replaceAgent(tc.change)
			if err := w.m.UpdateFacts(tc.change); err != nil {
				t.Fatal(err)
			}
			w.run(time.Second)
			w.wantStatus("rec-1", recNormalUnprotected)
			cmds := w.recordCommands()
			w.servers["rec-1"].Crash()
			w.run(40 * time.Second)
			w.wantStatus("rec-1", recAbnormalUnprotected)
			w.wantStatus("sb-1", sbReady)
			if n := countKind(*cmds, failover.CmdTakeover, ""); n != 0 {
				t.Errorf("%d takeover orders sent to a standby that does not fit", n)
			}
			if es := w.eventsOf(failover.EventTakeoverStarted, ""); len(es) != 0 {
				t.Errorf("takeovers started: %v", es)
			}
			if got := w.covering("sb-1"); got != "" {
				t.Errorf("sb-1 covers %s", got)
			}
		})
	}
}

// --- A standby without recording space --------------------------------------------

func TestStandbyWithoutRecordingSpaceIsWarningAndNotUsed(t *testing.T) {
	cfg := failover.Config{}
	t.Run("another standby fits", func(t *testing.T) {
		w := settled(t, cfg, []nvrha.Facts{standbyFacts("sb-1", 16), standbyFacts("sb-2", 32)}, []nvrha.Facts{recordingFacts("rec-1", 16)})
		w.servers["sb-1"].SetEmptyRecordingSpace(false)
		w.waitFor(failover.DefaultInventoryInterval+2*time.Second, "sb-1 shows Warning", func() bool { return w.status("sb-1") == sbWarning })
		w.wantStatus("rec-1", recNormalProtected)
		cmds := w.recordCommands()
		w.servers["rec-1"].Crash()
		w.waitFor(5*time.Second, "sb-2 covers rec-1", func() bool { return w.covering("sb-2") == "rec-1" })
		w.run(time.Second)
		if n := countKind(*cmds, failover.CmdTakeover, "sb-1"); n != 0 {
			t.Errorf("%d takeover orders sent to sb-1, which has no recording space", n)
		}
		w.wantStatus("sb-1", sbWarning)
		w.wantOnlyCoverer("rec-1", "sb-2")

		// Space again: ready again.
		w.servers["sb-1"].SetEmptyRecordingSpace(true)
		w.waitFor(failover.DefaultInventoryInterval+2*time.Second, "sb-1 ready again", func() bool { return w.status("sb-1") == sbReady })
	})
	t.Run("the only standby", func(t *testing.T) {
		w := settled(t, cfg, []nvrha.Facts{standbyFacts("sb-1", 16)}, []nvrha.Facts{recordingFacts("rec-1", 16)})
		f := standbyFacts("sb-1", 16)
		f.RecordingSpaces[0].Empty = false
		w.servers["sb-1"].SetEmptyRecordingSpace(false)
		if err := w.m.UpdateFacts(f); err != nil {
			t.Fatal(err)
		}
		w.run(time.Second)
		w.wantStatus("sb-1", sbWarning)
		w.wantStatus("rec-1", recNormalUnprotected)
		cmds := w.recordCommands()
		w.servers["rec-1"].Crash()
		w.run(10 * time.Second)
		w.wantStatus("rec-1", recAbnormalUnprotected)
		w.wantStatus("sb-1", sbWarning)
		if n := countKind(*cmds, failover.CmdTakeover, ""); n != 0 {
			t.Errorf("%d takeover orders sent", n)
		}
	})
	// Every probe report says whether the standby has an empty recording
	// space: the center knows at the next probe, not at the next inventory,
	// and does not order a standby that would refuse.
	t.Run("known from the probe", func(t *testing.T) {
		w := settled(t, cfg, []nvrha.Facts{standbyFacts("sb-1", 16), standbyFacts("sb-2", 32)}, []nvrha.Facts{recordingFacts("rec-1", 16)})
		w.servers["sb-1"].SetEmptyRecordingSpace(false)
		w.run(time.Second)
		if got := w.status("sb-1"); got != sbWarning {
			t.Errorf("sb-1 is %q a second after its last empty recording space filled", got)
		}
		cmds := w.recordCommands()
		w.servers["rec-1"].Crash()
		w.waitFor(5*time.Second, "sb-2 covers rec-1", func() bool { return w.covering("sb-2") == "rec-1" })
		if n := countKind(*cmds, failover.CmdTakeover, "sb-1"); n != 0 {
			t.Errorf("%d takeover orders sent to sb-1, which has no recording space:\n%s", n, eventLines(w.events))
		}
		w.wantStatus("sb-1", sbWarning)
	})
}

// --- Flap damping -------------------------------------------------------------------

func TestFlappingServerIsDamped(t *testing.T) {
	const holdDown, maxHoldDown = 2 * time.Second, 16 * time.Second
	cfg := failover.Config{Failback: failover.FailbackPolicy{HoldDown: holdDown, FlapWindow: 10 * time.Minute, MaxHoldDown: maxHoldDown}}
	w := settled(t, cfg, []nvrha.Facts{standbyFacts("sb-1", 16)}, []nvrha.Facts{recordingFacts("rec-1", 16)})
	rec := w.servers["rec-1"]
	// expected is the hold-down after the n-th outage inside the flap
	// window: doubled for each earlier one, capped.
	expected := func(n int) time.Duration {
		d := holdDown
		for range n - 1 {
			d = min(2*d, maxHoldDown)
		}
		return d
	}
	outages := 0
	var delays []time.Duration
	for i := range 6 {
		rec.Crash()
		outages++
		w.waitFor(5*time.Second, fmt.Sprintf("takeover %d", i+1), func() bool { return w.covering("sb-1") == "rec-1" })
		w.run(time.Second)
		rec.Restart()
		// While it flaps inside its hold-down, the cameras stay put: each
		// outage starts the hold-down again, and counts.
		if i == 4 {
			for range 2 {
				w.waitFor(2*time.Second, "rec-1 up", func() bool { return w.member("rec-1").Health == nvrha.HealthUp })
				w.run(expected(outages) / 2)
				rec.Crash()
				outages++
				w.run(3 * time.Second)
				if w.covering("sb-1") != "rec-1" || len(w.eventsOf(failover.EventFailbackStarted, "rec-1")) != i {
					t.Fatalf("cameras moved while rec-1 flapped inside its hold-down:\n%s", eventLines(w.events))
				}
				rec.Restart()
			}
		}
		w.waitFor(2*time.Second, "rec-1 up", func() bool { return w.member("rec-1").Health == nvrha.HealthUp })
		hold := expected(outages)
		back := w.waitFor(hold+5*time.Second, fmt.Sprintf("failback %d", i+1), func() bool {
			return len(w.eventsOf(failover.EventFailbackStarted, "rec-1")) == i+1
		})
		delays = append(delays, back)
		if back < hold-w.step || back > hold+w.step {
			t.Errorf("failback %d started %v after rec-1 was up again, after %d outages; want the hold-down %v", i+1, back, outages, hold)
		}
		w.waitFor(2*time.Second, fmt.Sprintf("failback %d completed", i+1), func() bool { return w.covering("sb-1") == "" })
		if !rec.Recording() {
			t.Fatalf("rec-1 does not record after failback %d", i+1)
		}
	}
	t.Logf("failback delays after each recovery: %v", delays)
	// Doubling from one cycle to the next, up to the cap.
	for i := 1; i < len(delays); i++ {
		if r := float64(delays[i]) / float64(delays[i-1]); (delays[i] < maxHoldDown && (r < 1.8 || r > 2.2)) || r < 1 {
			t.Errorf("hold-down went from %v to %v at the next outage; want about double, up to %v", delays[i-1], delays[i], maxHoldDown)
		}
	}

	// Cameras never go back sooner after a takeover than the base hold-down.
	succ := w.eventsOf(failover.EventTakeoverSucceeded, "rec-1")
	started := w.eventsOf(failover.EventFailbackStarted, "rec-1")
	for i := range started {
		if gap := started[i].At.Sub(succ[i].At); gap < holdDown {
			t.Errorf("cameras of takeover %d went back after %v, under the hold-down %v", i+1, gap, holdDown)
		}
	}

	// Once it stays healthy past the flap window, the base hold-down is back.
	w.run(cfg.Failback.FlapWindow)
	rec.Crash()
	w.waitFor(5*time.Second, "last takeover", func() bool { return w.covering("sb-1") == "rec-1" })
	rec.Restart()
	w.waitFor(2*time.Second, "rec-1 up", func() bool { return w.member("rec-1").Health == nvrha.HealthUp })
	if back := w.waitFor(maxHoldDown+5*time.Second, "last failback", func() bool { return w.covering("sb-1") == "" }); back > holdDown+time.Second {
		t.Errorf("failback %v after a calm flap window; want the base hold-down %v", back, holdDown)
	}
}

// --- Pauses -------------------------------------------------------------------------

func TestPauseShorterThanAcceptablePauseCausesNoTakeover(t *testing.T) {
	w := settled(t, failover.Config{}, []nvrha.Facts{standbyFacts("sb-1", 16)}, []nvrha.Facts{recordingFacts("rec-1", 16)})
	pause := failover.Config{}.WithDefaults().Detector.AcceptablePause - 100*time.Millisecond
	// Many pauses, each starting at a different point of the probe cycle,
	// with little time between them.
	for i := range 60 {
		w.tr.SetHook("rec-1", transport.Drop())
		w.run(pause)
		w.tr.ClearHook("rec-1")
		w.run(300*time.Millisecond + time.Duration(i%4)*w.step)
	}
	if es := w.eventsOf(failover.EventTakeoverStarted, ""); len(es) != 0 {
		t.Fatalf("%d takeovers started after pauses of %v:\n%s", len(es), pause, eventLines(w.events))
	}
	if es := w.eventsOf(failover.EventServerDown, ""); len(es) != 0 {
		t.Fatalf("servers declared down after pauses of %v:\n%s", pause, eventLines(w.events))
	}
	w.wantStatus("rec-1", recNormalProtected)

	// A pause of 5 s is a failure.
	w.tr.SetHook("rec-1", transport.Drop())
	took := w.waitFor(5*time.Second, "takeover during a 5 s pause", func() bool { return w.covering("sb-1") == "rec-1" })
	t.Logf("taken over %v into the pause", took)
	w.run(5*time.Second - took)
	w.tr.ClearHook("rec-1")
	w.waitFor(failover.DefaultHoldDown+5*time.Second, "failback after the pause", func() bool {
		return len(w.eventsOf(failover.EventFailbackCompleted, "rec-1")) == 1
	})
}

// --- Several failures at once --------------------------------------------------------

func TestSeveralSimultaneousFailuresUseOptimalAssignment(t *testing.T) {
	// Standbys in an unhelpful order: a first-fit by list order would give
	// the 8-channel server the 32-channel standby and leave the 32-channel
	// server unprotected.
	w := settled(t, failover.Config{},
		[]nvrha.Facts{standbyFacts("sb-1", 32), standbyFacts("sb-2", 16), standbyFacts("sb-3", 8)},
		[]nvrha.Facts{recordingFacts("rec-1", 8), recordingFacts("rec-2", 16), recordingFacts("rec-3", 32)})
	for _, id := range []nvrha.ServerID{"rec-1", "rec-2", "rec-3"} {
		w.servers[id].Crash()
	}
	want := map[nvrha.ServerID]nvrha.ServerID{"rec-1": "sb-3", "rec-2": "sb-2", "rec-3": "sb-1"}
	w.waitFor(5*time.Second, "every failed server covered", func() bool {
		return w.covering("sb-1") != "" && w.covering("sb-2") != "" && w.covering("sb-3") != ""
	})
	w.run(time.Second)
	for rec, sb := range want {
		w.wantOnlyCoverer(rec, sb)
		w.wantStatus(rec, recAbnormalProtected)
	}
	started := w.eventsOf(failover.EventTakeoverStarted, "")
	if len(started) != 3 {
		t.Fatalf("%d takeovers started, want 3:\n%s", len(started), eventLines(w.events))
	}
	if !started[0].At.Equal(started[2].At) {
		t.Logf("the failures were detected at different times: %v", started)
	}
	if n := len(w.eventsOf(failover.EventTakeoverFailed, "")); n != 0 {
		t.Errorf("%d takeovers failed", n)
	}
}

// --- Failback policies ---------------------------------------------------------------

func TestManualFailbackPolicy(t *testing.T) {
	cfg := failover.Config{Failback: failover.FailbackPolicy{Mode: failover.FailbackManual}}
	w := settled(t, cfg, []nvrha.Facts{standbyFacts("sb-1", 16)}, []nvrha.Facts{recordingFacts("rec-1", 16), recordingFacts("rec-2", 8)})

	for _, tc := range []struct {
		id   nvrha.ServerID
		want error
	}{
		{"rec-1", failover.ErrNotTakenOver},
		{"sb-1", failover.ErrNotRecordingServer},
		{"nobody", failover.ErrServerNotFound},
	} {
		if err := w.m.Failback(tc.id); !errors.Is(err, tc.want) {
			t.Errorf("Failback(%s) = %v, want %v", tc.id, err, tc.want)
		}
	}

	w.servers["rec-1"].Crash()
	w.waitFor(5*time.Second, "sb-1 covers rec-1", func() bool { return w.covering("sb-1") == "rec-1" })
	w.run(time.Second)
	before := w.m.Snapshot()
	if err := w.m.Failback("rec-1"); !errors.Is(err, failover.ErrNotRecovered) {
		t.Errorf("Failback of a server still down = %v, want ErrNotRecovered", err)
	}
	if err := w.m.Failback("sb-1"); !errors.Is(err, failover.ErrNotRecordingServer) {
		t.Errorf("Failback(sb-1) = %v, want ErrNotRecordingServer", err)
	}
	if err := w.m.Failback("rec-2"); !errors.Is(err, failover.ErrNotTakenOver) {
		t.Errorf("Failback(rec-2) = %v, want ErrNotTakenOver", err)
	}
	unchanged(t, w.m, before)
	if w.m.HasReady() {
		t.Errorf("a refused Failback left something to do: %+v", w.m.Ready())
	}

	// Recovered, and long past any hold-down: the cameras stay on sb-1.
	w.servers["rec-1"].Restart()
	w.run(failover.DefaultMaxHoldDown + time.Minute)
	if n := len(w.eventsOf(failover.EventFailbackStarted, "")); n != 0 {
		t.Fatalf("%d failbacks started without Failback", n)
	}
	w.wantOnlyCoverer("rec-1", "sb-1")
	w.wantStatus("rec-1", recAbnormalProtected)

	if err := w.m.Failback("rec-1"); err != nil {
		t.Fatalf("Failback(rec-1) = %v", err)
	}
	w.waitFor(5*time.Second, "failback completed", func() bool {
		return len(w.eventsOf(failover.EventFailbackCompleted, "rec-1")) == 1
	})
	w.run(time.Second)
	if !w.servers["rec-1"].Recording() || w.covering("sb-1") != "" {
		t.Errorf("after failback rec-1 records: %v, sb-1 covers %q", w.servers["rec-1"].Recording(), w.covering("sb-1"))
	}
	w.wantStatus("rec-1", recNormalProtected)
	w.wantStatus("sb-1", sbReady)
	if err := w.m.Failback("rec-1"); !errors.Is(err, failover.ErrNotTakenOver) {
		t.Errorf("second Failback(rec-1) = %v, want ErrNotTakenOver", err)
	}
}

func TestScheduledFailbackWindow(t *testing.T) {
	// Cameras go back between 00:05 and 00:06 only.
	window := failover.DailyWindow{Start: 5 * time.Minute, End: 6 * time.Minute}
	cfg := failover.Config{Failback: failover.FailbackPolicy{Mode: failover.FailbackScheduled, HoldDown: 10 * time.Second, Window: window}}
	w := settled(t, cfg, []nvrha.Facts{standbyFacts("sb-1", 16)}, []nvrha.Facts{recordingFacts("rec-1", 16)})

	w.servers["rec-1"].Crash()
	w.waitFor(5*time.Second, "sb-1 covers rec-1", func() bool { return w.covering("sb-1") == "rec-1" })
	w.servers["rec-1"].Restart()
	w.waitFor(10*time.Minute, "failback started", func() bool {
		return len(w.eventsOf(failover.EventFailbackStarted, "rec-1")) == 1
	})
	e := w.eventsOf(failover.EventFailbackStarted, "rec-1")[0]
	if at := e.At.Sub(epoch0); at != window.Start {
		t.Errorf("failback started at %v after midnight, want at the window's start %v", at, window.Start)
	}
	w.waitFor(5*time.Second, "failback completed", func() bool { return w.covering("sb-1") == "" })
	if !w.servers["rec-1"].Recording() {
		t.Error("rec-1 does not record after failback")
	}

	// A recovery whose hold-down ends after the window waits for the next
	// day's window; one whose hold-down ends inside it goes back then.
	w.servers["rec-1"].Crash()
	w.waitFor(5*time.Second, "second takeover", func() bool { return w.covering("sb-1") == "rec-1" })
	restart := epoch0.Add(window.End - 5*time.Second)
	w.run(restart.Sub(w.now))
	w.servers["rec-1"].Restart()
	w.run(2 * time.Minute)
	if n := len(w.eventsOf(failover.EventFailbackStarted, "rec-1")); n != 1 {
		t.Fatalf("a failback started outside the window: %v", w.eventsOf(failover.EventFailbackStarted, "rec-1"))
	}
	w.wantStatus("rec-1", recAbnormalProtected)
	// On to the next day's window, in coarser steps.
	w.step = 500 * time.Millisecond
	w.waitFor(25*time.Hour, "failback the next day", func() bool {
		return len(w.eventsOf(failover.EventFailbackStarted, "rec-1")) == 2
	})
	e = w.eventsOf(failover.EventFailbackStarted, "rec-1")[1]
	if at := e.At.Sub(epoch0); at != 24*time.Hour+window.Start {
		t.Errorf("second failback started at %v, want %v", at, 24*time.Hour+window.Start)
	}
	if n := len(w.eventsOf(failover.EventTakeoverStarted, "rec-1")); n != 2 {
		t.Errorf("%d takeovers while rec-1 waited for its window", n)
	}
}

// A recording server that answers abnormal during its failback is no fit
// to take its cameras back: the failback is given up at that answer, not
// once its detector finds it failed, the standby keeps the cameras, and a
// server that records them is told to stop. No failback starts again
// until it has answered healthy for the hold-down.
func TestAbnormalDuringFailbackGivesItUp(t *testing.T) {
	cfg := failover.Config{Failback: failover.FailbackPolicy{HoldDown: 3 * time.Second}}
	w := settled(t, cfg, []nvrha.Facts{standbyFacts("sb-1", 16)}, []nvrha.Facts{recordingFacts("rec-1", 16)})
	cmds := w.recordCommands()
	w.servers["rec-1"].Crash()
	w.waitFor(5*time.Second, "sb-1 covers rec-1", func() bool { return w.covering("sb-1") == "rec-1" })
	w.servers["rec-1"].Restart()
	w.waitFor(10*time.Second, "the failback started", func() bool {
		return len(w.eventsOf(failover.EventFailbackStarted, "rec-1")) == 1
	})
	downs := len(w.eventsOf(failover.EventServerDown, "rec-1"))
	w.servers["rec-1"].SetHealthy(false)
	// Within the acceptable pause, the detector cannot find it failed yet.
	w.run(failover.DefaultProbeTimeout + 2*detector.DefaultProbeInterval)
	if n := len(ordersTo(*cmds, failover.CmdStandDown, "rec-1")); n == 0 {
		t.Fatal("rec-1 answers abnormal in its failback and was not told to stand down")
	}
	if n := len(w.eventsOf(failover.EventServerDown, "rec-1")) - downs; n != 0 {
		t.Fatalf("rec-1 was found down %d times: the failback was given up by the detector, not by the answer", n)
	}
	w.run(10 * time.Second)
	if n := len(w.eventsOf(failover.EventFailbackStarted, "rec-1")); n != 1 {
		t.Errorf("%d failbacks started while rec-1 answers abnormal", n)
	}
	if w.covering("sb-1") != "rec-1" {
		t.Fatal("sb-1 let go of rec-1's cameras")
	}
	w.servers["rec-1"].SetHealthy(true)
	healthy := w.now
	w.waitFor(10*time.Second, "the failback completed", func() bool {
		return len(w.eventsOf(failover.EventFailbackCompleted, "rec-1")) == 1
	})
	started := w.eventsOf(failover.EventFailbackStarted, "rec-1")
	if at := started[len(started)-1].At; at.Sub(healthy) < 3*time.Second-detector.DefaultProbeInterval {
		t.Errorf("the failback started again %v after rec-1 answered healthy, within the hold-down", at.Sub(healthy))
	}
}

// --- Admin operations during a takeover ----------------------------------------------

// coveredWorld is rec-1 (16 channels) taken over by sb-1 (16), with sb-2
// (32) as a spare when spare is set.
func coveredWorld(t *testing.T, spare bool) *world {
	t.Helper()
	sbs := []nvrha.Facts{standbyFacts("sb-1", 16)}
	if spare {
		sbs = append(sbs, standbyFacts("sb-2", 32))
	}
	w := settled(t, failover.Config{}, sbs, []nvrha.Facts{recordingFacts("rec-1", 16)})
	w.servers["rec-1"].Crash()
	w.waitFor(5*time.Second, "sb-1 covers rec-1", func() bool { return w.covering("sb-1") == "rec-1" })
	w.run(time.Second)
	w.wantOnlyCoverer("rec-1", "sb-1")
	return w
}

func wantInterrupted(t *testing.T, got []failover.Takeover, want ...failover.Takeover) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("interrupted %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Recording != want[i].Recording || got[i].Standby != want[i].Standby || got[i].Epoch != want[i].Epoch {
			t.Errorf("interrupted[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestDisablingProtectingStandbyEndsTakeover(t *testing.T) {
	t.Run("next standby takes over", func(t *testing.T) {
		w := coveredWorld(t, true)
		e := w.m.Epoch("rec-1")
		got, err := w.m.SetServerEnabled("sb-1", false)
		if err != nil {
			t.Fatal(err)
		}
		wantInterrupted(t, got, failover.Takeover{Recording: "rec-1", Standby: "sb-1", Epoch: e})
		w.flush()
		if c := w.covering("sb-1"); c != "" {
			t.Errorf("disabled sb-1 still covers %s", c)
		}
		if ev, ok := w.lastEvent(failover.EventTakeoverInterrupted, "rec-1"); !ok || ev.Peer != "sb-1" {
			t.Errorf("no takeover-interrupted event: %+v", ev)
		}
		w.waitFor(3*time.Second, "sb-2 covers rec-1", func() bool { return w.covering("sb-2") == "rec-1" })
		w.run(time.Second)
		w.wantOnlyCoverer("rec-1", "sb-2")
		w.wantStatus("sb-1", sbDisabled)
		w.wantStatus("rec-1", recAbnormalProtected)
		if _, err := w.m.SetServerEnabled("sb-1", true); err != nil {
			t.Fatal(err)
		}
		w.run(time.Second)
		w.wantStatus("sb-1", sbReady)
		w.wantOnlyCoverer("rec-1", "sb-2")
	})
	t.Run("no other standby", func(t *testing.T) {
		w := coveredWorld(t, false)
		e := w.m.Epoch("rec-1")
		got, err := w.m.SetServerEnabled("sb-1", false)
		if err != nil {
			t.Fatal(err)
		}
		wantInterrupted(t, got, failover.Takeover{Recording: "rec-1", Standby: "sb-1", Epoch: e})
		w.run(2 * time.Second)
		if c := w.coverers("rec-1"); len(c) != 0 {
			t.Errorf("%v cover rec-1", c)
		}
		w.wantStatus("rec-1", recAbnormalUnprotected)
		w.wantStatus("sb-1", sbDisabled)
		w.wantEpochsIssued("rec-1")
	})
	t.Run("disabling the recording server", func(t *testing.T) {
		w := coveredWorld(t, true)
		e := w.m.Epoch("rec-1")
		got, err := w.m.SetServerEnabled("rec-1", false)
		if err != nil {
			t.Fatal(err)
		}
		wantInterrupted(t, got, failover.Takeover{Recording: "rec-1", Standby: "sb-1", Epoch: e})
		w.run(2 * time.Second)
		if c := w.coverers("rec-1"); len(c) != 0 {
			t.Errorf("%v cover disabled rec-1", c)
		}
		w.wantStatus("rec-1", recDisabled)
		w.wantStatus("sb-1", sbReady)
	})
}

func TestRemovingServerInTakeoverFails(t *testing.T) {
	w := coveredWorld(t, false)
	g := failover.DefaultGroupID
	before := w.m.Snapshot()
	for _, tc := range []struct {
		id, peer nvrha.ServerID
		remove   func() error
	}{
		{"rec-1", "sb-1", func() error { return w.m.RemoveRecordingServers(g, "rec-1") }},
		{"sb-1", "rec-1", func() error {
			return w.m.RemoveStandbyServers(g, approveAt(t, failover.OpRemoveStandbyServers, w.now), "sb-1")
		}},
	} {
		err := tc.remove()
		var ite *failover.InTakeoverError
		if !errors.As(err, &ite) || ite.Server != tc.id || ite.Peer != tc.peer || !errors.Is(err, failover.ErrInTakeover) {
			t.Errorf("removing %s: %v, want *InTakeoverError{%s, %s}", tc.id, err, tc.id, tc.peer)
		}
		unchanged(t, w.m, before)
	}
	// In a batch with a server that may go, nothing goes.
	w2 := coveredWorld(t, true)
	err := w2.m.RemoveStandbyServers(g, approveAt(t, failover.OpRemoveStandbyServers, w2.now), "sb-2", "sb-1")
	var ite *failover.InTakeoverError
	if !errors.As(err, &ite) || ite.Server != "sb-1" {
		t.Errorf("removing sb-2 and sb-1: %v", err)
	}
	if len(groupOf(t, w2.m.Snapshot(), g).Members) != 3 {
		t.Errorf("a refused batch removed servers")
	}

	// Disabled, the standby leaves the takeover and can be removed; then the
	// recording server, which no standby covers any more, can be too.
	if _, err := w.m.SetServerEnabled("sb-1", false); err != nil {
		t.Fatal(err)
	}
	w.run(time.Second)
	if err := w.m.RemoveStandbyServers(g, approveAt(t, failover.OpRemoveStandbyServers, w.now), "sb-1"); err != nil {
		t.Fatalf("removing disabled sb-1: %v", err)
	}
	if err := w.m.RemoveRecordingServers(g, "rec-1"); err != nil {
		t.Fatalf("removing rec-1 after its takeover ended: %v", err)
	}
	w.run(time.Second)
	if c := w.covering("sb-1"); c != "" {
		t.Errorf("removed sb-1 still covers %s", c)
	}
	if n := len(groupOf(t, w.m.Snapshot(), g).Members); n != 0 {
		t.Errorf("%d members left", n)
	}
}

func TestDeletingGroupInterruptsTakeovers(t *testing.T) {
	for _, unreachable := range []bool{false, true} {
		t.Run(fmt.Sprintf("standby unreachable %v", unreachable), func(t *testing.T) {
			w := newWorld(t, failover.Config{})
			g := mustAddGroup(t, w.m, "Cameras West")
			w.addStandbys(g, standbyFacts("sb-a", 16), standbyFacts("sb-b", 16))
			w.addRecordings(g, recordingFacts("rec-a", 16), recordingFacts("rec-b", 16), recordingFacts("rec-c", 8))
			w.run(3 * time.Second)
			w.servers["rec-a"].Crash()
			w.servers["rec-b"].Crash()
			w.waitFor(5*time.Second, "both covered", func() bool {
				return len(w.coverers("rec-a")) == 1 && len(w.coverers("rec-b")) == 1
			})
			w.run(time.Second)
			want := []failover.Takeover{
				{Recording: "rec-a", Standby: w.member("rec-a").Peer, Epoch: w.m.Epoch("rec-a")},
				{Recording: "rec-b", Standby: w.member("rec-b").Peer, Epoch: w.m.Epoch("rec-b")},
			}
			if unreachable {
				w.tr.SetHook(want[0].Standby, transport.Drop())
			}
			got, err := w.m.DeleteGroup(g, approveAt(t, failover.OpDeleteGroup, w.now))
			if err != nil {
				t.Fatal(err)
			}
			wantInterrupted(t, got, want...)
			if hasGroup(w.m.Snapshot(), g) {
				t.Fatal("group still there")
			}
			w.run(time.Second)
			w.tr.ClearHook(want[0].Standby)
			w.run(10 * time.Second)
			for _, tk := range want {
				if c := w.covering(tk.Standby); c != "" {
					t.Errorf("%s still covers %s after its group was deleted", tk.Standby, c)
				}
			}
			if n := len(w.eventsOf(failover.EventTakeoverInterrupted, "")); n != 2 {
				t.Errorf("%d takeover-interrupted events", n)
			}
			// The servers may join another group at once.
			g2 := mustAddGroup(t, w.m, "Cameras East")
			mustAddStandby(t, w.m, g2, standbyFacts("sb-a", 16))
		})
	}
}

func TestProtectionOffInterruptsTakeoversAndReleasesStandbys(t *testing.T) {
	w := settled(t, failover.Config{},
		[]nvrha.Facts{standbyFacts("sb-1", 16), standbyFacts("sb-2", 16)},
		[]nvrha.Facts{recordingFacts("rec-1", 16), recordingFacts("rec-2", 8)})
	g := failover.DefaultGroupID
	w.servers["rec-1"].Crash()
	w.servers["rec-2"].Crash()
	w.waitFor(5*time.Second, "both covered", func() bool {
		return len(w.coverers("rec-1")) == 1 && len(w.coverers("rec-2")) == 1
	})
	w.run(time.Second)
	want := []failover.Takeover{
		{Recording: "rec-1", Standby: w.member("rec-1").Peer, Epoch: w.m.Epoch("rec-1")},
		{Recording: "rec-2", Standby: w.member("rec-2").Peer, Epoch: w.m.Epoch("rec-2")},
	}
	got, err := w.m.SetProtection(g, false)
	if err != nil {
		t.Fatal(err)
	}
	wantInterrupted(t, got, want...)
	w.run(2 * time.Second)
	for _, id := range []nvrha.ServerID{"rec-1", "rec-2"} {
		if c := w.coverers(id); len(c) != 0 {
			t.Errorf("%v still cover %s with protection off", c, id)
		}
		w.wantStatus(id, recDisabled)
		w.wantEpochsIssued(id)
	}
	w.wantStatus("sb-1", sbDisabled)
	w.wantStatus("sb-2", sbDisabled)
	if got, err := w.m.SetProtection(g, false); err != nil || len(got) != 0 {
		t.Errorf("switching off again: %v, %v", got, err)
	}

	// Back on: the servers still down are taken over again.
	if got, err := w.m.SetProtection(g, true); err != nil || len(got) != 0 {
		t.Fatalf("switching on: %v, %v", got, err)
	}
	w.waitFor(5*time.Second, "both covered again", func() bool {
		return len(w.coverers("rec-1")) == 1 && len(w.coverers("rec-2")) == 1
	})
	w.run(time.Second)
	w.wantStatus("rec-1", recAbnormalProtected)
	w.wantStatus("rec-2", recAbnormalProtected)
}

// --- Center restarts ---------------------------------------------------------------

func TestRestartFromStateResumesTakeover(t *testing.T) {
	sbs := []nvrha.Facts{standbyFacts("sb-1", 16), standbyFacts("sb-2", 32)}
	recs := []nvrha.Facts{recordingFacts("rec-1", 16)}
	cfg := failover.Config{Failback: failover.FailbackPolicy{HoldDown: 5 * time.Second}}

	// after checks the world from the restart on: the takeover goes on with
	// sb-1, nobody else gets the cameras, epochs only grow, failback works.
	after := func(t *testing.T, w *world, before nvrha.Epoch) {
		t.Helper()
		atMostOne := func() {
			if c := w.coverers("rec-1"); len(c) > 1 {
				t.Fatalf("after the restart %v all cover rec-1", c)
			}
			if e := w.m.Epoch("rec-1"); e < before {
				t.Fatalf("epoch of rec-1 went back from %d to %d", before, e)
			}
		}
		w.runChecking(5*time.Second, atMostOne)
		w.wantOnlyCoverer("rec-1", "sb-1")
		w.wantStatus("rec-1", recAbnormalProtected)
		w.wantStatus("sb-1", sbProtecting)
		w.wantStatus("sb-2", sbReady)
		if n := len(w.eventsOf(failover.EventTakeoverFailed, "")); n != 0 {
			t.Errorf("%d takeovers failed across the restart:\n%s", n, eventLines(w.events))
		}
		w.servers["rec-1"].Restart()
		w.waitFor(15*time.Second, "failback after the restart", func() bool {
			return len(w.eventsOf(failover.EventFailbackCompleted, "rec-1")) == 1
		})
		w.run(time.Second)
		if !w.servers["rec-1"].Recording() || len(w.coverers("rec-1")) != 0 {
			t.Errorf("after failback rec-1 records: %v; coverers %v", w.servers["rec-1"].Recording(), w.coverers("rec-1"))
		}
		w.wantStatus("rec-1", recNormalProtected)
		w.wantStatus("sb-1", sbReady)
		w.wantEpochsIssued("rec-1")
		if e := w.servers["sb-1"].Newest("rec-1"); e != w.m.Epoch("rec-1") {
			t.Errorf("sb-1 released under epoch %d, the Machine's newest is %d", e, w.m.Epoch("rec-1"))
		}
	}

	t.Run("confirmed", func(t *testing.T) {
		w := settled(t, cfg, sbs, recs)
		w.servers["rec-1"].Crash()
		w.waitFor(5*time.Second, "sb-1 covers rec-1", func() bool { return w.covering("sb-1") == "rec-1" })
		w.run(2 * time.Second)
		if len(w.saved.Takeovers) != 1 || w.saved.Takeovers[0].Phase != failover.PhaseActive {
			t.Fatalf("saved takeovers %+v", w.saved.Takeovers)
		}
		before := w.m.Epoch("rec-1")
		w.restart()
		if e := w.m.Epoch("rec-1"); e != before {
			t.Errorf("restored epoch %d, was %d", e, before)
		}
		after(t, w, before)
	})

	t.Run("not yet confirmed", func(t *testing.T) {
		for _, delivered := range []bool{false, true} {
			t.Run(fmt.Sprintf("order delivered %v", delivered), func(t *testing.T) {
				w := settled(t, cfg, sbs, recs)
				// Keep the state saved with the takeover order, before any
				// confirmation; the center dies right after sending it.
				var unconfirmed *failover.State
				w.observe = func(rd failover.Ready) {
					if unconfirmed == nil && rd.State != nil && len(rd.State.Takeovers) == 1 && rd.State.Takeovers[0].Phase == failover.PhaseStarting {
						st := *rd.State
						unconfirmed = &st
					}
				}
				if !delivered {
					w.hookOnly("sb-1", transport.Drop(), transport.MethodTakeover)
				}
				w.servers["rec-1"].Crash()
				w.waitFor(5*time.Second, "takeover started", func() bool { return unconfirmed != nil })
				w.tr.ClearHook("sb-1")
				w.observe = nil
				if got := w.covering("sb-1") == "rec-1"; got != delivered {
					t.Fatalf("sb-1 covers rec-1: %v", got)
				}
				before := unconfirmed.Takeovers[0].Epoch
				w.restartFrom(*unconfirmed)
				after(t, w, before)
			})
		}
	})

	t.Run("twice in a row", func(t *testing.T) {
		w := settled(t, cfg, sbs, recs)
		w.servers["rec-1"].Crash()
		w.waitFor(5*time.Second, "sb-1 covers rec-1", func() bool { return w.covering("sb-1") == "rec-1" })
		before := w.m.Epoch("rec-1")
		w.restart()
		w.run(300 * time.Millisecond)
		w.restart()
		after(t, w, before)
	})
}

// A center that restarts during failback must not take the cameras back
// from the recording server that records them again: the failback goes on
// to its end, and the standby records nothing once it let go.
// TestRestartedCenterPersistsNothingForServersFoundUp: after a restart every
// server is found up again, and a server whose intervals are still open in
// the ledger changes nothing that must persist. A center of 1,024 servers
// used to save its whole State once per server here.
func TestRestartedCenterPersistsNothingForServersFoundUp(t *testing.T) {
	sbs := []nvrha.Facts{standbyFacts("sb-1", 16)}
	var recs []nvrha.Facts
	for i := range 8 {
		recs = append(recs, recordingFacts(nvrha.ServerID(fmt.Sprintf("rec-%d", i+1)), 16))
	}
	w := settled(t, failover.Config{}, sbs, recs)
	saved := *w.saved
	w.restart()
	saves := 0
	w.observe = func(rd failover.Ready) {
		if rd.State != nil {
			saves++
		}
	}
	w.run(3 * time.Second)
	for _, f := range append(sbs, recs...) {
		if h := w.member(f.ID).Health; h != nvrha.HealthUp {
			t.Fatalf("%s is %v after the restart", f.ID, h)
		}
	}
	if saves != 0 {
		t.Errorf("%d States saved after the restart while the servers were found up; want 0", saves)
	}
	if got := w.m.State(); !slices.EqualFunc(got.Ledger, saved.Ledger, func(a, b failover.CameraLedger) bool {
		return a.Camera == b.Camera && slices.Equal(a.Intervals, b.Intervals)
	}) {
		t.Errorf("ledger changed across the restart:\n got %+v\nwant %+v", got.Ledger, saved.Ledger)
	}
}

func TestRestartDuringFailbackCompletesIt(t *testing.T) {
	cfg := failover.Config{Failback: failover.FailbackPolicy{HoldDown: 5 * time.Second}}
	for _, tc := range []struct {
		name   string
		target nvrha.ServerID
		method transport.Method
		hook   transport.Hook
		bug    string
	}{
		{"resume lost", "rec-1", transport.MethodResume, transport.Drop(), ""},
		{"resume answer lost", "rec-1", transport.MethodResume, transport.DropAfterDelivery(), ""},
		{"release lost", "sb-1", transport.MethodRelease, transport.Drop(), ""},
		{"release answer lost", "sb-1", transport.MethodRelease, transport.DropAfterDelivery(),
			""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.bug != "" {
				t.Skip(tc.bug)
			}
			w := settled(t, cfg, []nvrha.Facts{standbyFacts("sb-1", 16)}, []nvrha.Facts{recordingFacts("rec-1", 16)})
			w.servers["rec-1"].Crash()
			w.waitFor(5*time.Second, "sb-1 covers rec-1", func() bool { return w.covering("sb-1") == "rec-1" })
			w.servers["rec-1"].Restart()
			// One of the failback's orders, or its answer, is lost, and the
			// center dies.
			w.hookOnly(tc.target, tc.hook, tc.method)
			w.waitFor(10*time.Second, "failback started", func() bool {
				return len(w.eventsOf(failover.EventFailbackStarted, "rec-1")) == 1
			})
			w.run(200 * time.Millisecond)
			w.tr.ClearHook(tc.target)
			released := w.covering("sb-1") == ""
			w.restart()
			retaken := false
			w.runChecking(10*time.Second, func() {
				if released && w.covering("sb-1") == "rec-1" {
					retaken = true
				}
			})
			if retaken {
				t.Errorf("sb-1 had let go of rec-1's cameras, and the restarted center gave them back to it:\n%s", eventLines(w.events))
			}
			if !w.servers["rec-1"].Recording() {
				t.Errorf("rec-1 does not record")
			}
			if c := w.coverers("rec-1"); len(c) != 0 {
				t.Errorf("%v cover rec-1 after the failback:\n%s", c, eventLines(w.events))
			}
			w.wantStatus("rec-1", recNormalProtected)
			w.wantStatus("sb-1", sbReady)
			w.wantEpochsIssued("rec-1")
		})
	}
}

// execute makes a Ready's calls, on virtual time, and steps their results.
func (w *world) execute(rd failover.Ready) {
	for _, c := range rd.Commands {
		c.Deadline = time.Time{}
		_ = w.m.Step(w.now, failover.Execute(context.Background(), w.tr, c))
	}
}

// A takeover that was ordered but is not confirmed yet is no protection
// when its standby cannot take over: a recording server that is back up
// must not show "Normal, protected" on its account while the standby is
// unknown (just after a center restart) or unable (no recording space).
func TestUnconfirmedTakeoverIsNoProtection(t *testing.T) {
	t.Run("restored, standby silent", func(t *testing.T) {
		w := settled(t, failover.Config{}, []nvrha.Facts{standbyFacts("sb-1", 16)}, []nvrha.Facts{recordingFacts("rec-1", 16)})
		// sb-1 dies shortly after rec-1: the center orders it before it
		// notices.
		w.servers["rec-1"].Crash()
		w.run(800 * time.Millisecond)
		w.servers["sb-1"].Crash()
		w.waitFor(3*time.Second, "takeover ordered", func() bool { return w.member("rec-1").Peer == "sb-1" })
		w.servers["rec-1"].Restart()
		w.restart()
		w.waitFor(time.Second, "rec-1 up", func() bool { return w.member("rec-1").Health == nvrha.HealthUp })
		w.wantStatus("sb-1", "Abnormal")
		w.wantStatus("rec-1", recNormalUnprotected)
		w.run(5 * time.Second)
		w.wantStatus("rec-1", recNormalUnprotected)
	})
	t.Run("standby without recording space", func(t *testing.T) {
		w := settled(t, failover.Config{}, []nvrha.Facts{standbyFacts("sb-1", 16)}, []nvrha.Facts{recordingFacts("rec-1", 16)})
		// sb-1's last empty recording space fills as the order arrives:
		// it refuses, and says so in its probes from then on.
		w.hookOnly("sb-1", func(context.Context, transport.Call) error {
			w.servers["sb-1"].SetEmptyRecordingSpace(false)
			w.tr.ClearHook("sb-1")
			return nil
		}, transport.MethodTakeover)
		w.servers["rec-1"].Crash()
		w.waitFor(3*time.Second, "takeover ordered", func() bool { return w.member("rec-1").Peer == "sb-1" })
		w.servers["rec-1"].Restart()
		w.waitFor(time.Second, "rec-1 up", func() bool { return w.member("rec-1").Health == nvrha.HealthUp })
		w.run(200 * time.Millisecond)
		if w.member("rec-1").Peer != "sb-1" {
			t.Fatalf("the takeover ended already:\n%s", eventLines(w.events))
		}
		w.wantStatus("sb-1", sbWarning)
		w.wantStatus("rec-1", recNormalUnprotected)
	})
}

// --- Persist before send -------------------------------------------------------------

// persistChecker follows the Ready stream and fails the test when a command
// carries an epoch for a recording server above what the states saved so
// far (in the same Ready or earlier) hold.
type persistChecker struct {
	t         testing.TB
	persisted map[nvrha.ServerID]nvrha.Epoch
	checked   int
}

func newPersistChecker(t testing.TB) *persistChecker {
	return &persistChecker{t: t, persisted: map[nvrha.ServerID]nvrha.Epoch{}}
}

func (p *persistChecker) ready(rd failover.Ready) {
	p.t.Helper()
	if rd.State != nil {
		for _, e := range rd.State.Epochs {
			p.persisted[e.Server] = e.Epoch
		}
	}
	if c := rd.Changes; c != nil {
		epochs := c.Epochs
		if c.Full != nil {
			epochs = c.Full.Epochs
		}
		for _, e := range epochs {
			p.persisted[e.Server] = e.Epoch
		}
	}
	for _, c := range rd.Commands {
		if c.Epoch == 0 {
			continue
		}
		p.checked++
		if c.Recording == "" {
			p.t.Errorf("%v carries an epoch but names no recording server", c)
			continue
		}
		if p.persisted[c.Recording] < c.Epoch {
			p.t.Errorf("%v sent with epoch %d for %s; the newest persisted is %d", c, c.Epoch, c.Recording, p.persisted[c.Recording])
		}
	}
}

func TestPersistBeforeSend(t *testing.T) {
	w := settled(t, failover.Config{Failback: failover.FailbackPolicy{HoldDown: 3 * time.Second}},
		[]nvrha.Facts{standbyFacts("sb-1", 16), standbyFacts("sb-2", 32)},
		[]nvrha.Facts{recordingFacts("rec-1", 16), recordingFacts("rec-2", 8)})
	p := newPersistChecker(t)
	w.observe = p.ready
	// And where the orders leave: when one reaches a server, the state the
	// world saved last holds its epoch.
	reached := 0
	for _, id := range []nvrha.ServerID{"sb-1", "sb-2", "rec-1", "rec-2"} {
		w.tr.SetHook(id, func(_ context.Context, c transport.Call) error {
			rec, e := c.Server, nvrha.Epoch(0)
			switch o := c.Order.(type) {
			case transport.TakeoverOrder:
				rec, e = o.Recording, o.Epoch
			case transport.ReleaseOrder:
				rec, e = o.Recording, o.Epoch
			case transport.StandDownOrder:
				e = o.Epoch
			case transport.ResumeOrder:
				e = o.Epoch
			default:
				return nil
			}
			reached++
			var saved nvrha.Epoch
			for _, es := range w.saved.Epochs {
				if es.Server == rec {
					saved = es.Epoch
				}
			}
			if saved < e {
				t.Errorf("a %s order for %s with epoch %d reached %s; the saved state holds %d", c.Method, rec, e, c.Server, saved)
			}
			return nil
		})
	}
	// Takeover, standby death, fencing, failback, interruption, stand-down.
	w.servers["rec-1"].Crash()
	w.waitFor(5*time.Second, "takeover", func() bool { return len(w.coverers("rec-1")) == 1 })
	w.servers[w.member("rec-1").Peer].Crash()
	w.run(5 * time.Second)
	w.servers["sb-1"].Restart()
	w.servers["sb-2"].Restart()
	w.servers["rec-1"].Restart()
	w.run(15 * time.Second)
	w.servers["rec-2"].SetHealthy(false)
	w.run(4 * time.Second)
	if _, err := w.m.SetServerEnabled(w.member("rec-2").Peer, false); err != nil {
		t.Fatal(err)
	}
	w.run(3 * time.Second)
	if _, err := w.m.SetProtection(failover.DefaultGroupID, false); err != nil {
		t.Fatal(err)
	}
	w.run(time.Second)
	if p.checked < 8 || reached < 8 {
		t.Fatalf("only %d commands with an epoch were sent, %d reached a server:\n%s", p.checked, reached, eventLines(w.events))
	}
	t.Logf("%d commands with an epoch checked, %d orders checked on arrival", p.checked, reached)

	// A caller that steps a result or ticks between Ready and Advance (a
	// concurrent runtime does) must still get every change of state: what
	// arrives after a Ready is for the next one.
	t.Run("change between Ready and Advance", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			// between runs after Ready and before Advance.
			between func(w *world)
		}{
			{"admin operation", func(w *world) {
				if _, err := w.m.SetServerEnabled("sb-1", false); err != nil {
					t.Fatal(err)
				}
			}},
			{"time passes", func(w *world) {
				// Probes go unanswered: sb-1 is found dead and fenced off.
				for range 60 {
					w.now = w.now.Add(w.step)
					w.m.Tick(w.now)
				}
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				w := coveredWorld(t, false)
				p := newPersistChecker(t)
				for _, e := range w.saved.Epochs {
					p.persisted[e.Server] = e.Epoch
				}
				before := w.m.Epoch("rec-1")
				// Something to persist, then a Ready that carries it.
				if err := w.m.RenameGroup(failover.DefaultGroupID, "Lobby"); err != nil {
					t.Fatal(err)
				}
				rd := w.m.Ready()
				if rd.State == nil {
					t.Fatal("a rename left no state to persist")
				}
				p.ready(rd)
				tc.between(w)
				w.m.Advance(rd)
				w.execute(rd)
				if w.m.Epoch("rec-1") == before {
					t.Fatal("no new epoch was issued in between")
				}
				for range 5 {
					rd := w.m.Ready()
					p.ready(rd)
					w.m.Advance(rd)
					w.execute(rd)
				}
				if !w.m.HasReady() && p.persisted["rec-1"] < w.m.Epoch("rec-1") {
					t.Errorf("epoch %d issued between Ready and Advance is never persisted (persisted %d)", w.m.Epoch("rec-1"), p.persisted["rec-1"])
				}
			})
		}
	})
}

// --- Stale epochs --------------------------------------------------------------------

func TestStaleEpochResultJumpsAhead(t *testing.T) {
	const high nvrha.Epoch = 100
	t.Run("standby holds a newer epoch", func(t *testing.T) {
		w := newWorld(t, failover.Config{})
		w.serve(standbyFacts("sb-1", 16), recordingFacts("rec-1", 16))
		// An older center, restored from an old copy of its store, got
		// further than this one for rec-1.
		if err := w.servers["sb-1"].Release(context.Background(), transport.ReleaseOrder{Recording: "rec-1", Epoch: high}); err != nil {
			t.Fatal(err)
		}
		mustAddStandby(t, w.m, failover.DefaultGroupID, standbyFacts("sb-1", 16))
		mustAddRecording(t, w.m, failover.DefaultGroupID, recordingFacts("rec-1", 16))
		w.run(3 * time.Second)
		w.servers["rec-1"].Crash()
		took := w.waitFor(5*time.Second, "sb-1 covers rec-1", func() bool { return w.covering("sb-1") == "rec-1" })
		if took > 2500*time.Millisecond {
			t.Errorf("takeover took %v", took)
		}
		w.run(time.Second)
		if e := w.m.Epoch("rec-1"); e <= high {
			t.Errorf("Machine's epoch %d, not above the agent's %d", e, high)
		}
		if e := w.servers["sb-1"].Newest("rec-1"); e <= high || e != w.m.Epoch("rec-1") {
			t.Errorf("sb-1 covers under epoch %d; Machine's %d", e, w.m.Epoch("rec-1"))
		}
		if n := len(w.eventsOf(failover.EventTakeoverFailed, "")); n != 0 {
			t.Errorf("%d takeovers failed; a stale answer should be retried above it at once", n)
		}
		w.wantStatus("sb-1", sbProtecting)
		w.wantOnlyCoverer("rec-1", "sb-1")
	})
	t.Run("recording server holds a newer epoch", func(t *testing.T) {
		w := newWorld(t, failover.Config{Failback: failover.FailbackPolicy{HoldDown: 3 * time.Second}})
		w.serve(standbyFacts("sb-1", 16), recordingFacts("rec-1", 16))
		if err := w.servers["rec-1"].Resume(context.Background(), transport.ResumeOrder{Epoch: high}); err != nil {
			t.Fatal(err)
		}
		mustAddStandby(t, w.m, failover.DefaultGroupID, standbyFacts("sb-1", 16))
		mustAddRecording(t, w.m, failover.DefaultGroupID, recordingFacts("rec-1", 16))
		w.run(3 * time.Second)
		w.servers["rec-1"].Crash()
		w.waitFor(5*time.Second, "sb-1 covers rec-1", func() bool { return w.covering("sb-1") == "rec-1" })
		w.servers["rec-1"].Restart()
		w.waitFor(15*time.Second, "failback to rec-1 despite its newer epoch", func() bool {
			return len(w.eventsOf(failover.EventFailbackCompleted, "rec-1")) == 1
		})
		if e := w.m.Epoch("rec-1"); e <= high {
			t.Errorf("Machine's epoch %d, not above the agent's %d", e, high)
		}
		if !w.servers["rec-1"].Recording() || w.covering("sb-1") != "" {
			t.Errorf("after failback rec-1 records: %v; sb-1 covers %q", w.servers["rec-1"].Recording(), w.covering("sb-1"))
		}
		w.wantEpochsIssued("rec-1")
	})
	t.Run("owed resume refused as stale", func(t *testing.T) {
		w := newWorld(t, failover.Config{})
		w.serve(standbyFacts("sb-1", 16), recordingFacts("rec-1", 16))
		if err := w.servers["rec-1"].Resume(context.Background(), transport.ResumeOrder{Epoch: high}); err != nil {
			t.Fatal(err)
		}
		mustAddStandby(t, w.m, failover.DefaultGroupID, standbyFacts("sb-1", 16))
		mustAddRecording(t, w.m, failover.DefaultGroupID, recordingFacts("rec-1", 16))
		w.run(3 * time.Second)
		w.servers["rec-1"].Crash()
		w.waitFor(5*time.Second, "sb-1 covers rec-1", func() bool { return w.covering("sb-1") == "rec-1" })
		w.servers["rec-1"].Restart()
		w.waitFor(2*time.Second, "rec-1 up", func() bool { return w.member("rec-1").Health == nvrha.HealthUp })
		// Interrupted while rec-1 is up: rec-1 is owed a resume.
		if _, err := w.m.SetServerEnabled("sb-1", false); err != nil {
			t.Fatal(err)
		}
		w.run(5 * time.Second)
		cmds := w.recordCommands()
		w.run(20 * time.Second)
		if n := countKind(*cmds, failover.CmdResume, "rec-1"); n > 0 {
			t.Errorf("%d resumes sent to rec-1 long after it was told to resume; the owed resume never got through: %v", n, (*cmds)[len(*cmds)-1])
		}
		if e := w.m.Epoch("rec-1"); e <= high || w.servers["rec-1"].Newest("rec-1") != e {
			t.Errorf("Machine's epoch %d, rec-1 holds %d", e, w.servers["rec-1"].Newest("rec-1"))
		}
		if len(w.saved.Owed) != 0 {
			t.Errorf("still owed: %+v", w.saved.Owed)
		}
	})
}

// --- Determinism ---------------------------------------------------------------------

// scripted runs one scenario with every kind of fault and returns the JSON
// of every Ready's commands and events, in order.
func scripted(t *testing.T) []byte {
	t.Helper()
	w := newWorld(t, failover.Config{Failback: failover.FailbackPolicy{HoldDown: 4 * time.Second}})
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	w.observe = func(rd failover.Ready) {
		if err := enc.Encode(struct {
			Commands []failover.Command
			Events   []failover.Event
		}{rd.Commands, rd.Events}); err != nil {
			t.Fatal(err)
		}
	}
	g := failover.DefaultGroupID
	w.addStandbys(g, standbyFacts("sb-1", 32), standbyFacts("sb-2", 16), standbyFacts("sb-3", 16))
	w.addRecordings(g, recordingFacts("rec-1", 16), recordingFacts("rec-2", 8), recordingFacts("rec-3", 32))
	g2 := mustAddGroup(t, w.m, "Annex")
	w.addStandbys(g2, standbyFacts("sb-x", 8))
	w.addRecordings(g2, recordingFacts("rec-x", 8))
	w.run(3 * time.Second)
	w.servers["rec-1"].Crash()
	w.servers["rec-3"].Crash()
	w.run(3 * time.Second)
	w.servers["sb-2"].Crash()
	w.hookOnly("sb-3", transport.DropAfterDelivery(), transport.MethodTakeover)
	w.run(2 * time.Second)
	w.tr.ClearHook("sb-3")
	w.servers["rec-2"].SetHealthy(false)
	w.servers["rec-x"].Crash()
	w.run(3 * time.Second)
	w.servers["rec-1"].Restart()
	w.servers["sb-2"].Restart()
	w.tr.SetHook("rec-3", transport.Drop())
	w.servers["rec-3"].Restart()
	w.run(6 * time.Second)
	w.tr.ClearHook("rec-3")
	w.servers["rec-2"].SetHealthy(true)
	if _, err := w.m.SetServerEnabled("sb-1", false); err != nil {
		t.Fatal(err)
	}
	if _, err := w.m.DeleteGroup(g2, approveAt(t, failover.OpDeleteGroup, w.now)); err != nil {
		t.Fatal(err)
	}
	w.run(20 * time.Second)
	w.restart()
	w.run(10 * time.Second)
	if len(w.eventsOf(failover.EventTakeoverStarted, "")) < 4 || len(w.eventsOf(failover.EventFailbackCompleted, "")) < 2 {
		t.Fatalf("the scenario did too little:\n%s", eventLines(w.events))
	}
	return out.Bytes()
}

func TestDeterminism(t *testing.T) {
	a, b := scripted(t), scripted(t)
	if !bytes.Equal(a, b) {
		la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
		for i := range min(len(la), len(lb)) {
			if !bytes.Equal(la[i], lb[i]) {
				t.Fatalf("runs differ at Ready %d:\n%s\n%s", i, la[i], lb[i])
			}
		}
		t.Fatalf("runs differ in length: %d and %d Readys", len(la), len(lb))
	}
	t.Logf("%d bytes of Ready, twice the same", len(a))
}

// --- Status events -------------------------------------------------------------------

// statusFollower checks, after every Ready, that the status-changed events
// published so far end, for every member, on the status the snapshot shows,
// and that each event starts where the previous one for that server ended.
type statusFollower struct {
	w    *world
	last map[nvrha.ServerID]string
	n    int
}

func followStatuses(w *world) *statusFollower {
	f := &statusFollower{w: w, last: map[nvrha.ServerID]string{}}
	for _, e := range w.events {
		if e.Kind == failover.EventStatusChanged {
			f.last[e.Server] = e.To
		}
	}
	prev := w.observe
	w.observe = func(rd failover.Ready) {
		if prev != nil {
			prev(rd)
		}
		f.ready(rd)
	}
	return f
}

func (f *statusFollower) ready(rd failover.Ready) {
	t := f.w.t
	t.Helper()
	for _, e := range rd.Events {
		if e.Kind != failover.EventStatusChanged {
			continue
		}
		f.n++
		if e.From != f.last[e.Server] {
			t.Errorf("%v: %s changes from %q, but its last published status is %q", e.At.Sub(epoch0), e.Server, e.From, f.last[e.Server])
		}
		if e.From == e.To {
			t.Errorf("%v: status-changed event without a change: %v", e.At.Sub(epoch0), e)
		}
		f.last[e.Server] = e.To
	}
	f.check()
}

// check compares the published statuses with the snapshot, when nothing is
// left to publish.
func (f *statusFollower) check() {
	t := f.w.t
	t.Helper()
	if f.w.m.HasReady() {
		return
	}
	in := map[nvrha.ServerID]bool{}
	for _, g := range f.w.m.Snapshot().Groups {
		for _, mem := range g.Members {
			in[mem.ID] = true
			if got := f.last[mem.ID]; got != mem.Status() {
				t.Errorf("%v: %s was last published as %q, the snapshot says %q", f.w.now.Sub(epoch0), mem.ID, got, mem.Status())
				f.last[mem.ID] = mem.Status() // report each divergence once
			}
		}
	}
	// A server that left has no status; if it joins again, it starts afresh.
	for id := range f.last {
		if !in[id] {
			delete(f.last, id)
		}
	}
}

func TestStatusEventsFollowSnapshot(t *testing.T) {
	t.Run("scenario", func(t *testing.T) {
		w := newWorld(t, failover.Config{Failback: failover.FailbackPolicy{HoldDown: 3 * time.Second}})
		f := followStatuses(w)
		step := func(d time.Duration) {
			w.run(d)
			f.check()
		}
		g := failover.DefaultGroupID
		w.addStandbys(g, standbyFacts("sb-1", 16), standbyFacts("sb-2", 32))
		w.addRecordings(g, recordingFacts("rec-1", 16), recordingFacts("rec-2", 16))
		step(3 * time.Second)
		w.servers["rec-1"].Crash()
		step(3 * time.Second)
		w.servers["sb-2"].SetEmptyRecordingSpace(false)
		step(time.Second)
		w.servers["rec-2"].Crash()
		step(3 * time.Second)
		w.servers["sb-2"].SetEmptyRecordingSpace(true)
		step(2 * time.Second)
		w.servers[w.member("rec-1").Peer].Crash()
		step(4 * time.Second)
		if _, err := w.m.SetServerEnabled("rec-2", false); err != nil {
			t.Fatal(err)
		}
		f.check()
		step(2 * time.Second)
		w.servers["sb-1"].Restart()
		w.servers["sb-2"].Restart()
		w.servers["rec-1"].Restart()
		w.servers["rec-2"].Restart()
		step(5 * time.Second)
		if _, err := w.m.SetServerEnabled("rec-2", true); err != nil {
			t.Fatal(err)
		}
		f.check()
		if _, err := w.m.SetProtection(g, false); err != nil {
			t.Fatal(err)
		}
		f.check()
		step(time.Second)
		if _, err := w.m.SetProtection(g, true); err != nil {
			t.Fatal(err)
		}
		step(20 * time.Second)
		if err := w.m.UpdateFacts(recordingFacts("rec-2", 64)); err != nil {
			t.Fatal(err)
		}
		f.check()
		step(time.Second)
		if f.n < 20 {
			t.Errorf("only %d status changes published", f.n)
		}
	})

	// A standby that answers healthy but has lost the takeover it was
	// confirmed for (it was reinstalled, say) is ordered again; if that
	// order fails, the statuses that change must be published.
	t.Run("standby lost its takeover", func(t *testing.T) {
		w := coveredWorld(t, false)
		f := followStatuses(w)
		w.hookOnly("sb-1", transport.FailWith(errors.New("busy")), transport.MethodTakeover)
		if err := w.servers["sb-1"].Release(context.Background(), transport.ReleaseOrder{Recording: "rec-1", Epoch: w.m.Epoch("rec-1")}); err != nil {
			t.Fatal(err)
		}
		for range 20 {
			w.run(w.step)
			f.check()
		}
		w.tr.ClearHook("sb-1")
		w.run(5 * time.Second)
		f.check()
		w.wantOnlyCoverer("rec-1", "sb-1")
	})
}

// --- Reachable but abnormal ---------------------------------------------------------

// A recording server that answers but reports itself abnormal is taken over
// and told to stand down, so that it does not fight the standby for its
// cameras; healthy again, it gets them back by failback.
func TestAbnormalButReachableServerIsStoodDownAndFailedBack(t *testing.T) {
	w := settled(t, failover.Config{Failback: failover.FailbackPolicy{HoldDown: 3 * time.Second}},
		[]nvrha.Facts{standbyFacts("sb-1", 16)}, []nvrha.Facts{recordingFacts("rec-1", 16)})
	rec := w.servers["rec-1"]
	cmds := w.recordCommands()
	rec.SetHealthy(false)
	w.waitFor(5*time.Second, "sb-1 covers rec-1", func() bool { return w.covering("sb-1") == "rec-1" })
	w.run(time.Second)
	if rec.Recording() {
		t.Error("rec-1 still records beside sb-1")
	}
	if n := countKind(*cmds, failover.CmdStandDown, "rec-1"); n != 1 {
		t.Errorf("%d stand-down orders to rec-1", n)
	}
	w.wantStatus("rec-1", recAbnormalProtected)
	w.wantOnlyCoverer("rec-1", "sb-1")
	if e := rec.Newest("rec-1"); e != w.m.Epoch("rec-1") {
		t.Errorf("rec-1 stood down under epoch %d, the takeover's is %d", e, w.m.Epoch("rec-1"))
	}

	rec.SetHealthy(true)
	w.waitFor(10*time.Second, "failback", func() bool { return len(w.eventsOf(failover.EventFailbackCompleted, "rec-1")) == 1 })
	w.run(time.Second)
	if !rec.Recording() || w.covering("sb-1") != "" {
		t.Errorf("after failback rec-1 records: %v, sb-1 covers %q", rec.Recording(), w.covering("sb-1"))
	}
	w.wantStatus("rec-1", recNormalProtected)
	w.wantStatus("sb-1", sbReady)
	w.wantEpochsIssued("rec-1")
}

// The stand-down order is owed like a release: when the first one is lost,
// the abnormal server must still be told, or it records beside the standby
// for the whole takeover.
func TestLostStandDownIsRetried(t *testing.T) {
	w := settled(t, failover.Config{}, []nvrha.Facts{standbyFacts("sb-1", 16)}, []nvrha.Facts{recordingFacts("rec-1", 16)})
	rec := w.servers["rec-1"]
	w.hookOnly("rec-1", func(context.Context, transport.Call) error {
		w.tr.ClearHook("rec-1")
		return transport.ErrUnreachable
	}, transport.MethodStandDown)
	rec.SetHealthy(false)
	w.waitFor(5*time.Second, "sb-1 covers rec-1", func() bool { return w.covering("sb-1") == "rec-1" })
	w.run(10 * time.Second)
	if rec.Recording() {
		t.Errorf("rec-1, abnormal and reachable, still records beside sb-1 10 s after its first stand-down was lost")
	}
}

// --- Stood down, then left uncovered ---------------------------------------------------

// A recording server that answers but is abnormal is told to stand down when
// a standby takes its cameras. If that takeover ends while the server is
// still down and no standby takes over again, the server must be told to
// resume once it is healthy: nobody else records its cameras.
func TestStoodDownServerRecordsAgainWhenUncovered(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(w *world)
	}{
		{"standby died", func(w *world) { w.servers["sb-1"].Crash() }},
		{"standby disabled", func(w *world) {
			if _, err := w.m.SetServerEnabled("sb-1", false); err != nil {
				w.t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := settled(t, failover.Config{}, []nvrha.Facts{standbyFacts("sb-1", 16)}, []nvrha.Facts{recordingFacts("rec-1", 16)})
			rec := w.servers["rec-1"]
			rec.SetHealthy(false)
			w.waitFor(5*time.Second, "sb-1 covers rec-1", func() bool { return w.covering("sb-1") == "rec-1" })
			w.run(time.Second)
			if rec.Recording() {
				t.Fatal("rec-1 was not told to stand down")
			}
			tc.end(w)
			w.run(5 * time.Second)
			w.wantStatus("rec-1", recAbnormalUnprotected)
			rec.SetHealthy(true)
			w.waitFor(5*time.Second, "rec-1 up", func() bool { return w.member("rec-1").Health == nvrha.HealthUp })
			w.run(3 * time.Second)
			if !rec.Recording() || len(w.coverers("rec-1")) != 0 {
				t.Errorf("rec-1 is healthy and uncovered, and records: %v (coverers %v); its cameras go unrecorded:\n%s",
					rec.Recording(), w.coverers("rec-1"), eventLines(w.events))
			}
			w.wantStatus("rec-1", recNormalUnprotected)
			w.wantEpochsIssued("rec-1")
		})
	}
}
