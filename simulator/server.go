package simulator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
	"github.com/nvrha/nvrha/transport"
)

// The refusals of a simulated Server besides stale epochs and malformed
// orders. They mirror transport/agenttest's.
var (
	ErrBusy                  = errors.New("simulator: standby already covers another recording server")
	ErrNoEmptyRecordingSpace = errors.New("simulator: no empty recording space")
	ErrUnhealthy             = errors.New("simulator: server is abnormal")
	ErrNotEnoughLicense      = errors.New("simulator: not enough license channels")
)

// footage is one stream of a server: its own cameras, or the cameras it
// covers. It flows (on) StreamStart after it was wanted (pending).
type footage struct {
	on, pending bool
	gen         uint64
	cams        []int          // camera indexes, as of when it started
	of          nvrha.ServerID // whose cameras a cover stream records
}

const (
	footOwn   = 0
	footCover = 1
)

// Server is a simulated recording or standby server. It implements
// transport.Agent the way transport/agenttest's reference server does (the
// same refusals, the same fencing with a transport.Fence, configuration that
// survives a crash), and on top of that keeps the recording ground truth:
// which cameras' footage it actually writes at every instant.
//
// A Server belongs to its World and is driven from the World's single loop;
// its lock only honours the Agent contract.
type Server struct {
	w    *World
	idx  int
	spec ServerSpec
	role failover.Role

	mu       sync.Mutex
	facts    nvrha.Facts
	fence    transport.Fence
	crashed  bool
	abnormal bool
	// degraded: abnormal, but the footage it records keeps flowing (a
	// failing disk that still takes writes) until it is stood down.
	degraded  bool
	paused    bool
	pauseGen  uint64
	inbox     []*message
	stoodDown bool
	covering  nvrha.ServerID
	coverIDs  []nvrha.CameraID
	cover     footage
	own       footage
	ownCams   []int
	// coverEpoch is the epoch of the takeover order the server covers under.
	coverEpoch nvrha.Epoch
	// deferred holds replies to takeover and resume orders that wait for
	// footage (ServerConfig.AckWhenRecording), by footage kind.
	deferred [2][]*message

	pauseUntil    time.Duration
	pausedLong    bool
	licenseBefore []int // license channels before each license change still in force

	// the world's record of its membership, from acknowledged admin
	// operations
	group   *groupModel
	member  bool
	enabled bool
	adminAt time.Duration

	// ground-truth bookkeeping for the invariants and measures
	disturbedAt time.Duration   // last disturbance other than a short pause
	failedSince time.Duration   // when it crashed or became abnormal
	factsAt     time.Duration   // last change of its facts (license, spaces)
	faultTimes  []time.Duration // when faults touched it
	lastBusy    time.Duration   // last time a standby covered or was a peer
	epochSeen   nvrha.Epoch     // newest epoch seen from the live Machine
	lastCovered time.Duration   // last time the Machine showed it taken over
	peeredAt    time.Duration   // last tick the Machine showed a standby on it
}

var _ transport.Agent = (*Server)(nil)

func newServer(w *World, idx int, spec ServerSpec, role failover.Role) *Server {
	s := &Server{w: w, idx: idx, spec: spec, role: role}
	f := nvrha.Facts{
		ID: spec.ID, Product: nvrha.ProductQVRSurveillance, AdvancedMode: true,
		LicenseChannels: spec.Channels,
	}
	if role == failover.RoleStandby {
		f.Product = nvrha.ProductQVRElite
	}
	spaces := spec.Spaces
	if spaces == 0 {
		spaces = 2
	}
	for i := range spaces {
		f.RecordingSpaces = append(f.RecordingSpaces, nvrha.RecordingSpace{
			Name:          "vol" + strconv.Itoa(i+1),
			CapacityBytes: 16 << 40,
			// A recording server records into its first space; any other
			// is empty. A standby's are all empty unless it has none.
			Empty: !spec.NoEmptySpace && (role == failover.RoleStandby || i > 0),
		})
	}
	if role == failover.RoleRecording {
		for i := 1; i <= spec.Cameras; i++ {
			f.Cameras = append(f.Cameras, cameraID(spec.ID, i))
		}
	}
	s.facts = f
	return s
}

func cameraID(server nvrha.ServerID, i int) nvrha.CameraID { return history.CameraID(server, i) }

// ID returns the server's ID.
func (s *Server) ID() nvrha.ServerID { return s.spec.ID }

// Facts returns a copy of the server's facts as they are now (ground
// truth, which the center learns through its inventory).
func (s *Server) Facts() nvrha.Facts { return s.facts.Clone() }

// Covering returns the recording server whose cameras the server is
// configured to record and the epoch of that order, or "".
func (s *Server) Covering() (nvrha.ServerID, nvrha.Epoch) { return s.covering, s.coverEpoch }

