package agenttest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
)

// The refusals of a Server besides stale epochs and malformed orders.
var (
	ErrBusy                  = errors.New("agenttest: already covers another recording server")
	ErrNoEmptyRecordingSpace = errors.New("agenttest: no empty recording space")
	ErrUnhealthy             = errors.New("agenttest: server is abnormal")
)

// Server is an in-process Agent that behaves like a recording or standby
// server; see the package documentation. Safe for concurrent use.
type Server struct {
	// mu is held across each order's fence check, its other checks and its
	// effect, so that an order is accepted and carried out as one step and a
	// refused order leaves no trace, not even in the fence.
	mu        sync.Mutex
	facts     nvrha.Facts
	fence     transport.Fence
	healthy   bool
	crashed   bool
	stoodDown bool
	covering  nvrha.ServerID
	cameras   []nvrha.CameraID // covering's cameras
}

var _ transport.Agent = (*Server)(nil)

// New returns a reachable, healthy server with facts f, recording its own
// cameras if it has any. f is copied and not validated, so that a test can
// hand a center a malformed inventory.
func New(f nvrha.Facts) *Server {
	return &Server{facts: f.Clone(), healthy: true}
}

// ID returns the server's ID, from its facts.
func (s *Server) ID() nvrha.ServerID { return s.facts.ID }

// Probe reports the server's state truthfully.
func (s *Server) Probe(ctx context.Context) (transport.ProbeReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reachable(ctx, transport.MethodProbe); err != nil {
		return transport.ProbeReport{}, err
	}
	key := s.facts.ID
	if s.covering != "" {
		key = s.covering
	}
	return transport.ProbeReport{
		Server:                 s.facts.ID,
		Healthy:                s.healthy,
		Recording:              s.recording(),
		Covering:               s.covering,
		Epoch:                  s.fence.Newest(key),
		HasEmptyRecordingSpace: s.facts.HasEmptyRecordingSpace(),
	}, nil
}

// Inventory returns the server's facts, with its recording spaces as
// SetEmptyRecordingSpace left them.
func (s *Server) Inventory(ctx context.Context) (nvrha.Facts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reachable(ctx, transport.MethodInventory); err != nil {
		return nvrha.Facts{}, err
	}
	return s.facts.Clone(), nil
}

// Takeover starts recording o.Cameras for o.Recording.
func (s *Server) Takeover(ctx context.Context, o transport.TakeoverOrder) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reachable(ctx, transport.MethodTakeover); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	if o.Recording == s.facts.ID {
		return fmt.Errorf("%w: %s cannot take over itself", transport.ErrInvalidOrder, s.facts.ID)
	}
	if err := s.stale(o.Term, o.Recording, o.Epoch); err != nil {
		return err
	}
	if s.covering != o.Recording {
		switch {
		case s.covering != "":
			return fmt.Errorf("%w: %s covers %s, refused takeover of %s", ErrBusy, s.facts.ID, s.covering, o.Recording)
		case !s.facts.HasEmptyRecordingSpace():
			return fmt.Errorf("%w: %s refused takeover of %s", ErrNoEmptyRecordingSpace, s.facts.ID, o.Recording)
		case !s.healthy:
			return fmt.Errorf("%w: %s refused takeover of %s", ErrUnhealthy, s.facts.ID, o.Recording)
		}
	}
	s.admit(o.Term, o.Recording, o.Epoch)
	s.covering = o.Recording
	s.cameras = slices.Clone(o.Cameras)
	return nil
}

// Release stops recording o.Recording's cameras, if it records them.
func (s *Server) Release(ctx context.Context, o transport.ReleaseOrder) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reachable(ctx, transport.MethodRelease); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	if err := s.stale(o.Term, o.Recording, o.Epoch); err != nil {
		return err
	}
	s.admit(o.Term, o.Recording, o.Epoch)
	if s.covering == o.Recording {
		s.covering, s.cameras = "", nil
	}
	return nil
}

