package check

import (
	"slices"
	"time"
)

// KnownIssue is a defect of the Machine that the checker recognises by a
// precise signature. By default every one is a violation like any other;
// a Checker made with its ID in tolerate records it (Known) instead, so
// that a batch can run on while a fix is pending.
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

// knownIssues are the Machine defects the checker recognises; none is
// known today. Each one needs a precise signature in the check that finds
// it (which calls Checker.knownIssue), a scenario in
// simulator/testdata/known/<id>.nvrsim that reproduces it, and an entry in
// the simulator's tolerated list (known_test.go) for the batch tests; once
// fixed, its scenario moves to simulator/testdata/regress and its
// signature goes.
var knownIssues []KnownIssue

// knownIssue reports the known issue id: recorded when tolerated, a
// violation of its invariant otherwise.
func (c *Checker) knownIssue(id, detail string) {
	k := slices.IndexFunc(knownIssues, func(k KnownIssue) bool { return k.ID == id })
	if k < 0 {
		panic("check: unknown known issue " + id) // a checker bug, not bad input
	}
	if !slices.Contains(c.tolerate, id) {
		c.fail(knownIssues[k].Invariant, detail)
		return
	}
	for i := range c.known {
		if c.known[i].ID == id {
			c.known[i].Count++
			return
		}
	}
	ki := knownIssues[k]
	ki.Count, ki.First, ki.Detail = 1, c.now, detail
	c.known = append(c.known, ki)
}