// RecordsOwn reports whether the server's own footage flows now.
func (s *Server) RecordsOwn() bool { return s.own.on }

// RecordsCover reports whether footage of the covered cameras flows now.
func (s *Server) RecordsCover() bool { return s.cover.on }

// Newest returns the newest epoch the server has accepted for key.
func (s *Server) Newest(key nvrha.ServerID) nvrha.Epoch { return s.fence.Newest(key) }

// Probe reports the server's state truthfully. Recording is true only
// while its own footage flows: after a resume or a restart it turns true
// StreamStart later, and a stood-down or failed server reports false (a
// degraded one reports true until it is stood down). Covering is the
// recording server whose takeover order it carries out, as the reference
// agent reports it, from the moment it accepts the order.
func (s *Server) Probe(ctx context.Context) (transport.ProbeReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reachable(ctx); err != nil {
		return transport.ProbeReport{}, err
	}
	key := s.spec.ID
	if s.covering != "" {
		key = s.covering
	}
	return transport.ProbeReport{
		Server:                 s.spec.ID,
		Healthy:                !s.abnormal,
		Recording:              s.own.on,
		Covering:               s.covering,
		Epoch:                  s.fence.Newest(key),
		HasEmptyRecordingSpace: s.facts.HasEmptyRecordingSpace(),
	}, nil
}

// Inventory returns the server's facts.
func (s *Server) Inventory(ctx context.Context) (nvrha.Facts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reachable(ctx); err != nil {
		return nvrha.Facts{}, err
	}
	return s.facts.Clone(), nil
}

// Takeover starts recording o.Cameras for o.Recording. A standby refuses
// while it covers another recording server, without an empty recording
// space, while abnormal, or when the cameras exceed its license channels.
func (s *Server) Takeover(ctx context.Context, o transport.TakeoverOrder) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reachable(ctx); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	if o.Recording == s.spec.ID {
		return fmt.Errorf("%w: %s cannot take over itself", transport.ErrInvalidOrder, s.spec.ID)
	}
	if err := s.stale(o.Recording, o.Epoch); err != nil {
		return err
	}
	if s.covering != o.Recording {
		switch {
		case s.covering != "":
			return fmt.Errorf("%w: %s covers %s, refused takeover of %s", ErrBusy, s.spec.ID, s.covering, o.Recording)
		case !s.facts.HasEmptyRecordingSpace():
			return fmt.Errorf("%w: %s refused takeover of %s", ErrNoEmptyRecordingSpace, s.spec.ID, o.Recording)
		case s.abnormal:
			return fmt.Errorf("%w: %s refused takeover of %s", ErrUnhealthy, s.spec.ID, o.Recording)
		case len(o.Cameras) > s.facts.LicenseChannels:
			return fmt.Errorf("%w: %s has %d for %d cameras of %s", ErrNotEnoughLicense, s.spec.ID,
				s.facts.LicenseChannels, len(o.Cameras), o.Recording)
		}
	}
	s.admit(o.Recording, o.Epoch)
	if s.covering == o.Recording && !slices.Equal(s.coverIDs, o.Cameras) {
		// A re-issue with another camera list: restart the stream.
		s.covering = ""
		s.update()
	}
	s.covering = o.Recording
	s.coverEpoch = o.Epoch
	s.coverIDs = slices.Clone(o.Cameras)
	s.update()
	return nil
}

// Release stops recording o.Recording's cameras, if it records them. It is
// accepted (its epoch recorded) even when there is nothing to stop.
func (s *Server) Release(ctx context.Context, o transport.ReleaseOrder) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reachable(ctx); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	if err := s.stale(o.Recording, o.Epoch); err != nil {
		return err
	}
	s.admit(o.Recording, o.Epoch)
	if s.covering == o.Recording {
		s.covering, s.coverIDs, s.coverEpoch = "", nil, 0
		s.update()
	}
	return nil
}

// StandDown stops recording the server's own cameras until a Resume.
func (s *Server) StandDown(ctx context.Context, o transport.StandDownOrder) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reachable(ctx); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	if err := s.stale(s.spec.ID, o.Epoch); err != nil {
		return err
	}
	s.admit(s.spec.ID, o.Epoch)
	s.stoodDown = true
	s.update()
	return nil
}

// Resume records the server's own cameras again; it refuses while abnormal
// if that would mean starting.
func (s *Server) Resume(ctx context.Context, o transport.ResumeOrder) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reachable(ctx); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	if err := s.stale(s.spec.ID, o.Epoch); err != nil {
		return err
	}
	if s.stoodDown && s.abnormal {
		return fmt.Errorf("%w: %s refused to resume", ErrUnhealthy, s.spec.ID)
	}
	s.admit(s.spec.ID, o.Epoch)
	s.stoodDown = false
	s.update()
	return nil
}

