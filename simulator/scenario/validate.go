package scenario

import (
	"fmt"
	"strconv"

	"github.com/nvrha/nvrha/simulator/history"
)

// Validate checks that every server and group the scenario names exists in
// world w.
func (s *Scenario) Validate(w history.WorldSpec) error {
	ids := map[string]bool{}
	for _, sp := range w.Servers() {
		ids[string(sp.ID)] = true
	}
	for _, st := range s.Steps {
		if err := validateAction(st.Action, false, ids, w); err != nil {
			return err
		}
	}
	for _, tr := range s.Triggers {
		if tr.Recording != "" && !ids[tr.Recording] {
			return lineErr(tr.Line, "unknown server %q", tr.Recording)
		}
		if err := validateAction(tr.Action, true, ids, w); err != nil {
			return err
		}
	}
	for _, e := range s.Expects {
		switch e.Kind {
		case "takeover", "no-takeover", "refused", "status", "orphan":
			if !ids[e.Args[0]] {
				return lineErr(e.Line, "unknown server %q", e.Args[0])
			}
			if e.Kind == "takeover" && len(e.Args) == 3 && !ids[e.Args[2]] {
				return lineErr(e.Line, "unknown server %q", e.Args[2])
			}
		}
	}
	return nil
}

func lineErr(line int, format string, args ...any) error {
	return &Error{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// validateAction checks an action's targets (and the group of "add ... to
// g<n>") against the world; placeholders allows a trigger's "standby"
// and "recording".
func validateAction(a history.Action, placeholders bool, ids map[string]bool, w history.WorldSpec) error {
	for _, t := range a.Targets {
		switch {
		case history.IsCenterVerb(a.Verb):
			// Checked against the world's centers when it is built.
		case IsGroupRef(t) && history.IsGroupVerb(a.Verb):
			n, _ := strconv.Atoi(t[1:])
			if n > len(w.Groups) {
				return lineErr(a.Line, "unknown group %s (the world has %d)", t, len(w.Groups))
			}
		case placeholders && (t == "standby" || t == "recording"):
		case !ids[t]:
			return lineErr(a.Line, "unknown server %q", t)
		}
	}
	if a.Mode != "" && IsGroupRef(a.Mode) {
		if n, _ := strconv.Atoi(a.Mode[1:]); n > len(w.Groups) {
			return lineErr(a.Line, "unknown group %s", a.Mode)
		}
	}
	return nil
}
