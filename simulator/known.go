package simulator

import (
	"slices"
	"time"
)

// KnownIssue is a defect of the Machine that the checker recognises by a
// precise signature. By default every one is a violation like any other;
// Config.Tolerate lists the ones to record in the Report instead, so that a
// batch can run on while a fix is pending.
type KnownIssue struct {
	ID          string        `json:"id"`
	Invariant   int           `json:"invariant"`
	Description string        `json:"description"`
	Count       int           `json:"count"`
	First       time.Duration `json:"first"`
	Detail      string        `json:"detail"`
}

// KnownIssues returns the IDs of every known issue with its invariant and
// description.
func KnownIssues() []KnownIssue {
	return slices.Clone(knownIssues)
}

// knownIssues are the Machine defects the checker recognises, none today.
// Each one needs a precise signature in the check that finds it (recorded
// in World.known when Config.Tolerate lists it, a violation otherwise), a
// scenario in testdata/known/<id>.nvrsim that reproduces it, and an entry
// in tolerated (known_test.go) for the batch tests; once fixed, its
// scenario moves to testdata/regress.
var knownIssues []KnownIssue