func (s *Server) reachable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.crashed {
		return fmt.Errorf("simulator: %s crashed: %w", s.spec.ID, transport.ErrUnreachable)
	}
	return nil
}

func (s *Server) stale(key nvrha.ServerID, e nvrha.Epoch) error {
	if newest := s.fence.Newest(key); e < newest {
		return &transport.StaleEpochError{Key: key, Got: e, Newest: newest}
	}
	return nil
}

func (s *Server) admit(key nvrha.ServerID, e nvrha.Epoch) {
	if err := s.fence.Admit(key, e); err != nil {
		panic(err) // checked by stale under the same lock
	}
}

// update brings the footage in line with the server's state: a stream that
// should flow and does not is started (it flows StreamStart later), one that
// should not stops now.
func (s *Server) update() {
	records := !s.crashed && (!s.abnormal || s.degraded)
	wantOwn := records && !s.stoodDown && len(s.ownCams) > 0
	s.setFootage(footOwn, wantOwn)
	wantCover := records && s.covering != ""
	s.setFootage(footCover, wantCover)
}

func (s *Server) setFootage(kind int, want bool) {
	f := &s.own
	if kind == footCover {
		f = &s.cover
	}
	switch {
	case want && !f.on && !f.pending:
		f.pending = true
		f.gen++
		s.w.schedule(event{at: s.w.now + s.w.cfg.Servers.StreamStart, kind: evStream, a: s.idx*2 + kind, gen: f.gen})
	case !want && (f.on || f.pending):
		if f.on {
			s.w.footage(s, kind, f.cams, false)
		}
		f.on, f.pending = false, false
		f.cams, f.of = nil, ""
		f.gen++
		s.deferred[kind] = nil
	}
}

// streamStarts makes pending footage flow, if it is still wanted.
func (s *Server) streamStarts(kind int, gen uint64) {
	f := &s.own
	if kind == footCover {
		f = &s.cover
	}
	if !f.pending || f.gen != gen {
		return
	}
	f.pending, f.on = false, true
	if kind == footOwn {
		f.cams = s.ownCams
	} else {
		f.cams, f.of = s.w.cameraIndexes(s.coverIDs), s.covering
	}
	s.w.footage(s, kind, f.cams, true)
	for _, m := range s.deferred[kind] {
		s.w.reply(s, m)
	}
	s.deferred[kind] = nil
}

// state is what a stale order must leave unchanged.
type serverState struct {
	stoodDown  bool
	covering   nvrha.ServerID
	coverEpoch nvrha.Epoch
	newest     nvrha.Epoch
	own, cover bool // footage flowing or about to
	coverOn    bool // covered footage flowing
}

func (s *Server) stateFor(key nvrha.ServerID) serverState {
	return serverState{s.stoodDown, s.covering, s.coverEpoch, s.fence.Newest(key), s.own.on || s.own.pending,
		s.cover.on || s.cover.pending, s.cover.on}
}

// call makes the Agent call a command asks for, synchronously, as the
// server receives it, and returns the Result the center will step.
func (s *Server) call(c failover.Command) failover.Result {
	ctx := context.Background()
	r := failover.Result{ID: c.ID}
	switch c.Kind {
	case failover.CmdProbe:
		r.Report, r.Err = s.Probe(ctx)
	case failover.CmdInventory:
		r.Facts, r.Err = s.Inventory(ctx)
	case failover.CmdTakeover:
		r.Err = s.Takeover(ctx, c.TakeoverOrder())
	case failover.CmdRelease:
		r.Err = s.Release(ctx, c.ReleaseOrder())
	case failover.CmdStandDown:
		r.Err = s.StandDown(ctx, c.StandDownOrder())
	case failover.CmdResume:
		r.Err = s.Resume(ctx, c.ResumeOrder())
	default:
		r.Err = transport.ErrInvalidOrder
	}
	return r
}

// recordsAllOwn reports whether every camera of a recording server is
// recorded by the server itself now.
func (s *Server) recordsAllOwn() bool { return s.own.on }

// down reports whether the server is in fact failed: crashed or abnormal.
func (s *Server) down() bool { return s.crashed || s.abnormal }

func (s *Server) hasEmptySpace() bool { return s.facts.HasEmptyRecordingSpace() }

// setEmptySpace fills every recording space, or empties the last one.
func (s *Server) setEmptySpace(empty bool) {
	sp := s.facts.RecordingSpaces
	if !empty {
		for i := range sp {
			sp[i].Empty = false
		}
		return
	}
	if s.facts.HasEmptyRecordingSpace() {
		return
	}
	if len(sp) == 0 {
		s.facts.RecordingSpaces = append(sp, nvrha.RecordingSpace{Name: "vol1", CapacityBytes: 16 << 40, Empty: true})
		return
	}
	sp[len(sp)-1].Empty = true
}
