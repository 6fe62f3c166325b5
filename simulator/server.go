package simulator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

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

// The two streams of a server: its own cameras, and the cameras it
// covers (history.ServerTruth's Own and Cover).
const (
	footOwn   = 0
	footCover = 1
)

// Server is a simulated recording or standby server. It implements
// transport.Agent the way transport/agenttest's reference server does (the
// same refusals, the same fencing of epochs and center terms with a
// transport.Fence, configuration that survives a crash), and on top of that
// keeps the recording ground truth: which cameras' footage it actually
// writes at every instant.
//
// A Server belongs to its World and is driven from the World's single loop;
// its lock only honours the Agent contract.
type Server struct {
	w *World
	// t is the server's ground truth, which the observers read.
	t history.ServerTruth

	mu       sync.Mutex
	fence    transport.Fence
	pauseGen uint64
	inbox    []*message
	// deferred holds replies to takeover and resume orders that wait for
	// footage (ServerConfig.AckWhenRecording), by footage kind.
	deferred [2][]*message
	// answers are its last answers by command kind, which a replaying
	// agent delivers again (hostile.go); absurd counts the absurd answers
	// an absurd agent gave, which vary with it.
	answers [failover.CmdResume + 1]answer
	absurd  uint64
}

var _ transport.Agent = (*Server)(nil)

func newServer(w *World, idx int, spec ServerSpec, role failover.Role) *Server {
	s := &Server{w: w, t: history.ServerTruth{Index: idx, ID: spec.ID, Role: role, Spec: spec}}
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
	s.t.Facts = f
	return s
}

func cameraID(server nvrha.ServerID, i int) nvrha.CameraID { return history.CameraID(server, i) }

// ID returns the server's ID.
func (s *Server) ID() nvrha.ServerID { return s.t.ID }

// Facts returns a copy of the server's facts as they are now (ground
// truth, which the center learns through its inventory).
func (s *Server) Facts() nvrha.Facts { return s.t.Facts.Clone() }

// Covering returns the recording server whose cameras the server is
// configured to record and the epoch of that order, or "".
func (s *Server) Covering() (nvrha.ServerID, nvrha.Epoch) { return s.t.Covering, s.t.CoverEpoch }

// RecordsOwn reports whether the server's own footage flows now.
func (s *Server) RecordsOwn() bool { return s.t.Own.On }

// RecordsCover reports whether footage of the covered cameras flows now.
func (s *Server) RecordsCover() bool { return s.t.Cover.On }

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
	key := s.t.ID
	if s.t.Covering != "" {
		key = s.t.Covering
	}
	return transport.ProbeReport{
		Server:                 s.t.ID,
		Healthy:                !s.t.Abnormal,
		Recording:              s.t.Own.On,
		Covering:               s.t.Covering,
		Epoch:                  s.fence.Newest(key),
		HasEmptyRecordingSpace: s.t.Facts.HasEmptyRecordingSpace(),
	}, nil
}

// Inventory returns the server's facts.
func (s *Server) Inventory(ctx context.Context) (nvrha.Facts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reachable(ctx); err != nil {
		return nvrha.Facts{}, err
	}
	return s.t.Facts.Clone(), nil
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
	if o.Recording == s.t.ID {
		return fmt.Errorf("%w: %s cannot take over itself", transport.ErrInvalidOrder, s.t.ID)
	}
	if err := s.stale(o.Term, o.Recording, o.Epoch); err != nil {
		return err
	}
	if s.t.Covering != o.Recording {
		switch {
		case s.t.Covering != "":
			return fmt.Errorf("%w: %s covers %s, refused takeover of %s", ErrBusy, s.t.ID, s.t.Covering, o.Recording)
		case !s.t.Facts.HasEmptyRecordingSpace():
			return fmt.Errorf("%w: %s refused takeover of %s", ErrNoEmptyRecordingSpace, s.t.ID, o.Recording)
		case s.t.Abnormal:
			return fmt.Errorf("%w: %s refused takeover of %s", ErrUnhealthy, s.t.ID, o.Recording)
		case len(o.Cameras) > s.t.Facts.LicenseChannels:
			return fmt.Errorf("%w: %s has %d for %d cameras of %s", ErrNotEnoughLicense, s.t.ID,
				s.t.Facts.LicenseChannels, len(o.Cameras), o.Recording)
		}
	}
	s.admit(o.Term, o.Recording, o.Epoch)
	if s.t.Covering == o.Recording && !slices.Equal(s.t.CoverCameras, o.Cameras) {
		// A re-issue with another camera list: restart the stream.
		s.t.Covering = ""
		s.update()
	}
	s.t.Covering = o.Recording
	s.t.CoverEpoch = o.Epoch
	s.t.CoverCameras = slices.Clone(o.Cameras)
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
	if err := s.stale(o.Term, o.Recording, o.Epoch); err != nil {
		return err
	}
	s.admit(o.Term, o.Recording, o.Epoch)
	if s.t.Covering == o.Recording {
		s.t.Covering, s.t.CoverCameras, s.t.CoverEpoch = "", nil, 0
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
	if err := s.stale(o.Term, s.t.ID, o.Epoch); err != nil {
		return err
	}
	s.admit(o.Term, s.t.ID, o.Epoch)
	s.t.StoodDown = true
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
	if err := s.stale(o.Term, s.t.ID, o.Epoch); err != nil {
		return err
	}
	if s.t.StoodDown && s.t.Abnormal {
		return fmt.Errorf("%w: %s refused to resume", ErrUnhealthy, s.t.ID)
	}
	s.admit(o.Term, s.t.ID, o.Epoch)
	s.t.StoodDown = false
	s.update()
	return nil
}

func (s *Server) reachable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.t.Crashed {
		return fmt.Errorf("simulator: %s crashed: %w", s.t.ID, transport.ErrUnreachable)
	}
	return nil
}