// StandDown stops recording the server's own cameras.
func (s *Server) StandDown(ctx context.Context, o transport.StandDownOrder) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reachable(ctx, transport.MethodStandDown); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	if err := s.stale(o.Term, s.facts.ID, o.Epoch); err != nil {
		return err
	}
	s.admit(o.Term, s.facts.ID, o.Epoch)
	s.stoodDown = true
	return nil
}

// Resume records the server's own cameras again.
func (s *Server) Resume(ctx context.Context, o transport.ResumeOrder) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reachable(ctx, transport.MethodResume); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	if err := s.stale(o.Term, s.facts.ID, o.Epoch); err != nil {
		return err
	}
	if s.stoodDown && !s.healthy {
		return fmt.Errorf("%w: %s refused to resume", ErrUnhealthy, s.facts.ID)
	}
	s.admit(o.Term, s.facts.ID, o.Epoch)
	s.stoodDown = false
	return nil
}

// Crash makes the server unreachable and stops all its recording until
// Restart; its configuration survives.
func (s *Server) Crash() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.crashed = true
}

// Restart brings a crashed server back with the configuration it had; see the
// package documentation. It does nothing to a running server.
func (s *Server) Restart() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.crashed = false
}

// SetHealthy sets the server's own verdict, which Probe reports, and whether
// it may start recording.
func (s *Server) SetHealthy(healthy bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.healthy = healthy
}

// SetEmptyRecordingSpace makes the server have an empty recording space or
// none, in what Probe and Inventory report and in what Takeover accepts.
// Clearing marks every space in use; setting marks the first space empty, or
// adds one if the server has none.
func (s *Server) SetEmptyRecordingSpace(empty bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	spaces := s.facts.RecordingSpaces
	switch {
	case !empty:
		for i := range spaces {
			spaces[i].Empty = false
		}
	case s.facts.HasEmptyRecordingSpace():
	case len(spaces) > 0:
		spaces[0].Empty = true
	default:
		spaces = append(spaces, nvrha.RecordingSpace{Name: "recording-space-1", Empty: true})
	}
	s.facts.RecordingSpaces = spaces
}

// Recording reports whether the server records its own cameras now: it has
// some, is not crashed and has not been stood down.
func (s *Server) Recording() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recording()
}

// Covering returns the recording server whose cameras the server records now
// and those cameras, or "" and nil. The slice is a copy.
func (s *Server) Covering() (nvrha.ServerID, []nvrha.CameraID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.crashed || s.covering == "" {
		return "", nil
	}
	return s.covering, slices.Clone(s.cameras)
}

// Newest returns the newest epoch the server has accepted for key, crashed or
// not.
func (s *Server) Newest(key nvrha.ServerID) nvrha.Epoch { return s.fence.Newest(key) }

// Term returns the newest center term the server has accepted, crashed or
// not.
func (s *Server) Term() uint64 { return s.fence.Term() }

func (s *Server) recording() bool {
	return !s.crashed && !s.stoodDown && len(s.facts.Cameras) > 0
}

// reachable fails a call the way a network would fail it to a crashed server,
// or with ctx's error if the caller has given up.
func (s *Server) reachable(ctx context.Context, m transport.Method) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.crashed {
		return fmt.Errorf("agenttest: %s %s: crashed: %w", m, s.facts.ID, transport.ErrUnreachable)
	}
	return nil
}

// stale checks term and e against the fence without recording them, so
// that an order the server then refuses for another reason leaves the fence
// as it was.
func (s *Server) stale(term uint64, key nvrha.ServerID, e nvrha.Epoch) error {
	return s.fence.Check(term, key, e)
}

// admit records term and e once every check has passed. It cannot fail: the
// fence changes only under s.mu, which the caller has held since stale.
func (s *Server) admit(term uint64, key nvrha.ServerID, e nvrha.Epoch) {
	if err := s.fence.AdmitOrder(term, key, e); err != nil {
		panic(err)
	}
}
