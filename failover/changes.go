package failover

import (
	"cmp"
	"maps"
	"slices"

	"github.com/nvrha/nvrha"
)

// Changes is what changed in a Machine's State since its changes were last
// taken, part by part: applied in order to the State they were taken after
// (see Replica), a Machine's Changes give exactly its State. Persisting
// them costs what changed rather than the whole State, which at a thousand
// servers is most of the center's work. Every part is given as it is now,
// or as deleted; a part that changed several times is given once.
//
// The first Changes a Machine hands (after NewMachine, RestoreMachine or
// SetIncremental) carry the whole State in Full, and so does any that
// follows a change set the caller lost (see Machine.Advance).
//
// A change set applies to the State it was taken after, and only once:
// applying it twice is not applying it once (a ledger change drops and
// keeps intervals by count). A Store that cannot tell whether a failed
// write of a change set landed must be given the whole State next.
type Changes struct {
	// Full, when set, is the whole State, and the other fields are empty.
	Full *State `json:"full,omitempty"`

	// NextGroupID and NextCommandID are the State's, as of these changes.
	NextGroupID   GroupID `json:"next_group_id,omitempty"`
	NextCommandID uint64  `json:"next_command_id,omitempty"`
	// Groups are the groups added, changed or deleted, in ID order.
	Groups []GroupChange `json:"groups,omitempty"`
	// Members are the members that joined, changed or left, in ID order.
	Members []MemberChange `json:"members,omitempty"`
	// Epochs are the newest epochs that changed, in server order. Epochs
	// are never deleted.
	Epochs []EpochState `json:"epochs,omitempty"`
	// Takeovers are the takeovers started, changed or ended, by recording
	// server.
	Takeovers []TakeoverChange `json:"takeovers,omitempty"`
	// Owed are the orders owed to members that changed, by server and
	// kind. A member is owed at most one release and one resume.
	Owed []OwedChange `json:"owed,omitempty"`
	// Orphans, when OrphansChanged, replaces the orders owed to servers in
	// no group, in the order State lists them (after the members').
	OrphansChanged bool        `json:"orphans_changed,omitempty"`
	Orphans        []OwedState `json:"orphans,omitempty"`
	// Ledger are the cameras whose intervals changed, in camera order.
	Ledger []LedgerChange `json:"ledger,omitempty"`
}

// GroupChange is a group's settings and its members' IDs as they are now,
// or its deletion.
type GroupChange struct {
	ID         GroupID `json:"id"`
	Deleted    bool    `json:"deleted,omitempty"`
	Name       string  `json:"name,omitempty"`
	Protection bool    `json:"protection,omitempty"`
	// Members are the IDs of its members in join order. The States of
	// those that joined or changed come as MemberChanges.
	Members []nvrha.ServerID `json:"members,omitempty"`
}

// MemberChange is a member's State as it is now, in Group, or, Deleted,
// its leaving the center.
type MemberChange struct {
	Server  nvrha.ServerID `json:"server"`
	Deleted bool           `json:"deleted,omitempty"`
	Group   GroupID        `json:"group,omitempty"`
	Member  MemberState    `json:"member,omitzero"`
}

// TakeoverChange is a recording server's takeover as it is now, or,
// Deleted, its end.
type TakeoverChange struct {
	Recording nvrha.ServerID `json:"recording"`
	Deleted   bool           `json:"deleted,omitempty"`
	Takeover  TakeoverState  `json:"takeover,omitzero"`
}

// OwedChange is the order of a Kind (CmdRelease or CmdResume) owed to a
// member as it is now, or, Deleted, that none is owed any more.
type OwedChange struct {
	Server  nvrha.ServerID `json:"server"`
	Kind    CommandKind    `json:"kind"`
	Deleted bool           `json:"deleted,omitempty"`
	Owed    OwedState      `json:"owed,omitzero"`
}

// LedgerChange is a change of one camera's intervals: the first Trim are
// dropped (the ledger keeps Config.LedgerLimit), the next Keep stay as
// they are, and Intervals replace the rest. Intervals are only ever added
// at the end and closed, so a change is its camera's newest intervals, not
// its history.
type LedgerChange struct {
	Camera    nvrha.CameraID `json:"camera"`
	Trim      int            `json:"trim,omitempty"`
	Keep      int            `json:"keep,omitempty"`
	Intervals []Interval     `json:"intervals,omitempty"`
}

