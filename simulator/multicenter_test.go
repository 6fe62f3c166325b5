package simulator

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
	"github.com/nvrha/nvrha/transport"
)

// centersWorld is a small world of three centers (a lease of 5 s) running
// script: three recording servers and one standby, two minutes, its trace
// kept.
func centersWorld(t *testing.T, script string) (*World, *bytes.Buffer) {
	t.Helper()
	sc, err := ParseScenario(strings.NewReader("duration 2m\ngroups 1\nrecording 3 cameras 4\nstandby 1\ncenters 3\nfailback hold-down 10s\n" + script))
	if err != nil {
		t.Fatal(err)
	}
	var trace bytes.Buffer
	cfg := Config{Seed: 1, Trace: &trace}
	cfg.ApplyScenario(sc)
	return mustNew(t, cfg), &trace
}

// wantLeader runs w until at and checks who leads then.
func wantLeader(t *testing.T, w *World, at time.Duration, leader int, term uint64) {
	t.Helper()
	w.RunUntil(at)
	if l, tm := w.Leader(); l != leader || tm != term {
		t.Fatalf("at %v center %d leads with term %d, want %d with term %d", at, l, tm, leader, term)
	}
}

// finish runs w to its end and fails on a violation or an expectation
// that did not hold.
func finish(t *testing.T, w *World) *Report {
	t.Helper()
	r := w.Run()
	if !r.OK() {
		t.Fatalf("%v %+v", r.Violation, r.Expectations)
	}
	return r
}

// traceAt returns the time of the first trace line containing s, or -1.
func traceAt(trace *bytes.Buffer, s string) time.Duration {
	for _, line := range strings.Split(trace.String(), "\n") {
		if strings.Contains(line, s) {
			sec, _, _ := strings.Cut(line, " ")
			f, err := strconv.ParseFloat(sec, 64)
			if err != nil {
				return -1
			}
			return time.Duration(f * float64(time.Second))
		}
	}
	return -1
}

// TestLeaderCrashFailsOver: the leader dies; its lease expires a lease
// after its last renewal, the follower that campaigned first is elected
// with the next term and protection resumes within lease + 1 s.
func TestLeaderCrashFailsOver(t *testing.T) {
	w, _ := centersWorld(t, "at 30500ms center-crash for 1m\n")
	wantLeader(t, w, 30*time.Second, 1, 1)
	wantLeader(t, w, 31*time.Second, 0, 0)
	wantLeader(t, w, 35*time.Second-time.Millisecond, 0, 0) // renewed at 30 s: the lease holds until 35 s
	wantLeader(t, w, 35*time.Second, 2, 2)
	r := finish(t, w)
	c := r.Centers
	if c == nil || c.Elections != 2 || c.LeaderCrashes != 1 || c.Resume.N != 1 {
		t.Fatalf("centers %+v", c)
	}
	if c.Resume.Max > DefaultLease+time.Second || c.Resume.Max < DefaultLease-time.Second {
		t.Errorf("protection resumed %v after the crash, want within %v (and not before the lease expired)", c.Resume.Max, DefaultLease+time.Second)
	}
	if r.CenterRestarts != 1 {
		t.Errorf("%d center restarts, want the one new leader", r.CenterRestarts)
	}
}

// TestCutLeaderStopsBeforeItsLease: a leader cut from the store but not
// from the servers stops ordering a fifth of the lease before the store
// can let its lease expire; only then is another elected, and the cut one
// follows once it reaches the store again.
func TestCutLeaderStopsBeforeItsLease(t *testing.T) {
	w, trace := centersWorld(t, "at 30500ms cut-store leader for 20s\n")
	wantLeader(t, w, 34*time.Second-time.Millisecond, 1, 1)
	wantLeader(t, w, 34*time.Second, 0, 0)
	wantLeader(t, w, 35*time.Second-time.Millisecond, 0, 0)
	wantLeader(t, w, 35*time.Second, 2, 2)
	w.RunUntil(55 * time.Second)
	if _, ok := w.Warm(1); !ok {
		t.Error("c1 keeps no warm Machine once it reaches the store again")
	}
	r := finish(t, w)
	if c := r.Centers; c.StepDowns != 1 || c.Elections != 2 {
		t.Errorf("centers %+v", c)
	}
	stop, expire := traceAt(trace, "c1 stops leading (term 1): lease lost"), traceAt(trace, "lease of term 1 (c1) expires")
	if stop < 0 || expire-stop != DefaultLease/5 {
		t.Errorf("c1 stopped at %v, its lease expired at %v: want a fifth of the lease between", stop, expire)
	}
	if at := traceAt(trace, "action heal-store c1"); at != 50500*time.Millisecond {
		t.Errorf("the cut of the leader is healed at %v, want the center cut (c1) at 50.5s", at)
	}
}

