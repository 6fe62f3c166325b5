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

// The known issues, by ID.
const (
	// IssueAbortedFailbackKeepsEpoch: a failback is aborted (the recording
	// server fails again after its resume was sent, before the release) and
	// the takeover goes on under the failback's epoch, so later takeover
	// re-orders and stand-downs carry the epoch of the resume that undid
	// them: a late resume is not fenced by a stand-down of the same epoch.
	IssueAbortedFailbackKeepsEpoch = "aborted-failback-keeps-epoch"
	// IssueResumeRetryEmpty: a failback's resume is acknowledged but no
	// probe shows the footage within TakeoverTimeout (a stream slower to
	// start, probes lost); the Machine orders the resume again with the
	// command it cleared on the acknowledgement: an empty command, retried
	// forever. The failback never completes and the standby is never
	// released.
	IssueResumeRetryEmpty = "resume-retry-empty"
)

// knownIssues are the Machine defects the checker recognises. Each one
// needs a precise signature in the check that finds it, a scenario in
// testdata/known/<id>.nvrsim that reproduces it, and an entry in tolerated
// (known_test.go) for the batch tests.
var knownIssues = []KnownIssue{
	{ID: IssueAbortedFailbackKeepsEpoch, Invariant: 3, Description: "a failback aborted by the recording server failing again " +
		"leaves the takeover under the failback's epoch, so takeover re-orders (after a center restart) and stand-downs reuse the " +
		"epoch of the resume (failover/takeover.go recordingDownInTakeover, case PhaseResuming: no nextEpoch)"},
	{ID: IssueResumeRetryEmpty, Invariant: 0, Description: "a failback whose acknowledged resume is not followed by a probe " +
		"showing the footage within TakeoverTimeout re-sends t.cmd.cmd, which takeoverResult cleared: an empty command, " +
		"retried forever; the failback is stuck in PhaseResuming and never releases the standby (failover/takeover.go " +
		"tickTakeover, case PhaseResuming)"},
}

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
