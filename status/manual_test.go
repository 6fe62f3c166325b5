package status_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/nvrha/nvrha/status"
)

// The expected strings below are copied by hand from the two "Failover
// Status" tables of the QVR Center manual, not from the package, so that a
// change of wording in the package fails here.

func TestRecordingManualTable(t *testing.T) {
	rows := []struct {
		label, description, code string
		want                     status.Recording
		facts                    status.RecordingFacts
	}{
		{
			label:       "Normal, protected",
			description: "This recording server is functional, and is able to be taken over by standby server.",
			code:        "normal-protected",
			want:        status.RecordingNormalProtected,
			facts:       status.RecordingFacts{Enabled: true, Functional: true, StandbyAvailable: true},
		},
		{
			label:       "Normal, unprotected",
			description: "This recording server is functional, but is unable to be taken over by standby server either because there are no available standby server or the standby server does not have enough licensed channel quota to fully take over this server.",
			code:        "normal-unprotected",
			want:        status.RecordingNormalUnprotected,
			facts:       status.RecordingFacts{Enabled: true, Functional: true},
		},
		{
			label:       "Abnormal, protected",
			description: "This recording server is not functioning properly, and is taken over by standby server now.",
			code:        "abnormal-protected",
			want:        status.RecordingAbnormalProtected,
			facts:       status.RecordingFacts{Enabled: true, TakenOver: true, StandbyAvailable: true},
		},
		{
			label:       "Abnormal, unprotected",
			description: "This recording server is not functioning properly, and is unable to be taken over by standby server either because there are no available standby server or the standby server does not have enough licensed channel quota to fully take over this server.",
			code:        "abnormal-unprotected",
			want:        status.RecordingAbnormalUnprotected,
			facts:       status.RecordingFacts{Enabled: true},
		},
		{
			label:       "Disabled",
			description: "This recording server is disabled in the Failover Group.",
			code:        "disabled",
			want:        status.RecordingDisabled,
			facts:       status.RecordingFacts{Functional: true, StandbyAvailable: true},
		},
	}
	var order []status.Recording
	for _, r := range rows {
		order = append(order, r.want)
		t.Run(r.label, func(t *testing.T) {
			if got := r.want.Label(); got != r.label {
				t.Errorf("Label() = %q, want %q", got, r.label)
			}
			if got := r.want.String(); got != r.label {
				t.Errorf("String() = %q, want %q", got, r.label)
			}
			if got := r.want.Description(); got != r.description {
				t.Errorf("Description() = %q, want %q", got, r.description)
			}
			if got := r.want.Code(); got != r.code {
				t.Errorf("Code() = %q, want %q", got, r.code)
			}
			if !r.want.Valid() {
				t.Errorf("Valid() = false")
			}
			if got := status.OfRecording(r.facts); got != r.want {
				t.Errorf("OfRecording(%+v) = %v, want %v", r.facts, got, r.want)
			}
		})
	}
	if got := status.RecordingStatuses(); !slices.Equal(got, order) {
		t.Errorf("RecordingStatuses() = %v, want the manual's table order %v", got, order)
	}
}

