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
// Each one needs a precise signature in the check that finds it, a
// scenario in testdata/known/<id>.nvrsim that reproduces it, and an entry
// in tolerated (known_test.go) for the batch tests; once fixed, its
// scenario moves to testdata/regress.
var knownIssues []KnownIssue

// knownIssue records a known issue when Config.Tolerate lists it and
// reports whether it did; otherwise the caller fails the run.
func (w *World) knownIssue(id, key, detail string) bool {
	if !slices.Contains(w.cfg.Tolerate, id) {
		return false
	}
	if w.knownKeys[id+"|"+key] {
		return true
	}
	if w.knownKeys == nil {
		w.knownKeys = map[string]bool{}
	}
	w.knownKeys[id+"|"+key] = true
	for i := range w.known {
		if w.known[i].ID == id {
			w.known[i].Count++
			return true
		}
	}
	for _, k := range KnownIssues() {
		if k.ID == id {
			k.Count, k.First, k.Detail = 1, w.now, detail
			w.known = append(w.known, k)
			w.traceLine("known issue " + id + ": " + detail)
		}
	}
	return true
}
