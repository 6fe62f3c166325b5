package transport

import (
	"maps"
	"sync"

	"github.com/nvrha/nvrha"
)

// Fence is the bookkeeping an Agent needs to refuse outdated orders: the
// newest center term it has accepted, and for each key (the recording server
// whose cameras are at stake) the newest epoch. Safe for concurrent use; the
// zero value is ready.
//
// AdmitOrder both checks and records under one lock, so two orders racing
// for the same key cannot both pass a check that only one of them should. An
// agent whose action must be atomic with the check holds its own lock around
// both, or checks with Check, does its own checks and then admits.
type Fence struct {
	mu     sync.Mutex
	term   uint64
	newest map[nvrha.ServerID]nvrha.Epoch
}

// Admit accepts e for key unless a newer epoch has been accepted for key, in
// which case it returns a [*StaleEpochError] and records nothing. An epoch
// equal to the newest is accepted, as the retry of an order whose answer was
// lost; see the package documentation. Admit does not look at terms: an
// order is admitted with AdmitOrder, and Admit restores saved epochs.
func (f *Fence) Admit(key nvrha.ServerID, e nvrha.Epoch) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkEpoch(key, e); err != nil {
		return err
	}
	f.recordEpoch(key, e)
	return nil
}

// AdmitOrder accepts an order of center term term with epoch e for key: it
// returns a [*StaleTermError] if a newer term has been accepted, else a
// [*StaleEpochError] if a newer epoch has been accepted for key, and records
// nothing in either case; otherwise it records both. Terms and epochs equal
// to the newest are accepted (retries), and term 0 (a center that runs no
// election) passes only while no term has been accepted.
func (f *Fence) AdmitOrder(term uint64, key nvrha.ServerID, e nvrha.Epoch) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(term, key, e); err != nil {
		return err
	}
	f.term = max(f.term, term)
	f.recordEpoch(key, e)
	return nil
}

// Check returns the error AdmitOrder would return, recording nothing, for
// an agent that refuses orders for reasons of its own as well and records
// the order's term and epoch (with AdmitOrder, under its own lock) only once
// every check has passed.
func (f *Fence) Check(term uint64, key nvrha.ServerID, e nvrha.Epoch) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.check(term, key, e)
}

func (f *Fence) check(term uint64, key nvrha.ServerID, e nvrha.Epoch) error {
	// The term first: an order of a replaced center is refused as such,
	// whatever its epoch.
	if term < f.term {
		return &StaleTermError{Got: term, Newest: f.term}
	}
	return f.checkEpoch(key, e)
}

func (f *Fence) checkEpoch(key nvrha.ServerID, e nvrha.Epoch) error {
	if newest := f.newest[key]; e < newest {
		return &StaleEpochError{Key: key, Got: e, Newest: newest}
	}
	return nil
}

func (f *Fence) recordEpoch(key nvrha.ServerID, e nvrha.Epoch) {
	if e > f.newest[key] {
		if f.newest == nil {
			f.newest = make(map[nvrha.ServerID]nvrha.Epoch)
		}
		f.newest[key] = e
	}
}

// AdmitTerm accepts term unless a newer one has been accepted, in which
// case it returns a [*StaleTermError] and records nothing. An agent restores
// its saved term with it.
func (f *Fence) AdmitTerm(term uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if term < f.term {
		return &StaleTermError{Got: term, Newest: f.term}
	}
	f.term = term
	return nil
}

// Newest returns the newest epoch accepted for key, or zero if none.
func (f *Fence) Newest(key nvrha.ServerID) nvrha.Epoch {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.newest[key]
}

// Term returns the newest center term accepted, or zero if none.
func (f *Fence) Term() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.term
}

// Snapshot returns the newest epoch of every key, as a new map. An agent
// persists it, and Term beside it, before it acts on an admitted order and,
// when it starts again, Admits every entry into a fresh Fence and AdmitTerms
// the term: fencing only works if the server remembers across restarts what
// it has accepted.
func (f *Fence) Snapshot() map[nvrha.ServerID]nvrha.Epoch {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[nvrha.ServerID]nvrha.Epoch, len(f.newest))
	maps.Copy(m, f.newest)
	return m
}
