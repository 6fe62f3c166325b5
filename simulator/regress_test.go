package simulator

import (
	"bufio"
	"bytes"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/status"
)

// TestRegressions runs the scenarios of Machine defects that have been
// fixed (testdata/regress), strictly: every invariant holds, no known issue
// is tolerated, every expect line holds, and the fixed behaviour is
// asserted on the world at the end.
func TestRegressions(t *testing.T) {
	checks := map[string]func(t *testing.T, w *World, r *Report){
		// Once a false positive of invariant 5 (the checker's, not the
		// Machine's): the takeover of rec-1 by a standby that no longer
		// fits it is no protection, and the partition loses no footage.
		"license-shrunk-mid-takeover": func(t *testing.T, w *World, r *Report) {
			if !w.Server("rec-1").RecordsOwn() || !w.Server("rec-2").RecordsOwn() {
				t.Error("a recording server does not record its own cameras at the end")
			}
			if len(r.Incidents) != 1 {
				t.Errorf("%d incidents, want the one of the partition", len(r.Incidents))
			}
		},
		// Once restore-reuses-failback-epoch: each failback interrupted by
		// a center crash goes on after the restart and completes, and the
		// cameras are back on their servers.
		"restore-mid-failback": func(t *testing.T, w *World, r *Report) {
			if r.CenterRestarts != 3 || r.Recoveries[RecoveryCenterRestart] != 3 {
				t.Errorf("%d restarts, %d failbacks carried on after one; want 3 and 3", r.CenterRestarts, r.Recoveries[RecoveryCenterRestart])
			}
			for _, tk := range r.TakeoverSpans {
				if tk.Outcome != "failback" {
					t.Errorf("takeover of %s by %s ended %q, want failback", tk.Recording, tk.Standby, tk.Outcome)
				}
			}
			if len(r.TakeoverSpans) != 3 {
				t.Errorf("%d takeovers, want one per recording server: %+v", len(r.TakeoverSpans), r.TakeoverSpans)
			}
			for _, id := range []nvrha.ServerID{"rec-1", "rec-2", "rec-3"} {
				if !w.Server(id).RecordsOwn() {
					t.Errorf("%s does not record its cameras at the end", id)
				}
			}
			if c, _ := w.Server("sb-1").Covering(); c != "" {
				t.Errorf("sb-1 still covers %s", c)
			}
		},
		// Once stood-down-never-resumed: rec-1, stood down for a takeover
		// that ended while it was down, records again soon after it
		// recovers (at 40 s), and shows "Normal, protected" at the end.
		"stood-down-resumed": func(t *testing.T, w *World, r *Report) {
			rec := w.Server("rec-1")
			if !rec.RecordsOwn() || rec.t.StoodDown {
				t.Fatalf("rec-1 records its cameras: %v, stood down: %v", rec.RecordsOwn(), rec.t.StoodDown)
			}
			budget := w.Budgets().Detect + w.Budgets().Fence + w.cfg.Servers.StreamStart
			back := time.Duration(-1)
			for _, sp := range timeline(r, "rec-1").Footage {
				if sp.Label == "own" && sp.From >= 40*time.Second {
					back = sp.From
					break
				}
			}
			if back < 0 || back-40*time.Second > budget {
				t.Errorf("rec-1 recovered at 40s and records again from %s; the budget is %s", fmtDur(back), fmtDur(budget))
			}
			if got := w.statusOf("rec-1"); got != status.RecordingNormalProtected.Label() {
				t.Errorf("rec-1 shows %q at the end", got)
			}
		},
		// Once aborted-failback-keeps-epoch: the takeover goes on after the
		// aborted failback (invariant 3 checks every later order's epoch),
		// and once rec-1 is back for good its failback completes.
		"aborted-failback-new-epoch": failedBack("rec-1", "sb-1"),
		// Once resume-retry-empty: the resume is ordered again while the
		// stream starts, and the failback completes.
		"resume-retried": failedBack("rec-1", "sb-1"),
		// Once ledger-closes-given-up-standby-early: sb-1, given up while
		// its link lost every message, recorded rec-1's cameras until the
		// release reached it; its ledger interval of that takeover (epoch
		// 1) lasts at least as long.
		"given-up-standby-ledger": func(t *testing.T, w *World, r *Report) {
			stopped := time.Duration(-1)
			for _, sp := range timeline(r, "sb-1").Footage {
				if sp.Label == "covering rec-1" {
					stopped = sp.To
					break
				}
			}
			if stopped < 0 {
				t.Fatal("sb-1 never recorded rec-1's cameras")
			}
			cam := w.Server("rec-1").Facts().Cameras[0]
			found := false
			for _, iv := range w.Machine().Ledger(cam) {
				if iv.Server == "sb-1" && iv.Epoch == 1 {
					found = true
					if !iv.Open() && iv.To.Before(w.abs(stopped)) {
						t.Errorf("the ledger ends sb-1's footage of %s at %s; sb-1 recorded it until %s",
							cam, fmtDur(iv.To.Sub(Start)), fmtDur(stopped))
					}
				}
			}
			if !found {
				t.Errorf("the ledger of %s has no interval of sb-1 under epoch 1: %+v", cam, w.Machine().Ledger(cam))
			}
		},
		// Once takeover-reordered-forever: sb-1, whose probes deny every
		// takeover it acknowledges, gets at most TakeoverAttempts orders,
		// backed off, and sb-2 records rec-1's cameras soon after.
		"denied-takeover-given-up": func(t *testing.T, w *World, r *Report) {
			orders := ordersSent(w, "takeover", "sb-1", 0, 100*time.Second)
			if n := len(orders); n < 2 || n > failover.DefaultTakeoverAttempts {
				t.Errorf("sb-1 got %d takeover orders for rec-1's outage, want 2 to %d", n, failover.DefaultTakeoverAttempts)
			}
			if n := len(orders); n > 1 && orders[n-1].at-orders[0].at < time.Second {
				t.Errorf("sb-1's %d orders came within %s: not backed off", n, fmtDur(orders[n-1].at-orders[0].at))
			}
			from := time.Duration(-1)
			for _, sp := range timeline(r, "sb-2").Footage {
				if sp.Label == "covering rec-1" {
					from = sp.From
					break
				}
			}
			if budget := w.Budgets().Detect + 4*time.Second; from < 0 || from-20*time.Second > budget {
				t.Errorf("rec-1 crashed at 20s and sb-2 records its cameras from %s; the budget is %s", fmtDur(from), fmtDur(budget))
			}
		},
		// Once stray-cover-never-released: sb-1 is told again to release
		// rec-1's cameras while it claims them, at most every RetryMax
		// once backed off and under the failback's epoch, and lets go at
		// the first release after its agent is sound again (135 s).
		"stray-cover-released": func(t *testing.T, w *World, r *Report) {
			toldAgainUntilMended(t, w, r, "sb-1", "rec-1", 75*time.Second, 135*time.Second, 10)
		},
		// Once a standby in no group recorded on unnoticed: sb-2, whose
		// group was deleted at 55 s and whose agent acknowledges every
		// release without carrying it out until 1m45s, is told again,
		// under one epoch and backed off, lets go soon after it is
		// mended, and is told nothing more.
		"orphan-release-verified": func(t *testing.T, w *World, r *Report) {
			toldAgainUntilMended(t, w, r, "sb-2", "rec-3", 55*time.Second, 105*time.Second, 5)
			if n := len(ordersSent(w, "release", "sb-2", 115*time.Second, 3*time.Minute)); n != 0 {
				t.Errorf("sb-2 got %d releases after it let go", n)
			}
		},
		// Once stale-retry-unbounded: sb-1 gets at most TakeoverAttempts
		// takeover orders while it claims newer epochs, and the release
		// owed to it, refused the same way, at most one every RetryMax
		// once backed off.
		"stand-down-refused-backed-off": func(t *testing.T, w *World, r *Report) {
			refused := ordersSent(w, "stand-down", "rec-1", 20*time.Second, 40*time.Second)
			if max := int(20*time.Second/failover.DefaultRetryMax) + 8; len(refused) < 2 || len(refused) > max {
				t.Errorf("rec-1 got %d stand-downs while it refused them, want 2 to %d", len(refused), max)
			}
			if n := len(ordersSent(w, "stand-down", "rec-1", 40*time.Second, 45*time.Second)); n == 0 {
				t.Error("rec-1, mended, got no stand-down within 5 s")
			}
		},
		"stale-retries-bounded": func(t *testing.T, w *World, r *Report) {
			if n := len(ordersSent(w, "takeover", "sb-1", 0, 70*time.Second)); n > failover.DefaultTakeoverAttempts {
				t.Errorf("sb-1 got %d takeover orders while it claimed newer epochs, at most %d", n, failover.DefaultTakeoverAttempts)
			}
			releases := ordersSent(w, "release", "sb-1", 0, 70*time.Second)
			if max := int(50*time.Second/failover.DefaultRetryMax) + 8; len(releases) < 10 || len(releases) > max {
				t.Errorf("sb-1 got %d releases while it claimed newer epochs, want 10 to %d", len(releases), max)
			}
			for i := 1; i < len(releases); i++ {
				if releases[i].epoch <= releases[i-1].epoch {
					t.Fatalf("release under epoch %d after one under %d: not above the epoch sb-1 claimed", releases[i].epoch, releases[i-1].epoch)
				}
			}
		},
		// Once the release of a silent standby reached it at once: sb-1,
		// given up while its answers were lost, records rec-1's cameras
		// without a break from its first takeover to the failback, and
		// gets no release before it.
		"silent-standby-kept": func(t *testing.T, w *World, r *Report) {
			var spans []Span
			for _, sp := range timeline(r, "sb-1").Footage {
				if sp.Label == "covering rec-1" {
					spans = append(spans, sp)
				}
			}
			if len(spans) != 1 || spans[0].From > 13*time.Second || spans[0].To < 60*time.Second {
				t.Errorf("sb-1 recorded rec-1's cameras %+v, want once from the takeover (12s) to the failback (60s)", spans)
			}
			if n := len(ordersSent(w, "release", "sb-1", 0, 59*time.Second)); n != 0 {
				t.Errorf("sb-1 got %d releases before the failback", n)
			}
		},
	}
	files, err := filepath.Glob("testdata/regress/*.nvrsim")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(checks) {
		t.Errorf("%d regression scenarios, %d checks", len(files), len(checks))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".nvrsim")
		t.Run(name, func(t *testing.T) {
			check := checks[name]
			if check == nil {
				t.Fatalf("%s has no check", f)
			}
			sc, err := ParseScenarioFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cfg := Config{ScenarioPath: f, Trace: new(bytes.Buffer)}
			cfg.ApplyScenario(sc)
			w, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := w.Run()
			if r.Violation != nil {
				t.Fatal(r.Violation)
			}
			for _, e := range r.Expectations {
				if !e.OK {
					t.Errorf("line %d: %s: %s", e.Line, e.Text, e.Detail)
				}
			}
			if len(r.KnownIssues) > 0 {
				t.Errorf("known issues: %+v", r.KnownIssues)
			}
			check(t, w, r)
		})
	}
}