// Empty reports whether c changes nothing but the next command ID (which
// moves with every command and is only worth persisting with a change).
func (c Changes) Empty() bool {
	return c.Full == nil && len(c.Groups) == 0 && len(c.Members) == 0 && len(c.Epochs) == 0 &&
		len(c.Takeovers) == 0 && len(c.Owed) == 0 && !c.OrphansChanged && len(c.Ledger) == 0
}

// changeMarks records which parts of the State changed since the changes
// were last taken. A mark only says where to look: values are read when
// the changes are taken, so a part that changed many times costs once.
type changeMarks struct {
	// on is set from the first take on; until then nothing is marked, so
	// a Machine persisted whole pays nothing for it.
	on bool
	// full makes the next take the whole State.
	full bool
	// seq counts marks, so that Advance can tell whether a Ready's changes
	// are still all there is.
	seq       uint64
	groups    map[GroupID]struct{}
	members   map[nvrha.ServerID]struct{}
	epochs    map[nvrha.ServerID]struct{}
	takeovers map[nvrha.ServerID]struct{} // by recording server
	owed      map[owedKey]struct{}
	orphans   bool
}

type owedKey struct {
	server nvrha.ServerID
	kind   CommandKind
}

func mark[K comparable](c *changeMarks, set *map[K]struct{}, k K) {
	if *set == nil {
		*set = make(map[K]struct{})
	}
	(*set)[k] = struct{}{}
	c.seq++
}

func (c *changeMarks) clear() {
	forget(&c.groups)
	forget(&c.members)
	forget(&c.epochs)
	forget(&c.takeovers)
	forget(&c.owed)
	c.orphans = false
}

// forget empties a set of marks. A set that a burst made large is dropped
// rather than kept: a map never shrinks, and a Machine's memory per server
// is counted.
func forget[K comparable, V any](m *map[K]V) {
	if len(*m) > 64 {
		*m = nil
		return
	}
	clear(*m)
}

// The marks. Each is called where the part changes.

func (m *Machine) markGroup(id GroupID) {
	if m.chg.on {
		mark(&m.chg, &m.chg.groups, id)
	}
}

func (m *Machine) markMember(mem *member) {
	if m.chg.on {
		mark(&m.chg, &m.chg.members, mem.facts.ID)
	}
}

func (m *Machine) markEpoch(id nvrha.ServerID) {
	if m.chg.on {
		mark(&m.chg, &m.chg.epochs, id)
	}
}

func (m *Machine) markTakeover(t *takeover) {
	if m.chg.on {
		mark(&m.chg, &m.chg.takeovers, t.rec.facts.ID)
	}
}

func (m *Machine) markOrphans() {
	if m.chg.on {
		m.chg.orphans = true
		m.chg.seq++
	}
}

// markOwedOf marks both orders a member may be owed, as when it leaves.
func (m *Machine) markOwedOf(mem *member) {
	if m.chg.on {
		mark(&m.chg, &m.chg.owed, owedKey{mem.facts.ID, CmdRelease})
		mark(&m.chg, &m.chg.owed, owedKey{mem.facts.ID, CmdResume})
	}
}

// markOrder marks what o owes, if it is an owed order, when its command
// becomes c (sent) or nothing (c zero, dropped). Probes, inventories,
// stand-downs and a takeover's own orders are not persisted; an order sent
// again unchanged changes nothing that is. Any other change of an owed
// order moves the State's generation, incremental or not, so that it is
// persisted before the order leaves.
func (m *Machine) markOrder(o *op, c Command) {
	k := o.cmd.Kind
	if c.Kind != 0 {
		k = c.Kind
	}
	if k != CmdRelease && k != CmdResume {
		return
	}
	if o.pending() && c.Kind != 0 && sameOrder(o.cmd, c) {
		return
	}
	server := c.Server
	if server == "" {
		server = o.cmd.Server
	}
	mem := m.servers[server]
	if mem != nil && mem.tk != nil && o == &mem.tk.cmd {
		// A takeover's own order persists with the takeover.
		return
	}
	// An owed order is part of the State, which is persisted before the
	// order leaves: the same order owed again (a release a stray standby
	// acknowledged, told again under its epoch) changes nothing else.
	m.stateGen++
	switch {
	case !m.chg.on:
	case mem != nil && (o == &mem.fence || o == &mem.resume):
		mark(&m.chg, &m.chg.owed, owedKey{server, k})
	default:
		m.markOrphans()
	}
}

