package scenario

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseErrors(t *testing.T) {
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
		{"at 1s broken rec-1 evil", `scenario:1: unknown hostility "evil"`},
		{"at 1s broken rec-1", "scenario:1: want: broken <servers>"},
		{"at 1s broken rec-1 replay 2m", "scenario:1: want: broken <servers>"},
		{"centers 9", "scenario:1: bad number \"9\" (want 1..5)"},
		{"centers 2 lease", "scenario:1: want: centers <n> [lease <time>]"},
		{"centers 2 lease soon", `scenario:1: bad duration "soon"`},
		{"centers 2 term 4", "scenario:1: want: centers <n> [lease <time>]"},
		{"at 1s center-crash c9", `scenario:1: center-crash: "c9" is no center`},
		{"at 1s cut-store rec-1 for 3s", `scenario:1: cut-store: "rec-1" is no center`},
		{"at 1s store-down leader", "scenario:1: want: store-down [for <time>]"},
		{"at 1s store-up now", "scenario:1: want: store-up"},
	} {
		_, err := Parse(strings.NewReader(tc.text))
		var se *Error
		if !errors.As(err, &se) || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.text, err, tc.want)
		}
	}
}

// TestScenarioRoundTrip renders every shipped scenario and parses it back.
func TestRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("../scenarios/*.nvrsim")
	files2, _ := filepath.Glob("../testdata/known/*.nvrsim")
	files3, _ := filepath.Glob("../testdata/regress/*.nvrsim")
	for _, f := range append(append(files, files2...), files3...) {
		a, err := ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Parse(strings.NewReader(a.String()))
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

// TestCenterLines: the header's centers line and the center actions
// parse, and render back as written.
func TestCenterLines(t *testing.T) {
	text := "centers 3 lease 4s\nat 10s center-crash c2 for 1m0s\nat 20s cut-store for 30s\nat 30s cut-store leader\nat 40s heal-store c1\n" +
		"at 50s store-down for 5s\nat 60s center-crash\non takeover-start rec-1 center-crash for 20s\n"
	s, err := Parse(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if s.Centers != 3 || s.Lease != 4*time.Second {
		t.Errorf("centers %d lease %v", s.Centers, s.Lease)
	}
	var got []string
	for _, st := range s.Steps {
		got = append(got, st.Action.String())
	}
	want := []string{"center-crash c2 for 1m0s", "cut-store for 30s", "cut-store leader", "heal-store c1", "store-down for 5s", "center-crash"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("actions %q, want %q", got, want)
	}
	if r := s.String(); !strings.Contains(r, "centers 3 lease 4s\n") || !strings.Contains(r, "at 10s center-crash c2 for 1m0s\n") {
		t.Errorf("rendered:\n%s", r)
	}
}
