package failover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
)

// Store keeps a center's State across restarts. Save must be durable when it
// returns: the Machine's Ready loop persists an epoch before any server sees
// it, so a Save that returns nil promises that a Load after a crash at any
// later point returns that State or a newer one.
//
// A Store never turns a bad record into an empty center: Load returns an
// error wrapping ErrNoState only when nothing was ever saved, and a clear
// error (ErrCorruptStore, ErrUnknownStoreFormat, ErrStorePath) for anything
// it cannot read.
// It does not interpret the State either: one whose Version is not
// StateVersion is returned as it is, for RestoreMachine to reject with
// ErrUnknownStateVersion.
type Store interface {
	// Load returns the last saved State, or an error wrapping ErrNoState when
	// nothing was ever saved.
	Load(ctx context.Context) (State, error)
	// Save replaces the saved State with st, durably.
	Save(ctx context.Context, st State) error
}

// Errors of a Store's Load.
var (
	// ErrNoState means nothing was ever saved: a new center starts empty.
	ErrNoState = errors.New("failover: no saved state")
	// ErrCorruptStore means a saved State exists but cannot be read back as
	// it was written: a checksum mismatch, a truncated file, bad JSON. It
	// needs an operator (or a backup), never a silent reset.
	ErrCorruptStore = errors.New("failover: corrupt store")
	// ErrUnknownStoreFormat means the record was written in another format,
	// or another version of this one, than this build reads.
	ErrUnknownStoreFormat = errors.New("failover: unknown store format")
	// ErrStorePath means the Store's location cannot hold a State as
	// configured: the path is empty, names a directory or something else
	// that is not a file, or goes through a file as if it were a directory.
	// Nothing was read or written; the configuration needs fixing. It is
	// returned by Save as well as by Load.
	ErrStorePath = errors.New("failover: unusable store path")
)

// MemoryStore is a Store in memory, for tests and simulations. It keeps the
// State as JSON, the same encoding FileStore writes, so Save and Load copy
// deeply: a caller can change the State it saved, or the one it loaded,
// without touching what is stored, and a State that does not survive
// encoding shows up here as it would on disk. It is safe for concurrent use;
// the zero value is an empty store, ready to use.
type MemoryStore struct {
	mu    sync.Mutex
	data  []byte // nil until the first Save
	saves int
}

var _ Store = (*MemoryStore)(nil)

// Load returns a copy of the last saved State, or an error wrapping
// ErrNoState before the first Save.
func (s *MemoryStore) Load(ctx context.Context) (State, error) {
	if err := ctx.Err(); err != nil {
		return State{}, err
	}
	s.mu.Lock()
	data := s.data
	s.mu.Unlock()
	if data == nil {
		return State{}, fmt.Errorf("%w (in memory)", ErrNoState)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		// Only bytes this store encoded itself are ever held.
		return State{}, fmt.Errorf("%w: in memory: %w", ErrCorruptStore, err)
	}
	return st, nil
}

// Save stores a copy of st.
func (s *MemoryStore) Save(ctx context.Context, st State) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("failover: encode state: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// A slice that is never written again: Load may decode it unlocked.
	s.data = data
	s.saves++
	return nil
}

// Saves returns how many times Save succeeded, so that a test can check
// that a Ready loop persisted what it should (and nothing more).
func (s *MemoryStore) Saves() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saves
}
