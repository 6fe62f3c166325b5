package simulator

import (
	"errors"
	"fmt"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
	"github.com/nvrha/nvrha/transport"
)

// ErrBrokenAgent is the refusal of a server whose agent refuses every
// takeover (history.HostileRefuseTakeover).
var ErrBrokenAgent = errors.New("simulator: broken agent")

// defaultLateBy is how late a "late" server answers when its action says
// nothing: minutes, far past any command's deadline.
const defaultLateBy = 2 * time.Minute

// answer is the last answer a server gave to one kind of command, which a
// HostileReplay server delivers again.
type answer struct {
	ok bool
	r  failover.Result
}

// hostileAnswer answers c the way a broken or hostile agent does, without
// carrying it out, or reports false when the server's hostility leaves c
// to the sound agent. Nothing it answers changes the server: a refusal
// (stale or not) leaves it as it was, and a dropped takeover records
// nothing.
func (s *Server) hostileAnswer(c *failover.Command) (failover.Result, bool) {
	r := failover.Result{ID: c.ID}
	switch s.t.Hostile {
	case history.HostileReplay:
		if a := s.answers[c.Kind]; a.ok {
			r = a.r
			r.ID = c.ID
			return r, true
		}
	case history.HostileAbsurdEpoch, history.HostileLeapEpoch:
		if c.Kind == failover.CmdProbe || c.Kind == failover.CmdInventory {
			return r, false
		}
		key := c.Recording
		if c.Kind == failover.CmdStandDown || c.Kind == failover.CmdResume {
			key = s.t.ID
		}
		r.Err = &transport.StaleEpochError{Key: key, Got: c.Epoch, Newest: s.absurdEpoch(c.Epoch)}
		return r, true
	case history.HostileRefuseTakeover:
		if c.Kind == failover.CmdTakeover {
			r.Err = fmt.Errorf("%w: %s refuses every takeover (of %s)", ErrBrokenAgent, s.t.ID, c.Recording)
			return r, true
		}
	case history.HostileFakeTakeover:
		if c.Kind == failover.CmdTakeover {
			if err := c.TakeoverOrder().Validate(); err != nil {
				r.Err = err
			}
			return r, true // acknowledged, and dropped
		}
	}
	return r, false
}

// absurdEpoch is the newest epoch an absurd-epoch agent claims for an
// order of epoch got: in turn the end of the range, past failover.MaxEpoch,
// and four times failover.MaxEpochJump ahead (beyond any jump a Machine
// believes, whatever it issued since). A leap-epoch agent claims one
// just within MaxEpochJump ahead, which a Machine believes: it moves its
// epoch a long way forward.
func (s *Server) absurdEpoch(got nvrha.Epoch) nvrha.Epoch {
	add := func(d nvrha.Epoch) nvrha.Epoch {
		if got > ^nvrha.Epoch(0)-d {
			return ^nvrha.Epoch(0)
		}
		return got + d
	}
	if s.t.Hostile == history.HostileLeapEpoch {
		return add(failover.MaxEpochJump)
	}
	s.absurd++
	switch s.absurd % 3 {
	case 0:
		return ^nvrha.Epoch(0)
	case 1:
		return failover.MaxEpoch + nvrha.Epoch(s.absurd)
	}
	return add(4 * failover.MaxEpochJump)
}

// distort turns the answer of the sound agent into an absurd one.
func (s *Server) distort(c *failover.Command, r *failover.Result) {
	if r.Err != nil {
		return
	}
	switch {
	case s.t.Hostile == history.HostileAbsurdEpoch && c.Kind == failover.CmdProbe:
		r.Report.Epoch = ^nvrha.Epoch(0)
	case s.t.Hostile == history.HostileAbsurdReport && c.Kind == failover.CmdProbe:
		r.Report.Covering = s.notCovered()
	case s.t.Hostile == history.HostileAbsurdReport && c.Kind == failover.CmdInventory:
		s.absurd++
		switch s.absurd % 3 {
		case 0:
			r.Facts.LicenseChannels = -1
		case 1:
			r.Facts.LicenseChannels = 4 * nvrha.MaxLicenseChannels
		default:
			if len(r.Facts.Cameras) == 0 {
				r.Facts.LicenseChannels = nvrha.MaxLicenseChannels + 1
				break
			}
			r.Facts.Cameras = append(r.Facts.Cameras[:len(r.Facts.Cameras):len(r.Facts.Cameras)], r.Facts.Cameras[0])
		}
	}
}

// notCovered names a recording server of the server's group that it does
// not cover (nor is), for an absurd probe report.
func (s *Server) notCovered() nvrha.ServerID {
	for _, i := range s.t.Group.Servers {
		o := s.w.servers[i]
		if o.t.Role == failover.RoleRecording && o.t.ID != s.t.ID && o.t.ID != s.t.Covering {
			return o.t.ID
		}
	}
	return "rec-0"
}

// remember keeps the answer to c for a replaying agent. A replaying
// agent keeps the answers from before its hostility; it learns one only
// for a kind of command it had never answered.
func (s *Server) remember(c *failover.Command, r failover.Result) {
	if int(c.Kind) < len(s.answers) {
		s.answers[c.Kind] = answer{ok: true, r: r}
	}
}

// setHostile makes server i's agent misbehave as a says (broken), or
// sound again (mend: a.Mode is empty).
func (w *World) setHostile(i int, a *Action) {
	s := w.servers[i]
	if a.Mode == "" {
		if s.t.Hostile != "" {
			s.t.Hostile, s.t.LateBy = "", 0
			w.emitFault(history.FaultEnded, i, "")
		}
		return
	}
	h, err := history.ParseHostility(a.Mode)
	if err != nil {
		w.traceLine(err.Error())
		return
	}
	was := s.t.Hostile
	s.t.Hostile, s.t.HostileSince, s.t.LateBy = h, w.now, 0
	if h == history.HostileLate {
		s.t.LateBy = a.Delay
		if s.t.LateBy <= 0 {
			s.t.LateBy = defaultLateBy
		}
	}
	if was == "" {
		w.emitFault(history.FaultStarted, i, FaultHostilePeer)
	}
}
