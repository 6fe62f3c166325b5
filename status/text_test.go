package status_test

import (
	"encoding"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/nvrha/nvrha/status"
)

// Both types must work wherever the standard library looks for text encoding:
// JSON, XML, flag.TextVar, map keys.
var (
	_ encoding.TextMarshaler   = status.Recording(0)
	_ encoding.TextUnmarshaler = (*status.Recording)(nil)
	_ encoding.TextMarshaler   = status.Standby(0)
	_ encoding.TextUnmarshaler = (*status.Standby)(nil)
)

var kebab = regexp.MustCompile(`^[a-z]+(-[a-z]+)*$`)

func TestRecordingTextRoundTrip(t *testing.T) {
	codes := map[string]bool{}
	labels := map[string]bool{}
	for _, s := range status.RecordingStatuses() {
		t.Run(s.Code(), func(t *testing.T) {
			b, err := s.MarshalText()
			if err != nil {
				t.Fatalf("MarshalText() error = %v", err)
			}
			if string(b) != s.Code() {
				t.Errorf("MarshalText() = %q, want the code %q", b, s.Code())
			}
			if !kebab.MatchString(string(b)) {
				t.Errorf("code %q is not kebab-case", b)
			}
			var got status.Recording
			if err := got.UnmarshalText(b); err != nil {
				t.Fatalf("UnmarshalText(%q) error = %v", b, err)
			}
			if got != s {
				t.Errorf("UnmarshalText(%q) = %v, want %v", b, got, s)
			}
		})
		if codes[s.Code()] || labels[s.Label()] {
			t.Errorf("%v: code %q or label %q not unique", s, s.Code(), s.Label())
		}
		codes[s.Code()], labels[s.Label()] = true, true
	}
}

func TestStandbyTextRoundTrip(t *testing.T) {
	codes := map[string]bool{}
	labels := map[string]bool{}
	for _, s := range status.StandbyStatuses() {
		t.Run(s.Code(), func(t *testing.T) {
			b, err := s.MarshalText()
			if err != nil {
				t.Fatalf("MarshalText() error = %v", err)
			}
			if string(b) != s.Code() {
				t.Errorf("MarshalText() = %q, want the code %q", b, s.Code())
			}
			if !kebab.MatchString(string(b)) {
				t.Errorf("code %q is not kebab-case", b)
			}
			var got status.Standby
			if err := got.UnmarshalText(b); err != nil {
				t.Fatalf("UnmarshalText(%q) error = %v", b, err)
			}
			if got != s {
				t.Errorf("UnmarshalText(%q) = %v, want %v", b, got, s)
			}
		})
		if codes[s.Code()] || labels[s.Label()] {
			t.Errorf("%v: code %q or label %q not unique", s, s.Code(), s.Label())
		}
		codes[s.Code()], labels[s.Label()] = true, true
	}
}

// unknownCodes are near misses of real codes: labels, other cases, padding,
// the other type's codes, empty and garbage.
var unknownCodes = []string{
	"", " ", "0", "1", "Recording(0)", "Standby(0)",
	"Normal, protected", "Disabled", "DISABLED", "Normal-Protected",
	" disabled", "disabled ", "disabled\n", "normal_protected", "normal protected",
	"normal-protected-", "warning\x00", "abnormal-", "\xff",
}

func TestRecordingUnmarshalUnknown(t *testing.T) {
	// The standby codes are near misses too: they must not decode as recording statuses.
	codes := slices.Concat(unknownCodes, []string{"normal-protection-ready", "normal-protecting", "warning", "abnormal", "abnormal-protection-failed"})
	for _, c := range codes {
		const before = status.RecordingNormalUnprotected
		s := before
		err := s.UnmarshalText([]byte(c))
		if !errors.Is(err, status.ErrUnknownStatus) {
			t.Errorf("UnmarshalText(%q) error = %v, want one wrapping ErrUnknownStatus", c, err)
		}
		var typed *status.UnknownStatusError
		if !errors.As(err, &typed) || typed.Type != "recording" || typed.Code != c {
			t.Errorf("UnmarshalText(%q) error = %#v, want *UnknownStatusError{Type: recording, Code: %q}", c, err, c)
		}
		if s != before {
			t.Errorf("UnmarshalText(%q) changed the receiver to %v", c, s)
		}
	}
}

func TestStandbyUnmarshalUnknown(t *testing.T) {
	codes := slices.Concat(unknownCodes, []string{"normal-protected", "normal-unprotected", "abnormal-protected", "abnormal-unprotected"})
	for _, c := range codes {
		const before = status.StandbyWarning
		s := before
		err := s.UnmarshalText([]byte(c))
		if !errors.Is(err, status.ErrUnknownStatus) {
			t.Errorf("UnmarshalText(%q) error = %v, want one wrapping ErrUnknownStatus", c, err)
		}
		var typed *status.UnknownStatusError
		if !errors.As(err, &typed) || typed.Type != "standby" || typed.Code != c {
			t.Errorf("UnmarshalText(%q) error = %#v, want *UnknownStatusError{Type: standby, Code: %q}", c, err, c)
		}
		if s != before {
			t.Errorf("UnmarshalText(%q) changed the receiver to %v", c, s)
		}
	}
}

