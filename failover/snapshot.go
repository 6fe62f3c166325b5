package failover

import (
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/eligibility"
	"github.com/nvrha/nvrha/status"
)

// Snapshot is a copy of every group, member and status, for a UI or a log. It
// shares nothing the Machine changes; it only remembers which Machine's
// UpdateSnapshot filled it.
type Snapshot struct {
	Groups []GroupSnapshot `json:"groups"`
	// by is the Machine whose UpdateSnapshot filled the snapshot last, nil
	// when none did.
	by *Machine
}

// GroupSnapshot is one Failover Group.
type GroupSnapshot struct {
	ID   GroupID `json:"id"`
	Name string  `json:"name"`
	// Default marks "Failover Group 1", which cannot be deleted.
	Default bool `json:"default"`
	// Protection is the group's Failover Protection switch.
	Protection bool `json:"protection"`
	// Capacity is how many servers the group may hold on this center.
	Capacity int              `json:"capacity"`
	Members  []MemberSnapshot `json:"members"`
	// Generation is the Machine's Generation when what this group shows
	// last changed, or may have; never 0. Two snapshots of a group by one
	// Machine with the same Generation show it the same, so a UI redraws,
	// and a monitor compares, only the groups whose Generation moved. A
	// Machine restored from a State counts afresh, as its Generation does.
	Generation uint64 `json:"generation"`
}

// MemberSnapshot is one server in a group and its Failover Status.
type MemberSnapshot struct {
	ID              nvrha.ServerID `json:"id"`
	Name            string         `json:"name"`
	Role            Role           `json:"role"`
	Enabled         bool           `json:"enabled"`
	Health          nvrha.Health   `json:"health"`
	LicenseChannels int            `json:"license_channels"`
	Cameras         int            `json:"cameras"`
	// EmptyRecordingSpace reports an empty recording space, from the latest
	// probe or, before one, from the facts.
	EmptyRecordingSpace bool `json:"empty_recording_space"`
	// Recording is the status of a recording server; zero for a standby.
	Recording status.Recording `json:"recording_status,omitzero"`
	// Standby is the status of a standby server; zero for a recording server.
	Standby status.Standby `json:"standby_status,omitzero"`
	// Peer is the other server of a takeover in progress: the standby that
	// covers a recording server, or the recording server a standby covers.
	Peer nvrha.ServerID `json:"peer,omitempty"`
	// RetryAt is, for a standby that failed a takeover while it answered
	// ("Abnormal, protection failed"), when it may be ordered to take over
	// again; zero otherwise.
	RetryAt time.Time `json:"retry_at,omitzero"`
	// Priority is a recording server's priority when failures outnumber
	// standbys (SetServerPriority); 0 by default.
	Priority int `json:"priority,omitempty"`
}

// Status returns the label of the member's Failover Status, whatever its
// role; FailoverStatus returns the status itself.
func (s MemberSnapshot) Status() string { return s.FailoverStatus().Label() }

// FailoverStatus returns the member's Failover Status, whatever its role:
// its Recording status for a recording server, its Standby status for a
// standby.
func (s MemberSnapshot) FailoverStatus() status.Status {
	if s.Role == RoleStandby {
		return s.Standby
	}
	return s.Recording
}

// Member returns the snapshot of one server, and whether it is in a group,
// without building the snapshot of the whole center.
func (m *Machine) Member(id nvrha.ServerID) (MemberSnapshot, bool) {
	mem, ok := m.servers[id]
	if !ok {
		return MemberSnapshot{}, false
	}
	return m.memberSnapshot(mem, freeStandbyChannels(mem.group)), true
}

// Member returns the snapshot of server id, and whether it is in a group.
func (s Snapshot) Member(id nvrha.ServerID) (MemberSnapshot, bool) {
	for _, g := range s.Groups {
		for _, m := range g.Members {
			if m.ID == id {
				return m, true
			}
		}
	}
	return MemberSnapshot{}, false
}

