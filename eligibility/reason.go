package eligibility

import "strings"

// Code is a stable machine-readable identifier of one rule. Programs match on
// codes; the wording of messages may change between releases.
type Code string

// The rule codes, in the order a check reports them.
const (
	CodeInvalidFacts          Code = "invalid-facts"                 // nvrha.Facts.Validate failed
	CodeUnsupportedProduct    Code = "unsupported-product"           // not in Rules.SupportedProducts
	CodeAdvancedModeDisabled  Code = "advanced-mode-disabled"        // Advanced Mode is off
	CodeInAnotherGroup        Code = "in-another-group"              // a member of a different group
	CodeAlreadyInGroup        Code = "already-in-group"              // already a member of this very group
	CodeGroupFull             Code = "group-full"                    // 64 per group on x86_64, 8 on ARM64
	CodeNoEmptyRecordingSpace Code = "no-empty-recording-space"      // standby only
	CodeCameraListNotEmpty    Code = "camera-list-not-empty"         // standby only
	CodeInsufficientLicense   Code = "insufficient-license-channels" // standby only
)

// Reason is one failed rule: a stable Code and a sentence a UI can show.
type Reason struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// String returns the message, so that a Reason prints as what a person reads.
func (r Reason) String() string { return r.Message }

// Reasons is every failed rule of one check, in the order documented in the
// package overview.
type Reasons []Reason

// Has reports whether the rule with code c failed.
func (rs Reasons) Has(c Code) bool {
	for _, r := range rs {
		if r.Code == c {
			return true
		}
	}
	return false
}

// Codes returns the codes of rs in order, or nil when rs is empty. The slice is
// new on every call.
func (rs Reasons) Codes() []Code {
	if len(rs) == 0 {
		return nil
	}
	codes := make([]Code, len(rs))
	for i, r := range rs {
		codes[i] = r.Code
	}
	return codes
}

// String returns the messages, each a full sentence, separated by spaces, for
// logs and error texts.
func (rs Reasons) String() string {
	msgs := make([]string, len(rs))
	for i, r := range rs {
		msgs[i] = r.Message
	}
	return strings.Join(msgs, " ")
}