// TestShortStoreOutageHoldsTheLeader: the store is down for less than
// the leader's margin: no election, but a takeover the Machine decides
// meanwhile waits for its State to be saved; once it is, the takeover
// goes on under the same term.
func TestShortStoreOutageHoldsTheLeader(t *testing.T) {
	w, trace := centersWorld(t, "at 30500ms store-down for 2500ms\nat 30600ms crash rec-1 for 1m\nexpect takeover rec-1 by sb-1\n")
	wantLeader(t, w, 33*time.Second, 1, 1)
	r := finish(t, w)
	if c := r.Centers; c.Elections != 1 || c.StepDowns != 0 {
		t.Errorf("centers %+v", c)
	}
	held, back := traceAt(trace, "the store refuses c1's State"), traceAt(trace, "the store takes c1's State")
	order := traceAt(trace, "takeover sb-1 for rec-1")
	if held < 0 || held > 33*time.Second || back != 33*time.Second || order < back {
		t.Errorf("held at %v, saved at %v, the takeover ordered at %v: want held during the outage, saved when it ends, ordered after", held, back, order)
	}
}

// TestLongStoreOutageFailsOver: the store is down for longer than the
// leader's term can last: it stops, no one is elected while the store is
// down, and when it is back the old lease runs its full length once more
// before the next center is elected.
func TestLongStoreOutageFailsOver(t *testing.T) {
	w, _ := centersWorld(t, "at 30500ms store-down for 10s\n")
	wantLeader(t, w, 34*time.Second, 0, 0)
	wantLeader(t, w, 45500*time.Millisecond-time.Millisecond, 0, 0)
	wantLeader(t, w, 45500*time.Millisecond+DefaultTickInterval, 2, 2)
	finish(t, w)
}

// TestFollowersKeepAWarmMachine: every follower restores a Machine from
// the State the leader saved; the leader keeps none of its own.
func TestFollowersKeepAWarmMachine(t *testing.T) {
	w, _ := centersWorld(t, "")
	w.RunUntil(5 * time.Second)
	lead := w.Machine().Snapshot()
	members := func(s failover.Snapshot) []string {
		var out []string
		for _, g := range s.Groups {
			for _, m := range g.Members {
				out = append(out, string(m.ID)+"/"+m.Role.String())
			}
		}
		return out
	}
	for n := 2; n <= 3; n++ {
		warm, ok := w.Warm(n)
		if !ok || !slices.Equal(members(warm), members(lead)) {
			t.Errorf("c%d's warm Machine shows %v (ok %v), the leader %v", n, members(warm), ok, members(lead))
		}
	}
	if _, ok := w.Warm(1); ok {
		t.Error("the leader shows a warm Machine of a follower")
	}
}

// TestLeaderStopsOnAStaleTerm: an agent that has obeyed a newer term than
// the leader's refuses its order, and the leader stops and resigns, as a
// failover.Controller does; the centers are elected in turn until a term
// the agent accepts, and the takeover goes through.
func TestLeaderStopsOnAStaleTerm(t *testing.T) {
	w, _ := centersWorld(t, "at 20s crash rec-1 for 1m\nexpect takeover rec-1 by sb-1\n")
	if err := w.Server("sb-1").fence.AdmitTerm(4); err != nil {
		t.Fatal(err)
	}
	r := finish(t, w)
	c := r.Centers
	if c.StepDowns != 3 || c.Elections != 4 || c.StaleTermRefused != 3 {
		t.Errorf("centers %+v: want terms 1 to 3 refused and deposed, term 4 obeyed", c)
	}
	if _, term := w.Leader(); term != 4 {
		t.Errorf("term %d leads at the end, want 4", term)
	}
}

