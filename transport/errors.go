package transport

import (
	"errors"
	"fmt"

	"github.com/nvrha/nvrha"
)

// ErrUnreachable means the call did not reach the server or its answer was
// lost; the caller cannot know whether it took effect.
var ErrUnreachable = errors.New("transport: server unreachable")

// ErrUnknownServer means no agent is registered under the server ID. For
// errors.Is it is also [ErrUnreachable]: to a center an ID nobody answers to
// is a server it cannot reach, as it would be on a network where the address
// no longer resolves, and a center that only checks ErrUnreachable must treat
// it so.
var ErrUnknownServer error = unknownServerError{}

type unknownServerError struct{}

func (unknownServerError) Error() string { return "transport: unknown server" }
func (unknownServerError) Unwrap() error { return ErrUnreachable }

// ErrStaleEpoch is wrapped by every [*StaleEpochError].
var ErrStaleEpoch = errors.New("transport: stale epoch")

// ErrStaleTerm is wrapped by every [*StaleTermError].
var ErrStaleTerm = errors.New("transport: stale center term")

// ErrInvalidOrder is wrapped by every error about a malformed order.
var ErrInvalidOrder = errors.New("transport: invalid order")

// ErrAlreadyRegistered is returned by [InMemory.Register] for an ID that
// already has an agent.
var ErrAlreadyRegistered = errors.New("transport: server already registered")

// StaleEpochError is returned by an agent that has already accepted a newer
// epoch for Key; errors.Is(err, ErrStaleEpoch) holds. It is a definite
// refusal: the order changed nothing.
type StaleEpochError struct {
	// Key is the recording server whose cameras the order was about.
	Key nvrha.ServerID
	// Got is the order's epoch and Newest the newest the agent has accepted
	// for Key, so a center can tell how far behind it is.
	Got, Newest nvrha.Epoch
}

func (e *StaleEpochError) Error() string {
	return fmt.Sprintf("transport: stale epoch %d for %s: already accepted %d", e.Got, e.Key, e.Newest)
}

// Unwrap returns [ErrStaleEpoch].
func (e *StaleEpochError) Unwrap() error { return ErrStaleEpoch }

// StaleTermError is returned by an agent that has already accepted an order
// of a newer center term than the order's: the order comes from a center
// that has been replaced by another. errors.Is(err, ErrStaleTerm) holds. It
// is a definite refusal: the order changed nothing, its epoch included.
type StaleTermError struct {
	// Got is the order's term and Newest the newest the agent has accepted.
	Got, Newest uint64
}

func (e *StaleTermError) Error() string {
	return fmt.Sprintf("transport: stale center term %d: already accepted term %d", e.Got, e.Newest)
}

// Unwrap returns [ErrStaleTerm].
func (e *StaleTermError) Unwrap() error { return ErrStaleTerm }