func TestStandbyManualTable(t *testing.T) {
	rows := []struct {
		label, description, code string
		want                     status.Standby
		facts                    status.StandbyFacts
	}{
		{
			label:       "Normal, protection ready",
			description: "This standby server is functional, and is ready to take over recording server.",
			code:        "normal-protection-ready",
			want:        status.StandbyNormalProtectionReady,
			facts:       status.StandbyFacts{Enabled: true, Functional: true, HasRecordingSpace: true},
		},
		{
			label:       "Normal, protecting",
			description: "This standby server is functional, and is currently taking over a recording server.",
			code:        "normal-protecting",
			want:        status.StandbyNormalProtecting,
			facts:       status.StandbyFacts{Enabled: true, Functional: true, TakingOver: true},
		},
		{
			label:       "Warning",
			description: "This standby server is functional, but is unable to take over recording server because it does not have a recording space.",
			code:        "warning",
			want:        status.StandbyWarning,
			facts:       status.StandbyFacts{Enabled: true, Functional: true},
		},
		{
			label:       "Abnormal",
			description: "This standby server is not functioning properly, and is unable to take over recording server.",
			code:        "abnormal",
			want:        status.StandbyAbnormal,
			facts:       status.StandbyFacts{Enabled: true, HasRecordingSpace: true},
		},
		{
			label:       "Abnormal, protection failed",
			description: "This standby server is not functioning properly, and has failed to take over a recording server.",
			code:        "abnormal-protection-failed",
			want:        status.StandbyAbnormalProtectionFailed,
			facts:       status.StandbyFacts{Enabled: true, HasRecordingSpace: true, TakeoverFailed: true},
		},
		{
			label:       "Disabled",
			description: "This standby server is disabled in the Failover Group.",
			code:        "disabled",
			want:        status.StandbyDisabled,
			facts:       status.StandbyFacts{Functional: true, HasRecordingSpace: true},
		},
	}
	var order []status.Standby
	for _, r := range rows {
		order = append(order, r.want)
		t.Run(r.label, func(t *testing.T) {
			if got := r.want.Label(); got != r.label {
				t.Errorf("Label() = %q, want %q", got, r.label)
			}
			if got := r.want.String(); got != r.label {
				t.Errorf("String() = %q, want %q", got, r.label)
			}
			if got := r.want.Description(); got != r.description {
				t.Errorf("Description() = %q, want %q", got, r.description)
			}
			if got := r.want.Code(); got != r.code {
				t.Errorf("Code() = %q, want %q", got, r.code)
			}
			if !r.want.Valid() {
				t.Errorf("Valid() = false")
			}
			if got := status.OfStandby(r.facts); got != r.want {
				t.Errorf("OfStandby(%+v) = %v, want %v", r.facts, got, r.want)
			}
		})
	}
	if got := status.StandbyStatuses(); !slices.Equal(got, order) {
		t.Errorf("StandbyStatuses() = %v, want the manual's table order %v", got, order)
	}
}

// The recording server that recovered before failback completed still has its
// cameras on the standby: protected, but not back to normal.
func TestRecordingFunctionalAwaitingFailback(t *testing.T) {
	f := status.RecordingFacts{Enabled: true, Functional: true, TakenOver: true, StandbyAvailable: true}
	if got := status.OfRecording(f); got != status.RecordingAbnormalProtected {
		t.Errorf("OfRecording(%+v) = %v, want %v", f, got, status.RecordingAbnormalProtected)
	}
}

// A failed server is unprotected until a standby actually records its cameras,
// even when one is available.
func TestRecordingFailedBeforeTakeover(t *testing.T) {
	f := status.RecordingFacts{Enabled: true, StandbyAvailable: true}
	if got := status.OfRecording(f); got != status.RecordingAbnormalUnprotected {
		t.Errorf("OfRecording(%+v) = %v, want %v", f, got, status.RecordingAbnormalUnprotected)
	}
}

// A standby that records taken-over cameras has used up its space; that is
// protecting, not a warning.
func TestStandbyProtectingWithoutSpace(t *testing.T) {
	f := status.StandbyFacts{Enabled: true, Functional: true, TakingOver: true}
	if got := status.OfStandby(f); got != status.StandbyNormalProtecting {
		t.Errorf("OfStandby(%+v) = %v, want %v", f, got, status.StandbyNormalProtecting)
	}
}

func TestStatusesNewSlice(t *testing.T) {
	r := status.RecordingStatuses()
	r[0] = 0
	if status.RecordingStatuses()[0] != status.RecordingNormalProtected {
		t.Error("RecordingStatuses shares its slice between calls")
	}
	s := status.StandbyStatuses()
	s[0] = 0
	if status.StandbyStatuses()[0] != status.StandbyNormalProtectionReady {
		t.Error("StandbyStatuses shares its slice between calls")
	}
}

// enum is what both status types offer for display.
type enum interface {
	fmt.Stringer
	Valid() bool
	Label() string
	Description() string
	Code() string
}

func TestInvalidValues(t *testing.T) {
	for _, tc := range []struct {
		v    enum
		want string
	}{
		{status.Recording(0), "Recording(0)"},
		{status.Recording(6), "Recording(6)"},
		{status.Recording(255), "Recording(255)"},
		{status.Standby(0), "Standby(0)"},
		{status.Standby(7), "Standby(7)"},
		{status.Standby(255), "Standby(255)"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if tc.v.Valid() {
				t.Error("Valid() = true")
			}
			if got := tc.v.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
			if got := fmt.Sprint(tc.v); got != tc.want {
				t.Errorf("fmt.Sprint = %q, want %q", got, tc.want)
			}
			if l, d, c := tc.v.Label(), tc.v.Description(), tc.v.Code(); l != "" || d != "" || c != "" {
				t.Errorf("Label, Description, Code = %q, %q, %q; want all empty", l, d, c)
			}
		})
	}
}
