package report

import (
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/failover/assign"
	"github.com/nvrha/nvrha/simulator/history"
)

// Scarcity measures how well the standbys were spent while failed
// recording servers outnumbered the standbys that could cover them, from
// the ground truth at every tick. At each such instant the most camera
// footage any choice could save is a cover of the failed servers by the
// live standbys that fit them (license channels, an empty recording
// space, the same protected group) recording the most cameras, which
// assign.Assign finds; Covered is what the standbys in fact recorded of
// those servers' cameras then.
type Scarcity struct {
	// Time is how long failures outnumbered the standbys that fit.
	Time time.Duration `json:"time"`
	// Optimal and Covered are camera-time over Time: the most the best
	// choice of standbys could record, and what was recorded.
	Optimal time.Duration `json:"optimal"`
	Covered time.Duration `json:"covered"`
}

// Efficiency is Covered ÷ Optimal, 1 when there was no scarcity.
func (s Scarcity) Efficiency() float64 {
	if s.Optimal <= 0 {
		return 1
	}
	return float64(s.Covered) / float64(s.Optimal)
}

// scarcity is the measure's working state.
type scarcity struct {
	Scarcity
	last    time.Duration
	recs    []assign.Recording
	stbs    []assign.Standby
	pairs   []assign.Pair
	scratch assign.Scratch
	byRec   map[nvrha.ServerID]int
	// failed marks, by group index, the groups with a failed recording
	// server whose footage stopped, at one tick.
	failed []bool
}

// scarcityTick measures the stretch since the previous tick by the state
// of the world now: the state a tick sees held, to within a tick, since
// the previous one.
func (m *Measures) scarcityTick() {
	sc := &m.scarce
	dt := m.now - sc.last
	sc.last = m.now
	if dt <= 0 {
		return
	}
	// Only a group with a failed recording server whose own footage
	// stopped can be short of standbys: one walk over the servers finds
	// them, and the others' groups are not walked (1,024 servers in 16
	// groups, at every tick).
	groups := m.v.Groups()
	if cap(sc.failed) < len(groups) {
		sc.failed = make([]bool, len(groups))
	}
	sc.failed = sc.failed[:len(groups)]
	clear(sc.failed)
	found := false
	for _, s := range m.srv {
		if s.Member && s.Role == failover.RoleRecording && s.Down() && !s.Own.On && len(s.OwnCams) > 0 {
			for gi, g := range groups {
				if g == s.Group {
					sc.failed[gi] = true
					found = true
				}
			}
		}
	}
	if !found {
		return
	}
	for gi, g := range groups {
		if !g.Exists || !g.Protection || !sc.failed[gi] {
			continue
		}
		m.scarcityOfGroup(g, dt)
	}
}

func (m *Measures) scarcityOfGroup(g *history.GroupTruth, dt time.Duration) {
	sc := &m.scarce
	sc.recs, sc.stbs = sc.recs[:0], sc.stbs[:0]
	need, covered := 0, 0
	// A server is only ever in the group it was built in (GroupTruth's
	// Servers, in the world's order), so the group's servers are walked
	// rather than the world's.
	for _, i := range g.Servers {
		s := m.srv[i]
		if !s.Member || s.Group != g {
			continue
		}
		switch {
		case s.Role == failover.RoleRecording && s.Down() && !s.Own.On && len(s.OwnCams) > 0:
			sc.recs = append(sc.recs, assign.Recording{ID: s.ID, Channels: s.Facts.LicenseChannels, Cameras: len(s.OwnCams)})
			need += len(s.OwnCams)
			for _, c := range s.OwnCams {
				if m.recorders[c] > 0 {
					covered++
				}
			}
		case s.Role == failover.RoleStandby && !s.Down() && s.Facts.HasEmptyRecordingSpace():
			sc.stbs = append(sc.stbs, assign.Standby{ID: s.ID, Channels: s.Facts.LicenseChannels})
		}
	}
	if len(sc.recs) == 0 {
		return
	}
	pairs, err := assign.AssignInto(sc.pairs[:0], &sc.scratch, sc.recs, sc.stbs)
	sc.pairs = pairs
	if err != nil {
		return // a world of unique IDs and counts never gets here
	}
	if sc.byRec == nil {
		sc.byRec = map[nvrha.ServerID]int{}
	}
	clear(sc.byRec)
	for _, r := range sc.recs {
		sc.byRec[r.ID] = r.Cameras
	}
	opt := 0
	for _, p := range pairs {
		opt += sc.byRec[p.Recording]
	}
	if opt >= need {
		return // every failed server can be covered: no scarcity
	}
	sc.Time += dt
	sc.Optimal += time.Duration(opt) * dt
	sc.Covered += time.Duration(min(covered, opt)) * dt
}
