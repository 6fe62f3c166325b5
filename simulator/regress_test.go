package simulator

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/status"
)

// TestRegressions runs the scenarios of Machine defects that have been
// fixed (testdata/regress), strictly: every invariant holds, no known issue
// is tolerated, every expect line holds, and the fixed behaviour is
// asserted on the world at the end.
func TestRegressions(t *testing.T) {
	checks := map[string]func(t *testing.T, w *World, r *Report){
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
			cfg := Config{ScenarioPath: f}
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
