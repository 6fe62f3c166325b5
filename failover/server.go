package failover

import (
	"errors"
	"fmt"
	"slices"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/eligibility"
)

// AddRecordingServers adds one or more recording servers to a group. It is
// all-or-nothing: if any server is ineligible, none is added and the error is
// a *RejectedError listing every rejected server with all its reasons. New
// members are enabled; their health is unknown until the first probe.
func (m *Machine) AddRecordingServers(id GroupID, servers ...nvrha.Facts) error {
	return m.addServers(id, RoleRecording, servers)
}

// AddStandbyServers adds one or more standby servers to a group, all or
// nothing, like AddRecordingServers. A standby must have an empty recording
// space, an empty camera list, and at least as many license channels as every
// recording server of the group (see package eligibility).
func (m *Machine) AddStandbyServers(id GroupID, servers ...nvrha.Facts) error {
	return m.addServers(id, RoleStandby, servers)
}

func (m *Machine) addServers(id GroupID, role Role, servers []nvrha.Facts) error {
	g, err := m.group(id)
	if err != nil {
		return err
	}
	if len(servers) == 0 {
		return fmt.Errorf("%w: adding %s servers to %q", ErrEmptyBatch, role, g.name)
	}
	if err := checkDistinct(facts2ids(servers)); err != nil {
		return err
	}
	// The group's recording servers, in memory kept from one join to the
	// next: 1,024 servers join a center as it starts, each into a group
	// of 64.
	m.recFacts = g.appendFactsOf(m.recFacts[:0], RoleRecording)
	defer clear(m.recFacts)
	target := eligibility.Group{
		Name:             g.name,
		Platform:         m.cfg.Platform,
		RecordingServers: m.recFacts,
	}
	var rejected []Rejection
	for i, f := range servers {
		target.Members = len(g.members) + i
		c := eligibility.Candidate{Facts: f, CurrentGroup: m.groupNameOf(f.ID)}
		var reasons eligibility.Reasons
		if role == RoleRecording {
			reasons = m.cfg.Rules.CheckRecording(c, target)
		} else {
			reasons = m.cfg.Rules.CheckStandby(c, target)
		}
		if len(reasons) > 0 {
			rejected = append(rejected, Rejection{Server: f.ID, Reasons: reasons})
		}
	}
	if len(rejected) > 0 {
		return &RejectedError{Group: g.name, Role: role, Servers: rejected}
	}
	for _, f := range servers {
		mem := m.newMember(f, role, g, true)
		g.members = append(g.members, mem)
		m.servers[f.ID] = mem
		m.markMember(mem)
		m.adopt(mem)
	}
	m.markGroup(id)
	m.touch(g)
	m.settle()
	return nil
}

// RemoveRecordingServers removes one or more recording servers from a group,
// all or nothing. A server in the takeover process cannot be removed
// (*InTakeoverError): disable it first.
func (m *Machine) RemoveRecordingServers(id GroupID, servers ...nvrha.ServerID) error {
	return m.removeServers(id, RoleRecording, servers)
}

// RemoveStandbyServers removes one or more standby servers from a group, all
// or nothing. It needs an Approval from [VerifyFirstAdmin]. A standby in the
// takeover process cannot be removed (*InTakeoverError): disable it first.
func (m *Machine) RemoveStandbyServers(id GroupID, a Approval, servers ...nvrha.ServerID) error {
	if err := m.checkApproval(a, OpRemoveStandbyServers, "removing standby servers"); err != nil {
		return err
	}
	if err := m.removeServers(id, RoleStandby, servers); err != nil {
		return err
	}
	m.spend(a)
	return nil
}

func (m *Machine) removeServers(id GroupID, role Role, servers []nvrha.ServerID) error {
	g, err := m.group(id)
	if err != nil {
		return err
	}
	if len(servers) == 0 {
		return fmt.Errorf("%w: removing %s servers from %q", ErrEmptyBatch, role, g.name)
	}
	if err := checkDistinct(servers); err != nil {
		return err
	}
	for _, sid := range servers {
		mem, ok := m.servers[sid]
		if !ok || mem.group != g || mem.role != role {
			return fmt.Errorf("%w: %s is not a %s server of %q", ErrNotMember, sid, role, g.name)
		}
		if peer := mem.inTakeover(); peer != nil {
			return &InTakeoverError{Server: sid, Peer: peer.facts.ID}
		}
	}
	for _, sid := range servers {
		mem := m.servers[sid]
		g.members = remove(g.members, mem)
		m.forget(mem)
	}
	m.markGroup(id)
	m.touch(g)
	m.settle()
	return nil
}

// SetServerEnabled enables or disables a server in its group (the switch in
// the Action column). A disabled server shows "Disabled", is never taken over
// and never takes over; disabling a server in the takeover process ends that
// takeover (returned), after which the server can be removed.
func (m *Machine) SetServerEnabled(server nvrha.ServerID, enabled bool) ([]Takeover, error) {
	mem, err := m.member(server)
	if err != nil {
		return nil, err
	}
	if mem.enabled == enabled {
		return nil, nil
	}
	mem.enabled = enabled
	m.markMember(mem)
	var interrupted []Takeover
	if r := mem.takeoverRecording(); !enabled && r != nil {
		interrupted = append(interrupted, m.interrupt(r, "server "+string(server)+" disabled"))
	}
	if enabled {
		// A re-enabled server is judged afresh, not on silence from before
		// nor on takeovers it failed: the operator has looked at it.
		mem.det.Reset()
		if mem.retryAt != 0 {
			mem.takeoverFailed, mem.refusals, mem.retryAt = false, 0, 0
		}
	}
	m.touch(mem.group)
	m.settle()
	return interrupted, nil
}

