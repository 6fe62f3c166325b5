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

// The known issues, by ID.
const (
	// IssueRestoreReusesFailbackEpoch: a takeover persisted while failing
	// back (resume or release sent under a new epoch) is restored as
	// active and ordered again under that same epoch, so a takeover order
	// reuses the epoch of the failback that undoes it.
	IssueRestoreReusesFailbackEpoch = "restore-reuses-failback-epoch"
	// IssueStoodDownNeverResumed: a reachable-but-abnormal recording server
	// stood down for a takeover that then ended without a failback while it
	// was still down (its standby failed or was disabled, and no other
	// standby took over) is never told to resume once it recovers: it is
	// healthy, shows "Normal, ...", and records nothing.
	IssueStoodDownNeverResumed = "stood-down-never-resumed"
	// IssueLedgerClosesGivenUpStandby: when a standby is given up (it
	// stopped answering), its ledger interval is closed at its last healthy
	// answer; a standby that was only unreachable records until its
	// release lands, and that footage is not in the ledger.
	IssueLedgerClosesGivenUpStandby = "ledger-closes-given-up-standby-early"
)

// KnownIssues returns the IDs of every known issue with its invariant and
// description.
func KnownIssues() []KnownIssue {
	return []KnownIssue{
		{ID: IssueRestoreReusesFailbackEpoch, Invariant: 3, Description: "RestoreMachine re-orders a takeover that was failing back under the failback's epoch (failover/state.go, RestoreMachine: TakeoverState.Confirmed covers phases active, resuming and releasing alike)"},
		{ID: IssueLedgerClosesGivenUpStandby, Invariant: 8, Description: "footage a given-up standby recorded between its last healthy answer and the release that stopped it is missing from the ledger (failover/takeover.go standbyFailed closes the interval at lastSeen)"},
		{ID: IssueStoodDownNeverResumed, Invariant: 7, Description: "a recording server stood down for a takeover that ended while it was down is never ordered to resume after it recovers (failover/takeover.go interrupt and standbyFailed skip the resume while it is down; failover/engine.go markUp orders none)"},
	}
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