// toldAgainUntilMended checks a standby whose agent acknowledged releases
// of rec's cameras without carrying them out from from until it was
// mended: it was told again at least least times, at most once every
// RetryMax once backed off, always under one epoch (the same order
// again), and it stopped recording rec's cameras within RetryMax and a
// second of being mended.
func toldAgainUntilMended(t *testing.T, w *World, r *Report, sb, rec nvrha.ServerID, from, mended time.Duration, least int) {
	t.Helper()
	releases := ordersSent(w, "release", sb, from, mended)
	if most := int((mended-from)/failover.DefaultRetryMax) + 8; len(releases) < least || len(releases) > most {
		t.Errorf("%s got %d releases while it claimed %s's cameras, want %d to %d", sb, len(releases), rec, least, most)
	}
	for _, o := range releases {
		if o.epoch != releases[0].epoch {
			t.Errorf("releases to %s under epochs %d and %d: each one the same order again", sb, releases[0].epoch, o.epoch)
			break
		}
	}
	stopped := time.Duration(-1)
	for _, sp := range timeline(r, string(sb)).Footage {
		if sp.Label == "covering "+string(rec) {
			stopped = sp.To
		}
	}
	if limit := mended + failover.DefaultRetryMax + time.Second; stopped < 0 || stopped > limit {
		t.Errorf("%s recorded %s's cameras until %s, after it was mended at %s (limit %s)", sb, rec, fmtDur(stopped), fmtDur(mended), fmtDur(limit))
	}
}

