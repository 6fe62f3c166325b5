package transport

import (
	"context"
	"fmt"

	"github.com/nvrha/nvrha"
)

// ProbeReport is a server's answer to a health probe.
type ProbeReport struct {
	Server nvrha.ServerID `json:"server"`
	// Healthy is the server's own verdict: false when it is reachable but
	// abnormal (its disks failed, its recording stopped). A server that answers
	// is not necessarily one that records, which is why a center needs both
	// this and reachability.
	Healthy bool `json:"healthy"`
	// Recording reports that the server records its own camera list now.
	Recording bool `json:"recording"`
	// Covering is, for a standby, the recording server whose cameras it
	// records now; "" if none.
	Covering nvrha.ServerID `json:"covering,omitempty"`
	// Epoch is the newest epoch the server has accepted for Covering (standby)
	// or for itself (recording server). A center compares it with the epoch it
	// last issued to spot a server acting on an outdated order.
	Epoch                  nvrha.Epoch `json:"epoch"`
	HasEmptyRecordingSpace bool        `json:"has_empty_recording_space"`
}

// TakeoverOrder tells a standby to record a failed recording server's cameras.
type TakeoverOrder struct {
	Recording nvrha.ServerID   `json:"recording"`
	Epoch     nvrha.Epoch      `json:"epoch"`
	Cameras   []nvrha.CameraID `json:"cameras"`
	// Term is the center term of the center that sent the order; 0 when
	// no election runs. See the package documentation.
	Term uint64 `json:"term,omitempty"`
}

// ReleaseOrder tells a standby to stop recording Recording's cameras
// (failback, or the takeover was cancelled).
type ReleaseOrder struct {
	Recording nvrha.ServerID `json:"recording"`
	Epoch     nvrha.Epoch    `json:"epoch"`
	// Term is the sender's center term, as in [TakeoverOrder].
	Term uint64 `json:"term,omitempty"`
}

// StandDownOrder tells a reachable-but-abnormal recording server to stop
// recording its cameras: a standby owns them from Epoch on.
type StandDownOrder struct {
	Epoch nvrha.Epoch `json:"epoch"`
	// Term is the sender's center term, as in [TakeoverOrder].
	Term uint64 `json:"term,omitempty"`
}

// ResumeOrder tells a recovered recording server to record its own cameras
// again. Failback is make-before-break: the center sends Release to the
// standby only after Resume succeeded, so the cameras are never unrecorded.
type ResumeOrder struct {
	Epoch nvrha.Epoch `json:"epoch"`
	// Term is the sender's center term, as in [TakeoverOrder].
	Term uint64 `json:"term,omitempty"`
}

// Transport is what a center uses to reach its servers. Implementations are
// safe for concurrent use.
//
// Errors: one for which errors.Is(err, [ErrUnreachable]) holds (including
// [ErrUnknownServer]) or a context error means the outcome is unknown; a
// [*StaleEpochError], a [*StaleTermError], an error wrapping
// [ErrInvalidOrder] or any other error the agent returned is the agent's
// definite refusal and changed nothing. See the package documentation.
type Transport interface {
	Probe(ctx context.Context, server nvrha.ServerID) (ProbeReport, error)
	Inventory(ctx context.Context, server nvrha.ServerID) (nvrha.Facts, error)
	Takeover(ctx context.Context, standby nvrha.ServerID, o TakeoverOrder) error
	Release(ctx context.Context, standby nvrha.ServerID, o ReleaseOrder) error
	StandDown(ctx context.Context, recording nvrha.ServerID, o StandDownOrder) error
	Resume(ctx context.Context, recording nvrha.ServerID, o ResumeOrder) error
}

// Agent is what a server implements to answer its center. Implementations are
// safe for concurrent use, validate every order (the Validate methods), and
// fence every order by its center term and its epoch as the package
// documentation describes, typically with a [Fence]. An order may arrive more
// than once.
type Agent interface {
	Probe(ctx context.Context) (ProbeReport, error)
	Inventory(ctx context.Context) (nvrha.Facts, error)
	Takeover(ctx context.Context, o TakeoverOrder) error
	Release(ctx context.Context, o ReleaseOrder) error
	StandDown(ctx context.Context, o StandDownOrder) error
	Resume(ctx context.Context, o ResumeOrder) error
}

// Clone returns a deep copy, so that whoever receives the copy cannot change
// the sender's camera list, or the other way round.
func (o TakeoverOrder) Clone() TakeoverOrder {
	if o.Cameras != nil {
		o.Cameras = append([]nvrha.CameraID(nil), o.Cameras...)
	}
	return o
}

// Validate reports the first structural problem with o. Errors wrap
// [ErrInvalidOrder], and [nvrha.ErrInvalidID] for a malformed ID.
func (o TakeoverOrder) Validate() error {
	if err := validateEpoch("takeover", o.Epoch); err != nil {
		return err
	}
	if err := o.Recording.Validate(); err != nil {
		return fmt.Errorf("%w: takeover: recording server: %w", ErrInvalidOrder, err)
	}
	if len(o.Cameras) > nvrha.MaxCamerasPerServer {
		return fmt.Errorf("%w: takeover of %s: more than %d cameras", ErrInvalidOrder, o.Recording, nvrha.MaxCamerasPerServer)
	}
	seen := make(map[nvrha.CameraID]struct{}, len(o.Cameras))
	for _, c := range o.Cameras {
		if err := c.Validate(); err != nil {
			return fmt.Errorf("%w: takeover of %s: %w", ErrInvalidOrder, o.Recording, err)
		}
		if _, dup := seen[c]; dup {
			return fmt.Errorf("%w: takeover of %s: camera %s listed twice", ErrInvalidOrder, o.Recording, c)
		}
		seen[c] = struct{}{}
	}
	return nil
}

// Validate reports the first structural problem with o. Errors wrap
// [ErrInvalidOrder], and [nvrha.ErrInvalidID] for a malformed ID.
func (o ReleaseOrder) Validate() error {
	if err := validateEpoch("release", o.Epoch); err != nil {
		return err
	}
	if err := o.Recording.Validate(); err != nil {
		return fmt.Errorf("%w: release: recording server: %w", ErrInvalidOrder, err)
	}
	return nil
}

// Validate reports whether o carries an epoch. Errors wrap [ErrInvalidOrder].
func (o StandDownOrder) Validate() error { return validateEpoch("stand-down", o.Epoch) }

// Validate reports whether o carries an epoch. Errors wrap [ErrInvalidOrder].
func (o ResumeOrder) Validate() error { return validateEpoch("resume", o.Epoch) }

// validateEpoch refuses epoch zero: it is what a fence reports for a key it
// has never seen, so an order carrying it would pass every fence and fence
// out nothing, which is a center bug rather than an order.
func validateEpoch(kind string, e nvrha.Epoch) error {
	if e == 0 {
		return fmt.Errorf("%w: %s: epoch is zero", ErrInvalidOrder, kind)
	}
	return nil
}