// TestServerRefusesOlderTerms: a simulated agent keeps the newest term it
// accepted and refuses an order of an older one, term 0 included, changing
// nothing, as transport/agenttest's server does.
func TestServerRefusesOlderTerms(t *testing.T) {
	w, _ := centersWorld(t, "")
	s := w.Server("sb-1")
	cams := w.Server("rec-1").Facts().Cameras
	ctx := context.Background()
	if err := s.Takeover(ctx, transport.TakeoverOrder{Recording: "rec-1", Epoch: 5, Cameras: cams, Term: 2}); err != nil {
		t.Fatal(err)
	}
	for _, term := range []uint64{1, 0} {
		err := s.Release(ctx, transport.ReleaseOrder{Recording: "rec-1", Epoch: 6, Term: term})
		var st *transport.StaleTermError
		if !errors.As(err, &st) || st.Newest != 2 {
			t.Errorf("a release of term %d: %v, want a stale term refusal naming term 2", term, err)
		}
	}
	if rec, e := s.Covering(); rec != "rec-1" || e != 5 || s.Newest("rec-1") != 5 || s.Term() != 2 {
		t.Errorf("after refusals sb-1 covers %s under %d, newest %d, term %d", rec, e, s.Newest("rec-1"), s.Term())
	}
}

// TestCenterActionsNeedTheirCenters: a scenario that names a center the
// world does not have, or faults the store of a single center, does not
// run.
func TestCenterActionsNeedTheirCenters(t *testing.T) {
	for _, tc := range []struct{ centers, script string }{
		{"1", "at 10s store-down for 5s\n"},
		{"1", "at 10s cut-store for 5s\n"},
		{"2", "at 10s center-crash c3\n"},
	} {
		sc, err := ParseScenario(strings.NewReader("groups 1\nrecording 1\nstandby 1\ncenters " + tc.centers + "\n" + tc.script))
		if err != nil {
			t.Fatal(err)
		}
		cfg := Config{}
		cfg.ApplyScenario(sc)
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) || !errors.Is(err, ErrScenario) {
			t.Errorf("%d centers, %q: %v", cfg.Centers, tc.script, err)
		}
	}
	if _, err := New(Config{Centers: history.MaxCenters + 1}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("%d centers: %v", history.MaxCenters+1, err)
	}
}

// TestCenterFaultsOnlyWithCenters: the nemesis draws the faults of
// several centers only in a world of two or more, and there all of them.
func TestCenterFaultsOnlyWithCenters(t *testing.T) {
	kinds := func(centers int) map[FaultKind]bool {
		w := mustNew(t, Config{Seed: 3, Duration: 6 * time.Hour, Centers: centers, Nemesis: NemesisConfig{Enabled: true, Rate: 3}})
		out := map[FaultKind]bool{}
		for _, p := range w.Plan() {
			out[p.Kind] = true
		}
		return out
	}
	one, three := kinds(1), kinds(3)
	for _, k := range []FaultKind{FaultLeaderCrash, FaultLeaderCutOff, FaultStoreUnavailable, FaultLeaderMidTakeover} {
		if one[k] {
			t.Errorf("a world of one center plans %s", k)
		}
		if !three[k] {
			t.Errorf("a world of three centers never plans %s in six hours", k)
		}
	}
}

// TestFrozenLeaderFenced: a leader that hangs right after it stamped a
// takeover's orders, past its lease: a follower is elected and orders the
// takeover again under its term; when the frozen one wakes, its stamped
// order reaches a standby that obeyed the new term, which refuses it.
func TestFrozenLeaderFenced(t *testing.T) {
	w, trace := centersWorld(t, "at 20s crash rec-1 for 1m\non takeover-start rec-1 center-freeze for 8s\nexpect takeover rec-1 by sb-1\n")
	r := finish(t, w)
	c := r.Centers
	if c.Elections != 2 || c.StepDowns != 1 || c.StaleTermRefused != 1 {
		t.Errorf("centers %+v: want c2 elected while c1 is frozen, and c1's stamped takeover refused", c)
	}
	woke, refused := traceAt(trace, "c1 wakes and sends the"), traceAt(trace, "takeover sb-1 for rec-1 epoch 1 term 1 -> transport: stale center term 1")
	if woke < 0 || refused < woke {
		t.Errorf("c1 woke at %v, its stamped takeover was refused at %v", woke, refused)
	}
}

// TestAdminWaitsForTheStore: an admin operation is taken only while the
// leader reaches the store, so that what it acknowledges is saved: one
// tried while the leader is cut from it is not applied, one after is.
func TestAdminWaitsForTheStore(t *testing.T) {
	w, _ := centersWorld(t, "at 30500ms cut-store for 2s\nat 31s disable rec-1\nat 40s disable rec-2\n")
	r := finish(t, w)
	var ops []string
	for _, a := range r.Admin {
		if a.At >= 30*time.Second {
			ops = append(ops, a.Op)
		}
	}
	if !slices.Equal(ops, []string{"disable rec-2"}) {
		t.Errorf("admin operations after 30s: %q, want only the one the leader could save", ops)
	}
}