// TakeChanges returns what changed in the State since the last
// TakeChanges (or Advance of a Ready carrying Changes), and forgets it: the
// caller persists it, or loses the chain and must persist the whole State.
// The first call returns the whole State (Changes.Full), and marking starts
// then: a Machine whose changes are never taken spends nothing on them.
//
// Use either TakeChanges or Ready's Changes (SetIncremental), not both.
func (m *Machine) TakeChanges() Changes {
	c := m.changes()
	m.changesTaken()
	return c
}

// SetIncremental makes Ready hand what must persist as Changes (in
// Ready.Changes, the whole State the first time) rather than as a whole
// State (Ready.State), or, with on false, the whole State again. Its Ready
// then costs what changed rather than the size of the center. A Controller
// whose Store is a DeltaStore sets it.
func (m *Machine) SetIncremental(on bool) {
	if on == m.incremental {
		return
	}
	m.incremental = on
	m.chg.on, m.ledger.track = on, on
	m.chg.full = true
	m.chg.clear()
	m.ledger.clearMarks()
	if on {
		// The first Changes are the whole State: make Ready hand them.
		m.stateGen++
	}
}

// changesSeq identifies the marks as they stand.
func (m *Machine) changesSeq() uint64 { return m.chg.seq + m.ledger.seq }

// changesTaken forgets the marks, after their changes were taken.
func (m *Machine) changesTaken() {
	m.chg.on, m.ledger.track = true, true
	m.chg.full = false
	m.chg.clear()
	m.ledger.clearMarks()
}