// stale refuses an order of an older center term than one the server
// accepted (a *transport.StaleTermError), or with an older epoch for key
// (a *transport.StaleEpochError), as transport/agenttest's server does.
func (s *Server) stale(term uint64, key nvrha.ServerID, e nvrha.Epoch) error {
	return s.fence.Check(term, key, e)
}

// admit records an order's term and epoch once every check has passed.
func (s *Server) admit(term uint64, key nvrha.ServerID, e nvrha.Epoch) {
	if err := s.fence.AdmitOrder(term, key, e); err != nil {
		panic(err) // checked by stale under the same lock
	}
}

// Term returns the newest center term the server has accepted, crashed or
// not.
func (s *Server) Term() uint64 { return s.fence.Term() }

// update brings the footage in line with the server's state: a stream that
// should flow and does not is started (it flows StreamStart later), one that
// should not stops now.
func (s *Server) update() {
	records := !s.t.Crashed && (!s.t.Abnormal || s.t.Degraded)
	wantOwn := records && !s.t.StoodDown && len(s.t.OwnCams) > 0
	s.setFootage(footOwn, wantOwn)
	wantCover := records && s.t.Covering != ""
	s.setFootage(footCover, wantCover)
}

func (s *Server) setFootage(kind int, want bool) {
	f := &s.t.Own
	if kind == footCover {
		f = &s.t.Cover
	}
	switch {
	case want && !f.On && !f.Pending:
		f.Pending = true
		f.Gen++
		s.w.schedule(event{at: s.w.now + s.w.cfg.Servers.StreamStart, kind: evStream, a: s.t.Index*2 + kind, gen: f.Gen})
	case !want && (f.On || f.Pending):
		if f.On {
			s.w.footage(s, kind, f.Cams, false)
		}
		f.On, f.Pending = false, false
		f.Cams, f.Of = nil, ""
		f.Gen++
		s.deferred[kind] = nil
	}
}

// streamStarts makes pending footage flow, if it is still wanted.
func (s *Server) streamStarts(kind int, gen uint64) {
	f := &s.t.Own
	if kind == footCover {
		f = &s.t.Cover
	}
	if !f.Pending || f.Gen != gen {
		return
	}
	f.Pending, f.On = false, true
	if kind == footOwn {
		f.Cams = s.t.OwnCams
	} else {
		f.Cams, f.Of = s.w.cameraIndexes(s.t.CoverCameras), s.t.Covering
	}
	s.w.footage(s, kind, f.Cams, true)
	for _, m := range s.deferred[kind] {
		s.w.reply(s, m)
	}
	s.deferred[kind] = nil
}

// stateFor is what a stale order for key must leave unchanged. One
// center sends no term: the server's is 0, and not asked for.
func (s *Server) stateFor(key nvrha.ServerID) history.ServerState {
	var term uint64
	if s.w.c.cl != nil {
		term = s.fence.Term()
	}
	return history.ServerState{Term: term, StoodDown: s.t.StoodDown, Covering: s.t.Covering, CoverEpoch: s.t.CoverEpoch,
		Newest: s.fence.Newest(key), Own: s.t.Own.On || s.t.Own.Pending, Cover: s.t.Cover.On || s.t.Cover.Pending,
		CoverOn: s.t.Cover.On}
}

// call makes the Agent call a command asks for, synchronously, as the
// server receives it, with the center term the order carries, and returns
// the Result the center will step. A hostile server (hostile.go) may
// answer without the call, or distort the answer.
func (s *Server) call(c failover.Command, term uint64) failover.Result {
	if s.t.Hostile != "" {
		if r, ok := s.hostileAnswer(&c); ok {
			return r
		}
	}
	ctx := context.Background()
	r := failover.Result{ID: c.ID}
	switch c.Kind {
	case failover.CmdProbe:
		r.Report, r.Err = s.Probe(ctx)
	case failover.CmdInventory:
		r.Facts, r.Err = s.Inventory(ctx)
	case failover.CmdTakeover:
		o := c.TakeoverOrder()
		o.Term = term
		r.Err = s.Takeover(ctx, o)
	case failover.CmdRelease:
		o := c.ReleaseOrder()
		o.Term = term
		r.Err = s.Release(ctx, o)
	case failover.CmdStandDown:
		o := c.StandDownOrder()
		o.Term = term
		r.Err = s.StandDown(ctx, o)
	case failover.CmdResume:
		o := c.ResumeOrder()
		o.Term = term
		r.Err = s.Resume(ctx, o)
	default:
		r.Err = transport.ErrInvalidOrder
	}
	if s.t.Hostile != "" {
		s.distort(&c, &r)
	}
	s.remember(&c, r)
	return r
}

// setEmptySpace fills every recording space, or empties the last one.
func (s *Server) setEmptySpace(empty bool) {
	sp := s.t.Facts.RecordingSpaces
	if !empty {
		for i := range sp {
			sp[i].Empty = false
		}
		return
	}
	if s.t.Facts.HasEmptyRecordingSpace() {
		return
	}
	if len(sp) == 0 {
		s.t.Facts.RecordingSpaces = append(sp, nvrha.RecordingSpace{Name: "vol1", CapacityBytes: 16 << 40, Empty: true})
		return
	}
	sp[len(sp)-1].Empty = true
}
