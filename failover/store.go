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
	// ErrStoreNeedsState means a DeltaStore cannot apply a change set to
	// what it holds: nothing was saved yet, a write of changes failed
	// earlier (it may or may not have landed), or the changes do not fit
	// the State it holds. Saving the whole State (Save, or Changes with
	// Full) sets it right; the Controller does so after any failed Apply.
	ErrStoreNeedsState = errors.New("failover: store needs the whole state")
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
// encoding shows up here as it would on disk. It is a DeltaStore too: Apply
// takes Changes through JSON and applies them to the State it holds (a
// Replica), as a FileStore replays its log. It is safe for concurrent use;
// the zero value is an empty store, ready to use.
type MemoryStore struct {
	mu   sync.Mutex
	data []byte // the State last saved; nil until the first Save
	// rep is the State with the changes applied since, nil when none were.
	rep            *Replica
	saves, applies int
	appliedBytes   int64
}

var _ DeltaStore = (*MemoryStore)(nil)

// Load returns a copy of the last saved State, or an error wrapping
// ErrNoState before the first Save.
func (s *MemoryStore) Load(ctx context.Context) (State, error) {
	if err := ctx.Err(); err != nil {
		return State{}, err
	}
	s.mu.Lock()
	data, rep := s.data, s.rep
	if rep != nil {
		st := rep.State()
		s.mu.Unlock()
		return st, nil
	}
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
	s.data, s.rep = data, nil
	s.saves++
	return nil
}

// Apply applies c to the State held, through JSON. Changes that do not fit
// it are refused with an error wrapping ErrStoreNeedsState and
// ErrCorruptState, and change nothing; so is Apply before the first Save
// (or Changes with Full).
func (s *MemoryStore) Apply(ctx context.Context, c Changes) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("failover: encode changes: %w", err)
	}
	var dec Changes
	if err := json.Unmarshal(data, &dec); err != nil {
		return fmt.Errorf("failover: decode changes: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if dec.Full != nil {
		rep, err := NewReplica(*dec.Full)
		if err != nil {
			return fmt.Errorf("%w: in memory: %w", ErrStoreNeedsState, err)
		}
		s.data, s.rep = nil, rep
		s.count(len(data))
		return nil
	}
	if err := s.replica(); err != nil {
		return err
	}
	if err := s.rep.Apply(dec); err != nil {
		return fmt.Errorf("%w: in memory: %w", ErrStoreNeedsState, err)
	}
	s.count(len(data))
	return nil
}

// replica makes s.rep from the State last saved, for Apply.
func (s *MemoryStore) replica() error {
	switch {
	case s.rep != nil:
		return nil
	case s.data == nil:
		return fmt.Errorf("%w: in memory: %w", ErrStoreNeedsState, ErrNoState)
	}
	var st State
	if err := json.Unmarshal(s.data, &st); err != nil {
		return fmt.Errorf("%w: in memory: %w", ErrCorruptStore, err)
	}
	rep, err := NewReplica(st)
	if err != nil {
		return fmt.Errorf("%w: in memory: %w", ErrStoreNeedsState, err)
	}
	s.rep, s.data = rep, nil
	return nil
}

func (s *MemoryStore) count(n int) {
	s.applies++
	s.appliedBytes += int64(n)
}

// Saves returns how many times Save or Apply succeeded, so that a test can
// check that a Ready loop persisted what it should (and nothing more).
func (s *MemoryStore) Saves() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saves + s.applies
}

// Applies returns how many times Apply succeeded and the bytes of JSON the
// Changes took, as a FileStore would append them.
func (s *MemoryStore) Applies() (n int, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applies, s.appliedBytes
}
