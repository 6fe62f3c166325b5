package simulator

import (
	"context"
	"slices"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
)

// store is the center's durable store: it keeps a deep copy of the last
// State saved, or round-trips it through JSON (failover.MemoryStore); or,
// for a Machine that hands Changes, the State they build (see apply).
type store struct {
	json  bool
	mem   failover.MemoryStore
	last  *failover.State
	saves int
	// rep holds the State the Changes build; nil when whole States are
	// saved.
	rep *failover.Replica
}

func (s *store) save(st failover.State) error {
	s.saves++
	s.rep = nil
	if s.json {
		if err := s.mem.Save(context.Background(), st); err != nil {
			return err
		}
		got, err := s.mem.Load(context.Background())
		if err != nil {
			return err
		}
		s.last = &got
		return nil
	}
	c := cloneState(st, s.last)
	s.last = &c
	return nil
}

func (s *store) load() (failover.State, error) {
	if s.last == nil {
		return failover.State{}, failover.ErrNoState
	}
	return cloneState(*s.last, nil), nil
}

// cloneState returns a deep copy of st. A camera's intervals equal to
// its intervals in base (the State stored before, never modified) are
// shared with base rather than copied: the ledger is most of a State and
// most of it is unchanged from one save to the next (the ledger check then
// knows it extends the one before without comparing it again).
func cloneState(st failover.State, base *failover.State) failover.State {
	out := st
	out.Groups = make([]failover.GroupState, len(st.Groups))
	for i, g := range st.Groups {
		g.Members = slices.Clone(g.Members)
		for j := range g.Members {
			m := &g.Members[j]
			var was *failover.MemberState
			if base != nil && i < len(base.Groups) && j < len(base.Groups[i].Members) {
				was = &base.Groups[i].Members[j]
			}
			m.Facts = shareFacts(m.Facts, was)
			m.Failovers = slices.Clone(m.Failovers)
		}
		out.Groups[i] = g
	}
	out.Epochs = slices.Clone(st.Epochs)
	out.Takeovers = slices.Clone(st.Takeovers)
	out.Owed = slices.Clone(st.Owed)
	out.Ledger = make([]failover.CameraLedger, len(st.Ledger))
	var old []failover.CameraLedger
	if base != nil && inCameraOrder(base.Ledger) {
		old = base.Ledger
	}
	j := 0
	for i, cl := range st.Ledger {
		// Both in camera order (else j runs out and nothing is shared).
		for j < len(old) && old[j].Camera < cl.Camera {
			j++
		}
		if j < len(old) && old[j].Camera == cl.Camera && len(cl.Intervals) > 0 && slices.Equal(old[j].Intervals, cl.Intervals) {
			out.Ledger[i] = old[j]
			continue
		}
		out.Ledger[i] = failover.CameraLedger{Camera: cl.Camera, Intervals: slices.Clone(cl.Intervals)}
	}
	return out
}

// shareFacts is f.Clone(), but shares the camera and recording space lists
// of was (the same member in the State stored before) when they are equal:
// facts rarely change.
func shareFacts(f nvrha.Facts, was *failover.MemberState) nvrha.Facts {
	if was == nil || was.Facts.ID != f.ID {
		return f.Clone()
	}
	if len(f.Cameras) > 0 && slices.Equal(f.Cameras, was.Facts.Cameras) {
		f.Cameras = was.Facts.Cameras
	} else {
		f.Cameras = slices.Clone(f.Cameras)
	}
	if len(f.RecordingSpaces) > 0 && slices.Equal(f.RecordingSpaces, was.Facts.RecordingSpaces) {
		f.RecordingSpaces = was.Facts.RecordingSpaces
	} else {
		f.RecordingSpaces = slices.Clone(f.RecordingSpaces)
	}
	return f
}

// inCameraOrder reports whether a ledger is in strictly increasing camera
// order.
func inCameraOrder(l []failover.CameraLedger) bool {
	for i := 1; i < len(l); i++ {
		if l[i-1].Camera >= l[i].Camera {
			return false
		}
	}
	return true
}