func TestMarshalInvalid(t *testing.T) {
	for _, v := range []status.Recording{0, 6, 7, 255} {
		if b, err := v.MarshalText(); !errors.Is(err, status.ErrUnknownStatus) || b != nil {
			t.Errorf("%v.MarshalText() = %q, %v; want nil and an error wrapping ErrUnknownStatus", v, b, err)
		}
	}
	for _, v := range []status.Standby{0, 7, 8, 255} {
		if b, err := v.MarshalText(); !errors.Is(err, status.ErrUnknownStatus) || b != nil {
			t.Errorf("%v.MarshalText() = %q, %v; want nil and an error wrapping ErrUnknownStatus", v, b, err)
		}
	}
}

// Any text either decodes to a status that encodes back to the same text, or
// is refused without touching the receiver.
func TestUnmarshalArbitraryText(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var in string
		if rapid.Bool().Draw(t, "nearMiss") {
			in = rapid.StringMatching(`[a-z ,-]{0,30}`).Draw(t, "in")
		} else {
			in = rapid.String().Draw(t, "in")
		}
		r := status.RecordingDisabled
		if err := r.UnmarshalText([]byte(in)); err != nil {
			if !errors.Is(err, status.ErrUnknownStatus) || r != status.RecordingDisabled {
				t.Fatalf("UnmarshalText(%q) = %v, %v", in, r, err)
			}
		} else if b, _ := r.MarshalText(); string(b) != in {
			t.Fatalf("UnmarshalText(%q) = %v, which encodes as %q", in, r, b)
		}
		s := status.StandbyDisabled
		if err := s.UnmarshalText([]byte(in)); err != nil {
			if !errors.Is(err, status.ErrUnknownStatus) || s != status.StandbyDisabled {
				t.Fatalf("UnmarshalText(%q) = %v, %v", in, s, err)
			}
		} else if b, _ := s.MarshalText(); string(b) != in {
			t.Fatalf("UnmarshalText(%q) = %v, which encodes as %q", in, s, b)
		}
	})
}

type serverView struct {
	Recording status.Recording          `json:"recording"`
	Standby   status.Standby            `json:"standby"`
	History   []status.Recording        `json:"history"`
	ByServer  map[string]status.Standby `json:"by_server"`
	Counts    map[status.Recording]int  `json:"counts"`
	Pointer   *status.Standby           `json:"pointer"`
}

func TestJSONUsesCodes(t *testing.T) {
	ready := status.StandbyNormalProtectionReady
	in := serverView{
		Recording: status.RecordingAbnormalProtected,
		Standby:   status.StandbyAbnormalProtectionFailed,
		History:   []status.Recording{status.RecordingNormalProtected, status.RecordingDisabled},
		ByServer:  map[string]status.Standby{"s1": status.StandbyWarning},
		Counts:    map[status.Recording]int{status.RecordingNormalUnprotected: 2},
		Pointer:   &ready,
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"recording":"abnormal-protected","standby":"abnormal-protection-failed",` +
		`"history":["normal-protected","disabled"],"by_server":{"s1":"warning"},` +
		`"counts":{"normal-unprotected":2},"pointer":"normal-protection-ready"}`
	if string(b) != want {
		t.Errorf("json.Marshal() =\n%s\nwant\n%s", b, want)
	}
	var out serverView
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Recording != in.Recording || out.Standby != in.Standby ||
		len(out.History) != 2 || out.History[1] != status.RecordingDisabled ||
		out.ByServer["s1"] != status.StandbyWarning ||
		out.Counts[status.RecordingNormalUnprotected] != 2 ||
		out.Pointer == nil || *out.Pointer != ready {
		t.Errorf("json round trip = %+v, want %+v", out, in)
	}
}

func TestJSONRefusesUnknown(t *testing.T) {
	if _, err := json.Marshal(serverView{Standby: status.StandbyDisabled}); !errors.Is(err, status.ErrUnknownStatus) {
		t.Errorf("json.Marshal with a zero Recording: error = %v, want one wrapping ErrUnknownStatus", err)
	}
	for _, doc := range []string{
		`{"recording":"Normal, protected"}`,
		`{"standby":"normal-protected"}`,
		`{"history":["disabled","nope"]}`,
		`{"counts":{"bogus":1}}`,
	} {
		var v serverView
		if err := json.Unmarshal([]byte(doc), &v); !errors.Is(err, status.ErrUnknownStatus) {
			t.Errorf("json.Unmarshal(%s) error = %v, want one wrapping ErrUnknownStatus", doc, err)
		}
	}
}
