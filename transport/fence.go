package transport

import (
	"maps"
	"sync"

	"github.com/nvrha/nvrha"
)

// Fence is the epoch bookkeeping an Agent needs: for each key (the recording
// server whose cameras are at stake) the newest epoch accepted. Safe for
// concurrent use; the zero value is ready.
//
// Admit both checks and records under one lock, so two orders racing for the
// same key cannot both pass a check that only one of them should. An agent
// whose action must be atomic with the check holds its own lock around both.
type Fence struct {
	mu     sync.Mutex
	newest map[nvrha.ServerID]nvrha.Epoch
}

// Admit accepts e for key unless a newer epoch has been accepted for key, in
// which case it returns a [*StaleEpochError] and records nothing. An epoch
// equal to the newest is accepted, as the retry of an order whose answer was
// lost; see the package documentation.
func (f *Fence) Admit(key nvrha.ServerID, e nvrha.Epoch) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	newest := f.newest[key]
	if e < newest {
		return &StaleEpochError{Key: key, Got: e, Newest: newest}
	}
	if e > newest {
		if f.newest == nil {
			f.newest = make(map[nvrha.ServerID]nvrha.Epoch)
		}
		f.newest[key] = e
	}
	return nil
}

// Newest returns the newest epoch accepted for key, or zero if none.
func (f *Fence) Newest(key nvrha.ServerID) nvrha.Epoch {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.newest[key]
}

// Snapshot returns the newest epoch of every key, as a new map. An agent
// persists it before it acts on an admitted order and, when it starts again,
// Admits every entry into a fresh Fence: fencing only works if the server
// remembers across restarts what it has accepted.
func (f *Fence) Snapshot() map[nvrha.ServerID]nvrha.Epoch {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[nvrha.ServerID]nvrha.Epoch, len(f.newest))
	maps.Copy(m, f.newest)
	return m
}
