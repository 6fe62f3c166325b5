package simulator

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nvrha/nvrha/status"
)

// TestScenarios runs every shipped scenario: it parses, runs with every
// invariant and no tolerated issue, and meets its expect lines. A few
// outcomes are asserted here as well, from the report.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("scenarios/*.nvrsim")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 6 {
		t.Fatalf("only %d scenarios shipped", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".nvrsim"), func(t *testing.T) {
			sc, err := ParseScenarioFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(sc.Expects) == 0 {
				t.Fatal("a shipped scenario states what it expects")
			}
			cfg := Config{ScenarioPath: f}
			cfg.ApplyScenario(sc)
			if cfg.Duration > time.Hour {
				// A campaign's world (noisy-lan: a day of 64 servers) runs
				// for a slice here; nvrbench runs it whole.
				cfg.Duration = 10 * time.Minute
			}
			r := mustRun(t, cfg)
			for _, e := range r.Expectations {
				if !e.OK {
					t.Errorf("line %d: %s: %s", e.Line, e.Text, e.Detail)
				}
			}
			if len(r.KnownIssues) > 0 {
				t.Errorf("known issues: %+v", r.KnownIssues)
			}
			if !strings.Contains(r.Replay, "-scenario "+f) {
				t.Errorf("replay %q does not name the file", r.Replay)
			}
			checkOutcome(t, filepath.Base(f), r)
		})
	}
}

// checkOutcome asserts what some scenarios are about, on the report itself.
func checkOutcome(t *testing.T, name string, r *Report) {
	t.Helper()
	statuses := func(id string) []string {
		for _, s := range r.Servers {
			if string(s.ID) == id {
				var out []string
				for _, sp := range s.Statuses {
					out = append(out, sp.Label)
				}
				return out
			}
		}
		return nil
	}
	switch name {
	case "standby-without-license.nvrsim":
		if !slices.Contains(statuses("rec-1"), status.RecordingAbnormalUnprotected.Label()) {
			t.Errorf("rec-1 never showed %q: %v", status.RecordingAbnormalUnprotected.Label(), statuses("rec-1"))
		}
		for _, tk := range r.TakeoverSpans {
			if tk.Recording == "rec-1" {
				t.Errorf("rec-1 was taken over: %+v", tk)
			}
		}
		if len(r.Refused) != 1 || r.Refused[0].Server != "sb-2" || !strings.Contains(r.Refused[0].Reasons[0], "insufficient-license-channels") {
			t.Errorf("refused: %+v", r.Refused)
		}
	case "standby-no-recording-space.nvrsim":
		if !slices.Contains(statuses("sb-1"), status.StandbyWarning.Label()) {
			t.Errorf("sb-1 never showed Warning: %v", statuses("sb-1"))
		}
	case "pauses-and-partitions.nvrsim":
		if r.FalseTakeovers == 0 {
			t.Error("a long pause and a partition gave no false takeover")
		}
		if r.Availability != 1 {
			t.Errorf("availability %v: nobody stopped recording, no footage may be lost", r.Availability)
		}
	case "simultaneous-failures.nvrsim":
		if r.TakeoversConfirmed < 4 {
			t.Errorf("%d takeovers: three at once, then the fourth", r.TakeoversConfirmed)
		}
	}
}