func timeline(r *Report, id string) ServerTimeline {
	for _, s := range r.Servers {
		if string(s.ID) == id {
			return s
		}
	}
	return ServerTimeline{}
}

// failedBack checks that rec's cameras came back: it records them at the
// end, sb covers nothing, and its last takeover ended in a failback.
func failedBack(rec, sb nvrha.ServerID) func(t *testing.T, w *World, r *Report) {
	return func(t *testing.T, w *World, r *Report) {
		if !w.Server(rec).RecordsOwn() {
			t.Errorf("%s does not record its cameras at the end", rec)
		}
		if c, _ := w.Server(sb).Covering(); c != "" {
			t.Errorf("%s still covers %s", sb, c)
		}
		last := ""
		for _, tk := range r.TakeoverSpans {
			if tk.Recording == rec {
				last = tk.Outcome
			}
		}
		if last != "failback" {
			t.Errorf("%s's last takeover ended %q, want failback: %+v", rec, last, r.TakeoverSpans)
		}
	}
}

// sentOrder is one order the trace shows leaving the center.
type sentOrder struct {
	at    time.Duration
	epoch nvrha.Epoch
}

// ordersSent returns the orders of kind (as the trace names it) sent to
// server from from to to, whether delivered or lost on the way, from the
// run's trace.
func ordersSent(w *World, kind string, server nvrha.ServerID, from, to time.Duration) []sentOrder {
	var out []sentOrder
	sc := bufio.NewScanner(bytes.NewReader(w.cfg.Trace.(*bytes.Buffer).Bytes()))
	for sc.Scan() {
		// "12.345678901 exec #42 takeover sb-1 for rec-1 epoch 3", or
		// "drop <why> #42 ...".
		f := strings.Fields(sc.Text())
		i := 2
		if len(f) > 2 && f[1] == "drop" {
			i = 3
		}
		if len(f) < i+3 || f[1] != "exec" && f[1] != "drop" || !strings.HasPrefix(f[i], "#") || f[i+1] != kind || f[i+2] != string(server) {
			continue
		}
		secs, err := strconv.ParseFloat(f[0], 64)
		at := time.Duration(secs * float64(time.Second))
		if err != nil || at < from || at > to {
			continue
		}
		o := sentOrder{at: at}
		for j := i + 3; j+1 < len(f); j++ {
			if f[j] == "epoch" {
				e, _ := strconv.ParseUint(f[j+1], 10, 64)
				o.epoch = nvrha.Epoch(e)
			}
		}
		out = append(out, o)
	}
	return out
}