// Group returns the snapshot of group id, and whether it exists.
func (s Snapshot) Group(id GroupID) (GroupSnapshot, bool) {
	for _, g := range s.Groups {
		if g.ID == id {
			return g, true
		}
	}
	return GroupSnapshot{}, false
}

// Generation returns a number that moves on whenever what the Machine shows
// may have changed: its Snapshot (health and statuses included), its State
// (all but NextCommandID, which every command sent moves on), its epochs and
// its ledger. Two calls that return the same number bracket no change of
// any of them, so a caller that looks often can skip the work when it has
// not moved: a UI that redraws its table of statuses every second, a
// monitor that compares snapshots, a checker that derives statuses again.
// On a quiet center, where every probe is answered healthy, it stands
// still. It only grows during a Machine's life and means nothing across
// Machines: one restored from a State counts afresh.
func (m *Machine) Generation() uint64 { return m.stateGen + m.viewGen + m.ledger.gen }

// Snapshot returns every group in ID order, each with its members in join
// order and their current statuses.
func (m *Machine) Snapshot() Snapshot {
	var s Snapshot
	m.SnapshotInto(&s)
	return s
}

// SnapshotInto is Snapshot written into s, reusing the memory of its groups
// and members: a caller that looks often (a UI refreshing every second, a
// simulator checking after every event) allocates nothing once s has grown
// to the center's size. Whatever s held is overwritten, so a caller keeps
// no reference into s across calls.
func (m *Machine) SnapshotInto(s *Snapshot) {
	m.fillSnapshot(s, false)
}

// UpdateSnapshot is SnapshotInto for a caller that passes the same s again
// and again and changes nothing in it: a group of s that this Machine
// wrote and that has not changed since (its Generation says so) is kept as
// it is, so an update costs the groups that changed, not the center. At
// 1,024 servers in 16 groups, a change to one server copies 64 of them.
//
// s remembers which Machine filled it. A snapshot filled otherwise (by
// SnapshotInto, by another Machine, by hand) has every group written
// afresh; but a change the caller makes to s between two calls is not
// seen, and stays: a caller that changes s must use SnapshotInto.
func (m *Machine) UpdateSnapshot(s *Snapshot) {
	m.fillSnapshot(s, true)
}

// fillSnapshot writes m's snapshot into s; for an update, it keeps each
// group of s that m's UpdateSnapshot wrote at the generation the group
// still has.
func (m *Machine) fillSnapshot(s *Snapshot, update bool) {
	reuse := update && s.by == m
	old := len(s.Groups)
	if s.Groups == nil {
		s.Groups = make([]GroupSnapshot, 0, len(m.groups))
	}
	s.Groups = s.Groups[:0]
	s.by = nil
	if update {
		s.by = m
	}
	capacity := eligibility.MaxServersPerGroup(m.cfg.Platform)
	for _, g := range m.groups {
		n := len(s.Groups)
		if reuse && n < old {
			// Groups keep their order, so an unchanged group is where it
			// was unless a group before it was deleted.
			if prev := &s.Groups[:n+1][n]; prev.ID == g.id && prev.Generation == g.shown {
				s.Groups = s.Groups[:n+1]
				continue
			}
		}
		var members []MemberSnapshot
		if n < cap(s.Groups) {
			members = s.Groups[:n+1][n].Members[:0]
		}
		if members == nil {
			members = make([]MemberSnapshot, 0, len(g.members))
		}
		free := freeStandbyChannels(g)
		for _, mem := range g.members {
			members = append(members, m.memberSnapshot(mem, free))
		}
		s.Groups = append(s.Groups, GroupSnapshot{
			ID:         g.id,
			Name:       g.name,
			Default:    g.id == DefaultGroupID,
			Protection: g.protection,
			Capacity:   capacity,
			Members:    members,
			Generation: g.shown,
		})
	}
}