// MaxPriority bounds a recording server's priority either way.
const MaxPriority = 1000

// ErrInvalidPriority is returned for a priority outside ±MaxPriority or set
// on a standby server.
var ErrInvalidPriority = errors.New("failover: invalid priority")

// SetServerPriority sets the priority of a recording server for the moments
// when its group has more failed servers than free standbys that fit them
// (Milestone calls the order a failover sequence). Servers of higher
// priority are covered first, then those with the most cameras at stake;
// the default is 0 for every server, so cameras decide. A running takeover
// is never undone for a priority: priorities decide who gets a standby
// that is free or reclaimed from a recovered server.
func (m *Machine) SetServerPriority(server nvrha.ServerID, priority int) error {
	mem, err := m.member(server)
	if err != nil {
		return err
	}
	switch {
	case mem.role != RoleRecording:
		return fmt.Errorf("%w: %s is a standby server", ErrInvalidPriority, server)
	case priority < -MaxPriority || priority > MaxPriority:
		return fmt.Errorf("%w: %d outside ±%d", ErrInvalidPriority, priority, MaxPriority)
	case int(mem.priority) == priority:
		return nil
	}
	mem.priority = int16(priority)
	m.markMember(mem)
	m.touch(mem.group)
	m.settle()
	return nil
}

// UpdateFacts replaces a member's facts with a newer inventory (a license
// change, a recording space filling up, cameras added). Eligibility was judged
// when the server joined; a change that breaks it shows in the statuses (a
// standby without a recording space shows "Warning"; a recording server that
// no standby fits shows "unprotected"), it does not remove the server.
func (m *Machine) UpdateFacts(f nvrha.Facts) error {
	mem, err := m.member(f.ID)
	if err != nil {
		return err
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrFactsChanged, err)
	}
	mem.facts = f.Clone()
	mem.spaceKnown = false
	m.markMember(mem)
	m.touch(mem.group)
	m.settle()
	return nil
}

// appendFactsOf appends the facts of g's members of role to dst.
func (g *group) appendFactsOf(dst []nvrha.Facts, role Role) []nvrha.Facts {
	for _, mem := range g.members {
		if mem.role == role {
			dst = append(dst, mem.facts)
		}
	}
	return dst
}

func (m *Machine) groupNameOf(id nvrha.ServerID) string {
	if mem, ok := m.servers[id]; ok {
		return mem.group.name
	}
	return ""
}

func facts2ids(fs []nvrha.Facts) []nvrha.ServerID {
	ids := make([]nvrha.ServerID, len(fs))
	for i, f := range fs {
		ids[i] = f.ID
	}
	return ids
}

func checkDistinct(ids []nvrha.ServerID) error {
	seen := make(map[nvrha.ServerID]struct{}, len(ids))
	for _, id := range ids {
		if _, dup := seen[id]; dup {
			return fmt.Errorf("%w: %s", ErrDuplicateServer, id)
		}
		seen[id] = struct{}{}
	}
	return nil
}

func remove(ms []*member, x *member) []*member {
	for i, m := range ms {
		if m == x {
			return append(ms[:i:i], ms[i+1:]...)
		}
	}
	return ms
}

// forget drops a member that leaves the center and the commands it awaits,
// except the orders it is owed: those stay, as orphans, until the server
// acknowledges them, whatever group it is in by then.
func (m *Machine) forget(mem *member) {
	for _, o := range []*op{&mem.probe, &mem.inventory, &mem.standDown} {
		m.drop(o)
	}
	if mem.fenceHeld {
		// A release held while it covered alone leaves with it, sent.
		m.unholdFence(mem)
	}
	if mem.stoodDown && !mem.resume.pending() {
		// It leaves stood down: it is owed a resume wherever it goes.
		m.orderResume(mem)
	}
	m.markMember(mem)
	m.markOwedOf(mem)
	for _, o := range []*op{&mem.fence, &mem.resume} {
		if o.pending() {
			orphan := &op{}
			*orphan = *o
			m.orphans = append(m.orphans, orphan)
			m.track(orphan)
			m.markOrphans()
		}
	}
	delete(m.servers, mem.facts.ID)
}

// adopt hands a rejoining server the orders it is still owed; its probes
// now show whether it let go of what it released (unverified).
func (m *Machine) adopt(mem *member) {
	m.dropUnverified(mem.facts.ID)
	m.orphans = slices.DeleteFunc(m.orphans, func(o *op) bool {
		if o.cmd.Server != mem.facts.ID {
			return false
		}
		dst := &mem.fence
		if o.cmd.Kind == CmdResume {
			// The debt comes back whole: a server owed a resume is one
			// that was stood down, and stays so until it acknowledges.
			// Without the flag, a takeover of it would drop the resume
			// and nothing would ever tell it to record again.
			dst = &mem.resume
			mem.stoodDown = true
		}
		*dst = *o
		m.track(dst)
		m.markOwedOf(mem)
		m.markOrphans()
		return true
	})
}
