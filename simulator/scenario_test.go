package simulator

import (
	"errors"
	"path/filepath"
	"reflect"
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
			sc.Apply(&cfg)
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

func TestParseScenarioErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"groups 1\nrecording 2\nbogus line", "scenario:3: unknown line"},
		{"at 10x crash rec-1", "scenario:1: bad duration"},
		{"groups 1\nrecording 1\n\n# comment\nat 1s crash rec-9", "scenario:5: unknown server \"rec-9\""},
		{"at 1s pause rec-1", "scenario:1: want: pause"},
		{"at 1s explode rec-1", "scenario:1: unknown action"},
		{"recording 1\nat 1s partition rec-1 sideways", "scenario:2: direction"},
		{"expect frobnicate", "scenario:1: unknown expectation"},
		{"expect recovery teleport", "scenario:1: unknown recovery path"},
		{"on shutdown crash rec-1", "scenario:1: want: on"},
		{"groups 1\nstandby 1 cameras 3", "scenario:2: a standby has no cameras"},
		{"recording 1\nat 1s expect status rec-1 Normal", "scenario:2: want a quoted label"},
		{"recording 1\nat 1s protection g3 off", "scenario:2: unknown group g3"},
		{`at 1s expect status rec-1 "unterminated`, "scenario:1: unterminated quote"},
	} {
		_, err := ParseScenario(strings.NewReader(tc.text))
		var se *ScenarioError
		if !errors.As(err, &se) || !errors.Is(err, ErrScenario) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.text, err, tc.want)
		}
	}
}

// TestScenarioRoundTrip renders every shipped scenario and parses it back.
func TestScenarioRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("scenarios/*.nvrsim")
	files2, _ := filepath.Glob("testdata/known/*.nvrsim")
	files3, _ := filepath.Glob("testdata/regress/*.nvrsim")
	for _, f := range append(append(files, files2...), files3...) {
		a, err := ParseScenarioFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ParseScenario(strings.NewReader(a.String()))
		if err != nil {
			t.Fatalf("%s: rendered scenario does not parse: %v\n%s", f, err, a.String())
		}
		a.header, b.header = nil, nil
		for i := range a.Steps {
			a.Steps[i].Action.Line, b.Steps[i].Action.Line = 0, 0
		}
		for i := range a.Triggers {
			a.Triggers[i].Line, b.Triggers[i].Line = 0, 0
			a.Triggers[i].Action.Line, b.Triggers[i].Action.Line = 0, 0
		}
		for i := range a.Expects {
			a.Expects[i].Line, b.Expects[i].Line = 0, 0
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: round trip changed the scenario:\n%+v\n%+v", f, a, b)
		}
	}
}
