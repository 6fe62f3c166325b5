package status_test

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/nvrha/nvrha/status"
)

// The predicates below restate each row of the manual's tables on its own,
// without the order of rules that OfRecording and OfStandby use, so that a
// wrong order, a missing rule or two rows claiming the same facts all show up
// as zero or several rows matching.

type recordingRow struct {
	want  status.Recording
	holds func(f status.RecordingFacts) bool
}

var recordingRowPredicates = []recordingRow{
	{status.RecordingNormalProtected, func(f status.RecordingFacts) bool {
		// Functional and able to be taken over by a standby.
		return f.Enabled && f.Functional && !f.TakenOver && f.StandbyAvailable
	}},
	{status.RecordingNormalUnprotected, func(f status.RecordingFacts) bool {
		// Functional, but no standby is available or none has the quota.
		return f.Enabled && f.Functional && !f.TakenOver && !f.StandbyAvailable
	}},
	{status.RecordingAbnormalProtected, func(f status.RecordingFacts) bool {
		// Taken over by a standby now; a recovered server waiting for
		// failback still has its cameras on the standby.
		return f.Enabled && f.TakenOver
	}},
	{status.RecordingAbnormalUnprotected, func(f status.RecordingFacts) bool {
		// Not functioning properly and not taken over.
		return f.Enabled && !f.Functional && !f.TakenOver
	}},
	{status.RecordingDisabled, func(f status.RecordingFacts) bool {
		return !f.Enabled
	}},
}

type standbyRow struct {
	want  status.Standby
	holds func(f status.StandbyFacts) bool
}

var standbyRowPredicates = []standbyRow{
	{status.StandbyNormalProtectionReady, func(f status.StandbyFacts) bool {
		// Functional and ready to take over: idle, with a recording space.
		return f.Enabled && !f.TakeoverFailed && f.Functional && !f.TakingOver && f.HasRecordingSpace
	}},
	{status.StandbyNormalProtecting, func(f status.StandbyFacts) bool {
		// Functional and currently taking over a recording server.
		return f.Enabled && !f.TakeoverFailed && f.Functional && f.TakingOver
	}},
	{status.StandbyWarning, func(f status.StandbyFacts) bool {
		// Functional and idle, but without a recording space.
		return f.Enabled && !f.TakeoverFailed && f.Functional && !f.TakingOver && !f.HasRecordingSpace
	}},
	{status.StandbyAbnormal, func(f status.StandbyFacts) bool {
		// Not functioning properly, with no failed takeover to report.
		return f.Enabled && !f.TakeoverFailed && !f.Functional
	}},
	{status.StandbyAbnormalProtectionFailed, func(f status.StandbyFacts) bool {
		// Has failed to take over a recording server.
		return f.Enabled && f.TakeoverFailed
	}},
	{status.StandbyDisabled, func(f status.StandbyFacts) bool {
		return !f.Enabled
	}},
}

// checkRecording reports an error unless exactly one row predicate holds for f
// and OfRecording agrees with it.
func checkRecording(t interface{ Fatalf(string, ...any) }, f status.RecordingFacts) status.Recording {
	var matched []status.Recording
	for _, r := range recordingRowPredicates {
		if r.holds(f) {
			matched = append(matched, r.want)
		}
	}
	if len(matched) != 1 {
		t.Fatalf("%+v matches %d seed rows %v, want exactly one", f, len(matched), matched)
	}
	if got := status.OfRecording(f); got != matched[0] {
		t.Fatalf("OfRecording(%+v) = %v, want %v", f, got, matched[0])
	}
	return matched[0]
}

func checkStandby(t interface{ Fatalf(string, ...any) }, f status.StandbyFacts) status.Standby {
	var matched []status.Standby
	for _, r := range standbyRowPredicates {
		if r.holds(f) {
			matched = append(matched, r.want)
		}
	}
	if len(matched) != 1 {
		t.Fatalf("%+v matches %d seed rows %v, want exactly one", f, len(matched), matched)
	}
	if got := status.OfStandby(f); got != matched[0] {
		t.Fatalf("OfStandby(%+v) = %v, want %v", f, got, matched[0])
	}
	return matched[0]
}

func TestOfRecordingExhaustive(t *testing.T) {
	seen := map[status.Recording]int{}
	for bits := range 1 << 4 {
		f := status.RecordingFacts{
			Enabled:          bits&1 != 0,
			Functional:       bits&2 != 0,
			TakenOver:        bits&4 != 0,
			StandbyAvailable: bits&8 != 0,
		}
		seen[checkRecording(t, f)]++
	}
	// Every row must be reachable, or a status is dead code the UI never shows.
	for _, s := range status.RecordingStatuses() {
		if seen[s] == 0 {
			t.Errorf("no combination of facts gives %v", s)
		}
	}
}

func TestOfStandbyExhaustive(t *testing.T) {
	seen := map[status.Standby]int{}
	for bits := range 1 << 5 {
		f := status.StandbyFacts{
			Enabled:           bits&1 != 0,
			Functional:        bits&2 != 0,
			TakingOver:        bits&4 != 0,
			HasRecordingSpace: bits&8 != 0,
			TakeoverFailed:    bits&16 != 0,
		}
		seen[checkStandby(t, f)]++
	}
	for _, s := range status.StandbyStatuses() {
		if seen[s] == 0 {
			t.Errorf("no combination of facts gives %v", s)
		}
	}
}

func TestOfRecordingMatchesSeedRows(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := status.RecordingFacts{
			Enabled:          rapid.Bool().Draw(t, "enabled"),
			Functional:       rapid.Bool().Draw(t, "functional"),
			TakenOver:        rapid.Bool().Draw(t, "takenOver"),
			StandbyAvailable: rapid.Bool().Draw(t, "standbyAvailable"),
		}
		if got := checkRecording(t, f); !got.Valid() {
			t.Fatalf("OfRecording(%+v) = %v, not a valid status", f, got)
		}
	})
}

func TestOfStandbyMatchesSeedRows(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := status.StandbyFacts{
			Enabled:           rapid.Bool().Draw(t, "enabled"),
			Functional:        rapid.Bool().Draw(t, "functional"),
			TakingOver:        rapid.Bool().Draw(t, "takingOver"),
			HasRecordingSpace: rapid.Bool().Draw(t, "hasRecordingSpace"),
			TakeoverFailed:    rapid.Bool().Draw(t, "takeoverFailed"),
		}
		if got := checkStandby(t, f); !got.Valid() {
			t.Fatalf("OfStandby(%+v) = %v, not a valid status", f, got)
		}
	})
}