// recordingStatus derives r's status; free is freeStandbyChannels of its
// group.
func recordingStatus(r *member, free int) status.Recording {
	return status.OfRecording(status.RecordingFacts{
		Enabled:          r.active(),
		Functional:       r.health.Functional(),
		TakenOver:        r.coveredBy() != nil && r.tk.phase != PhaseStarting,
		StandbyAvailable: standbyAvailable(r, free),
	})
}

func standbyStatus(s *member) status.Standby {
	return status.OfStandby(status.StandbyFacts{
		Enabled:           s.active(),
		Functional:        s.health.Functional(),
		TakingOver:        s.covering() != nil && s.tk.phase != PhaseStarting,
		HasRecordingSpace: s.hasSpace(),
		TakeoverFailed:    s.takeoverFailed,
	})
}

// freeStandbyChannels returns the most license channels among the standbys
// of g that could take a server over now (ready and free), or -1 if none
// can. Statuses are derived for a whole group at once, so the standbys are
// walked once per group, not once per recording server.
func freeStandbyChannels(g *group) int {
	best := -1
	for _, s := range g.members {
		if s.role == RoleStandby && s.tk == nil && s.ready() {
			best = max(best, s.facts.LicenseChannels)
		}
	}
	return best
}

// standbyAvailable reports whether some standby of r's group could take r
// over now (ready, free and with enough license channels) or already does;
// free is freeStandbyChannels of the group. The license rule
// (eligibility.CanCover) only asks for enough channels, so the free standby
// with the most channels covers whatever any free standby covers.
func standbyAvailable(r *member, free int) bool {
	if s := r.coveredBy(); s != nil && (r.tk.phase != PhaseStarting || s.ready() && eligibility.CanCover(s.facts, r.facts)) {
		// Covered, or being covered by a standby fit to do it: ready, and
		// with the channels the server has now (a license may have grown
		// since the takeover was ordered).
		return true
	}
	// eligibility.CanCover of a standby with free channels, compared
	// without making it Facts: statuses are derived for every member at
	// every snapshot, and zeroing a Facts each time was most of the cost.
	return free >= 0 && free >= r.facts.LicenseChannels
}

// refreshStatuses publishes a StatusChanged event for every member whose
// status differs from the last one published.
func (m *Machine) refreshStatuses() {
	if !m.statusDirty {
		return
	}
	m.statusDirty = false
	for _, g := range m.groups {
		if !g.statusDirty {
			continue
		}
		g.statusDirty = false
		free := freeStandbyChannels(g)
		for _, mem := range g.members {
			var from, to string
			if mem.role == RoleRecording {
				st := recordingStatus(mem, free)
				if st == mem.lastRec {
					continue
				}
				from, to = mem.lastRec.Label(), st.Label()
				mem.lastRec = st
			} else {
				st := standbyStatus(mem)
				if st == mem.lastSb {
					continue
				}
				from, to = mem.lastSb.Label(), st.Label()
				mem.lastSb = st
			}
			m.emit(Event{Kind: EventStatusChanged, Group: g.id, Server: mem.facts.ID, From: from, To: to})
		}
	}
}

// memberSnapshot is one member's snapshot; free is freeStandbyChannels of
// its group.
func (m *Machine) memberSnapshot(mem *member, free int) MemberSnapshot {
	ms := MemberSnapshot{
		ID:                  mem.facts.ID,
		Name:                mem.facts.DisplayName(),
		Role:                mem.role,
		Enabled:             mem.enabled,
		Health:              mem.health,
		LicenseChannels:     mem.facts.LicenseChannels,
		Cameras:             len(mem.facts.Cameras),
		EmptyRecordingSpace: mem.hasSpace(),
		Priority:            int(mem.priority),
	}
	if peer := mem.inTakeover(); peer != nil {
		ms.Peer = peer.facts.ID
	}
	if mem.takeoverFailed {
		ms.RetryAt = mem.retryAt.time()
	}
	if mem.role == RoleStandby {
		ms.Standby = standbyStatus(mem)
	} else {
		ms.Recording = recordingStatus(mem, free)
	}
	return ms
}