// changes returns the changes the marks point at, changing nothing.
func (m *Machine) changes() Changes {
	if !m.chg.on || m.chg.full {
		st := m.State()
		return Changes{Full: &st}
	}
	c := Changes{NextGroupID: m.nextGroupID, NextCommandID: m.nextCmdID}
	for _, id := range slices.Sorted(maps.Keys(m.chg.groups)) {
		g, err := m.group(id)
		if err != nil {
			c.Groups = append(c.Groups, GroupChange{ID: id, Deleted: true})
			continue
		}
		gc := GroupChange{ID: id, Name: g.name, Protection: g.protection, Members: make([]nvrha.ServerID, len(g.members))}
		for i, mem := range g.members {
			gc.Members[i] = mem.facts.ID
		}
		c.Groups = append(c.Groups, gc)
	}
	for _, id := range slices.Sorted(maps.Keys(m.chg.members)) {
		if mem := m.servers[id]; mem != nil {
			c.Members = append(c.Members, MemberChange{Server: id, Group: mem.group.id, Member: memberState(mem)})
		} else {
			c.Members = append(c.Members, MemberChange{Server: id, Deleted: true})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(m.chg.epochs)) {
		c.Epochs = append(c.Epochs, EpochState{Server: id, Epoch: m.epochs[id]})
	}
	for _, id := range slices.Sorted(maps.Keys(m.chg.takeovers)) {
		if mem := m.servers[id]; mem != nil && mem.tk != nil && mem.tk.rec == mem {
			c.Takeovers = append(c.Takeovers, TakeoverChange{Recording: id, Takeover: takeoverState(mem.tk)})
		} else {
			c.Takeovers = append(c.Takeovers, TakeoverChange{Recording: id, Deleted: true})
		}
	}
	keys := slices.SortedFunc(maps.Keys(m.chg.owed), func(a, b owedKey) int {
		return cmp.Or(cmp.Compare(a.server, b.server), cmp.Compare(a.kind, b.kind))
	})
	for _, k := range keys {
		var o *op
		if mem := m.servers[k.server]; mem != nil {
			o = &mem.fence
			if k.kind == CmdResume {
				o = &mem.resume
			}
		}
		if o != nil && o.pending() {
			c.Owed = append(c.Owed, OwedChange{Server: k.server, Kind: k.kind, Owed: owedState(o)})
		} else {
			c.Owed = append(c.Owed, OwedChange{Server: k.server, Kind: k.kind, Deleted: true})
		}
	}
	if m.chg.orphans {
		c.OrphansChanged = true
		for _, o := range m.orphans {
			c.Orphans = append(c.Orphans, owedState(o))
		}
	}
	c.Ledger = m.ledger.changes()
	return c
}

// memberState is a member as State holds it.
func memberState(mem *member) MemberState {
	return MemberState{
		Facts: mem.facts.Clone(), Role: mem.role, Enabled: mem.enabled,
		TakeoverFailed: mem.takeoverFailed, Refusals: int(mem.refusals), RetryAt: mem.retryAt.time(), StoodDown: mem.stoodDown,
		Failovers: slices.Clone(mem.failovers), Priority: int(mem.priority),
	}
}

// takeoverState is a takeover as State holds it.
func takeoverState(t *takeover) TakeoverState {
	return TakeoverState{Recording: t.rec.facts.ID, Standby: t.sb.facts.ID, Epoch: t.epoch,
		Since: t.since, Started: t.started, Phase: t.phase}
}

// ledgerMark is how one camera's entries changed since the last take:
// the first trim of the entries then were dropped and the first keep of
// those now are as they were. had is how many entries there were then.
type ledgerMark struct {
	had, trim, keep int
}

// markCamera notes that camera c's entries, es as they stand, are about to
// change from index i on (i == len(es) for an entry appended).
func (l *ledger) markCamera(c nvrha.CameraID, es []entry, i int) {
	if !l.track {
		return
	}
	if l.marks == nil {
		l.marks = make(map[nvrha.CameraID]ledgerMark)
	}
	mk, ok := l.marks[c]
	if !ok {
		mk = ledgerMark{had: len(es), keep: len(es)}
	}
	mk.keep = min(mk.keep, i)
	l.marks[c] = mk
	l.seq++
}

// markTrim notes that the first n of camera c's entries were dropped.
func (l *ledger) markTrim(c nvrha.CameraID, n int) {
	if !l.track || n == 0 {
		return
	}
	// markCamera has marked the camera: an entry was appended first.
	mk := l.marks[c]
	mk.trim += n
	mk.keep = max(mk.keep-n, 0)
	l.marks[c] = mk
	l.seq++
}

func (l *ledger) clearMarks() { forget(&l.marks) }

// changes returns the marked cameras' changes, in camera order.
func (l *ledger) changes() []LedgerChange {
	if len(l.marks) == 0 {
		return nil
	}
	out := make([]LedgerChange, 0, len(l.marks))
	for _, c := range slices.Sorted(maps.Keys(l.marks)) {
		mk := l.marks[c]
		es := l.cams[c]
		lc := LedgerChange{Camera: c, Trim: min(mk.trim, mk.had), Keep: mk.keep}
		if len(es) > mk.keep {
			lc.Intervals = make([]Interval, len(es)-mk.keep)
			for i, e := range es[mk.keep:] {
				lc.Intervals[i] = l.interval(e)
			}
		}
		out = append(out, lc)
	}
	return out
}

// readyPersist puts what must persist in rd: the whole State, or the
// changes of an incremental Machine.
func (m *Machine) readyPersist(rd *Ready) {
	if !m.incremental {
		st := m.State()
		rd.State = &st
		return
	}
	c := m.changes()
	rd.Changes, rd.changeSeq = &c, m.changesSeq()
}

// changesAdvanced forgets the marks a Ready's Changes were read from, now
// persisted. Had anything been marked since (the caller changed the
// Machine between Ready and Advance), what is left cannot be told apart
// from what was persisted, so the next Changes are the whole State.
func (m *Machine) changesAdvanced(seq uint64) {
	if seq != m.changesSeq() {
		m.changesTaken()
		m.chg.full = true
		m.stateGen++
		return
	}
	m.changesTaken()
}
