package check

import (
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
	"slices"
)

// machineView is the Machine's view as the checks read it: its snapshot,
// indexed by server, and the persisted State, indexed the same way.
type machineView struct {
	// mem is the snapshot's entry of every server, by index; members
	// counts the snapshot's members.
	mem     []snapMember
	members int
	// pidx indexes the persisted State; rebuilt when a new one is saved,
	// unless what was saved leaves it as it is (carry). pver counts the
	// rebuilds.
	pidx *persisted
	pver uint64
	// carry is set when the last State persisted changed nothing pidx
	// holds, and carryOf is the State it changed.
	carry   bool
	carryOf *failover.State
	// tickSnap is the snapshot the tick's checks took in this event,
	// which checkMachine checks too: no call into the Machine comes
	// between.
	tickSnap *failover.Snapshot
	// bufs are the memory of the snapshots the checks take, reused event
	// after event: bufs[cur] is the latest, the other the one before it,
	// which statusesAgree compares with. fills are the fills they hold,
	// and ats the Machine each was taken of.
	bufs  [2]failover.Snapshot
	cur   int
	fills [2]uint64
	ats   [2]machineAt
	// fill counts the snapshots taken. memFill and viewFill are the fills
	// that mem and view index (0 for none).
	fill              uint64
	memFill, viewFill uint64
	// verified is, by group, the last check that found every status of
	// the group right, reading the persisted index pver and not the live
	// State (statusesAgree).
	verified map[failover.GroupID]groupVerified
	skip     []bool
	// checked is what the last checkMachine that held saw, for a quiet
	// tick to tell whether anything it checks can have changed since.
	checked struct {
		at        machineAt
		persisted *failover.State
	}
	// view is tickSnap's members by server index, for the tick's checks.
	view []*failover.MemberSnapshot
	// free lists each group's free, ready standbys for one check
	// (freeGen, the count of checks when they were listed) and one
	// persisted index (freeOf).
	free    []freeList
	freeOf  *persisted
	freeGen uint64
}

// groupVerified is a group's statuses found right: in the snapshot of fill
// fill, where it was group gi, against the persisted index of version
// pver.
type groupVerified struct {
	fill, pver uint64
	gi         int
}

// snapMember is a snapshot entry with its group. It points into the
// snapshot (copying 64 entries after every event was a tenth of a run);
// an absent member points to noMember.
type snapMember struct {
	*failover.MemberSnapshot
	group *failover.GroupSnapshot
	gi    int // the group's index in the snapshot
	in    bool
}

// noMember is the snapshot entry of a server that is in no group; never
// written.
var noMember failover.MemberSnapshot

// snapshot returns the Machine's snapshot in this event: the tick's, or
// the one in the reused buffer, taken again unless the Machine's
// generation says it is the same.
func (c *Checker) snapshot() failover.Snapshot {
	if c.mv.tickSnap != nil {
		return *c.mv.tickSnap
	}
	c.takeSnapshot()
	return c.mv.bufs[c.mv.cur]
}

// takeSnapshot brings bufs[cur] up to date: a Machine whose generation
// has not moved since it was taken, in the same incarnation, shows the
// same snapshot (failover.Machine.Generation), and its 1,024 members are
// not copied again.
func (c *Checker) takeSnapshot() {
	mv := &c.mv
	now := c.machineNow()
	if now.sameAs(mv.ats[mv.cur]) {
		return
	}
	// The snapshot before stays in the other buffer, for statusesAgree.
	mv.cur ^= 1
	c.v.SnapshotInto(&mv.bufs[mv.cur])
	mv.fill++
	mv.fills[mv.cur] = mv.fill
	mv.ats[mv.cur] = now
}

// machineAt is the Machine as the checks saw it: its generation, when it
// gives one, in the center's incarnation.
type machineAt struct {
	gen   uint64
	inc   uint32
	known bool
}

func (c *Checker) machineNow() machineAt {
	gen, known := c.v.MachineGeneration()
	return machineAt{gen: gen, inc: c.center.Incarnation, known: known}
}

// sameAs reports whether a and b show the same Machine
// (failover.Machine.Generation): both known, equal.
func (a machineAt) sameAs(b machineAt) bool { return a.known && a == b }

// checkMachine checks the Machine's own view, strictly, in the order the
// first violation is reported: limits (invariant 6), what was
// acknowledged (8), peers (1), takeover starts (2), ledger holders (8),
// epochs (3) and statuses (5).
//
// After a quiet tick (one that published nothing) it checks only a
// Machine that may have changed: the checks read the snapshot, the
// persisted State, the live State, the epochs, the ledger, what the world
// acknowledged and the takeovers started and ended in this event, and
// none of them reads the clock. When the Machine's generation and the
// center's incarnation are those of the last check, which held, and the
// same State is persisted, its views are those that check saw
// (failover.Machine.Generation); nothing was acknowledged since (an
// admin operation is checked when it happens), and a quiet tick starts
// and ends no takeover. The check would read the same and hold again; it
// counts as made. A Machine that gives no generation (a test's broken
// one) is checked at every tick, as before.
func (c *Checker) checkMachine(quiet bool) {
	c.checks++
	if quiet && c.asChecked() {
		return
	}
	snap := c.snapshot()
	if !c.limits(&snap) || !c.indexMembers(&snap) || !c.acknowledged(&snap) || !c.peers() {
		return
	}
	if c.center.Persisted == nil {
		c.fail(8, "nothing was ever persisted")
		return
	}
	pf := c.persistedIndex(c.center.Persisted)
	if !c.takeoverStarts(pf) || !c.holdersNamed() || !c.epochsGrow() {
		return
	}
	c.statusesAgree(pf)
	if !c.failed {
		ck := &c.mv.checked
		ck.at, ck.persisted = c.machineNow(), c.center.Persisted
	}
}

// asChecked reports whether the Machine is as the last checkMachine saw
// it (see checkMachine).
func (c *Checker) asChecked() bool {
	ck := &c.mv.checked
	return ck.persisted == c.center.Persisted && len(c.lic.started) == 0 && len(c.durable.holders) == 0 &&
		c.machineNow().sameAs(ck.at)
}

// indexMembers fills mem from the snapshot, group by group; a group over
// its capacity (6), a member the world never added (8) or a server in two
// groups (6) is a violation. The snapshot that mem already indexes (the
// Machine did not change since) is not indexed again: it passed these
// checks then.
func (c *Checker) indexMembers(snap *failover.Snapshot) bool {
	if c.mv.memFill == c.mv.fill && c.mv.memFill != 0 && len(c.mv.mem) == len(c.srv) {
		return true
	}
	c.mv.memFill = 0
	if len(c.mv.mem) != len(c.srv) {
		c.mv.mem = make([]snapMember, len(c.srv))
	}
	mem := c.mv.mem
	for i := range mem {
		mem[i] = snapMember{MemberSnapshot: &noMember}
	}
	guess, members := 0, 0
	for gi := range snap.Groups {
		g := &snap.Groups[gi]
		if !c.withinCapacity(g) {
			return false
		}
		for mi := range g.Members {
			ms := &g.Members[mi]
			i, ok := c.index(ms.ID, guess)
			guess = i + 1
			switch {
			case !ok:
				c.fail(8, "the Machine has a member "+string(ms.ID)+" the world never added")
				return false
			case mem[i].in:
				c.fail(6, "server "+string(ms.ID)+" is in two groups")
				return false
			}
			mem[i] = snapMember{ms, g, gi, true}
			members++
		}
	}
	c.mv.members = members
	c.mv.memFill = c.mv.fill
	return true
}

// persisted indexes a State by server index for the status checks.
type persisted struct {
	st        *failover.State
	facts     []nvrha.Facts
	failed    []bool
	retryAt   []time.Time // when a failed standby may be ordered again
	fence     []bool
	confirmed []bool // by recording and by standby
}

// persistedIndex returns the index of the persisted State, built once
// per State saved, in the memory of the one before. A State saved by
// Changes that touch nothing the index holds (groups, members, owed
// orders, takeovers: a ledger's intervals, an epoch) has the index of the
// State they changed (notePersisted): a recording server that comes up
// saves its cameras' intervals, and 1,024 of them come up at the start.
//
// The index holds nothing that depends on the clock (barred reads it), so
// an index carried over is as good as one built again.
func (c *Checker) persistedIndex(st *failover.State) *persisted {
	mv := &c.mv
	p := mv.pidx
	if p != nil && p.st != st && mv.carry && mv.carryOf == p.st {
		p.st = st
	}
	mv.carry = false
	if p != nil && p.st == st {
		return p
	}
	mv.pidx = c.indexStateInto(p, st)
	mv.pver++
	return mv.pidx
}

// notePersisted follows the States persisted, for persistedIndex: the
// index of prev is that of the State ch makes of it when ch touches
// nothing the index holds.
func (c *Checker) notePersisted(prev *failover.State, ch *failover.Changes) {
	mv := &c.mv
	mv.carry = ch != nil && ch.Full == nil && len(ch.Groups) == 0 && len(ch.Members) == 0 && len(ch.Takeovers) == 0 &&
		len(ch.Owed) == 0 && !ch.OrphansChanged && mv.pidx != nil && mv.pidx.st == prev
	mv.carryOf = prev
}

func (c *Checker) indexState(st *failover.State) *persisted { return c.indexStateInto(nil, st) }

// barred reports whether server i failed takeovers and may not be ordered
// again at now: a standby that failed while it answered may be tried
// again once its back-off is over (failover's standbyFailed).
func (p *persisted) barred(i int, now time.Time) bool {
	return p.failed[i] && (p.retryAt[i].IsZero() || now.Before(p.retryAt[i]))
}

// indexStateInto indexes st, reusing p's memory when it has the room.
func (c *Checker) indexStateInto(p *persisted, st *failover.State) *persisted {
	n := len(c.srv)
	if p == nil || len(p.facts) != n {
		p = &persisted{facts: make([]nvrha.Facts, n), failed: make([]bool, n), retryAt: make([]time.Time, n), fence: make([]bool, n), confirmed: make([]bool, n)}
	} else {
		clear(p.facts)
		clear(p.failed)
		clear(p.retryAt)
		clear(p.fence)
		clear(p.confirmed)
	}
	p.st = st
	idx := func(id nvrha.ServerID) int {
		if i, ok := c.index(id, -1); ok {
			return i
		}
		return -1
	}
	guess := 0
	for _, g := range st.Groups {
		for _, ms := range g.Members {
			// Members come in the world's order, mostly: a guess spares
			// the map.
			i, ok := c.index(ms.Facts.ID, guess)
			if ok {
				guess = i + 1
			} else {
				i = -1
			}
			if i >= 0 {
				p.facts[i] = ms.Facts
				p.failed[i] = ms.TakeoverFailed
				p.retryAt[i] = ms.RetryAt
			}
		}
	}
	for _, o := range st.Owed {
		if i := idx(o.Server); i >= 0 && o.Kind == failover.CmdRelease {
			p.fence[i] = true
		}
	}
	for _, t := range st.Takeovers {
		if i := idx(t.Recording); i >= 0 {
			p.confirmed[i] = t.Phase != failover.PhaseStarting
		}
		if i := idx(t.Standby); i >= 0 {
			p.confirmed[i] = t.Phase != failover.PhaseStarting
		}
	}
	return p
}

// tickView takes the tick's snapshot (kept for checkMachine in the same
// event) and indexes its members by server; peer(i) is server i's entry
// (the last one, should the Machine list it twice), or a zero one.
func (c *Checker) tickView() {
	c.takeSnapshot()
	snap := &c.mv.bufs[c.mv.cur]
	c.mv.tickSnap = snap
	if c.mv.viewFill == c.mv.fill && len(c.mv.view) == len(c.srv) {
		return // the snapshot it indexes is still the Machine's
	}
	c.mv.viewFill = c.mv.fill
	if len(c.mv.view) != len(c.srv) {
		c.mv.view = make([]*failover.MemberSnapshot, len(c.srv))
	}
	clear(c.mv.view)
	guess := 0
	for gi := range snap.Groups {
		for mi := range snap.Groups[gi].Members {
			if i, ok := c.index(snap.Groups[gi].Members[mi].ID, guess); ok {
				c.mv.view[i] = &snap.Groups[gi].Members[mi]
				guess = i + 1
			}
		}
	}
}

// noPeer is the entry of a server the tick's snapshot does not list.
var noPeer failover.MemberSnapshot

func (c *Checker) peer(i int) *failover.MemberSnapshot {
	if m := c.mv.view[i]; m != nil {
		return m
	}
	return &noPeer
}

// timed checks, at every tick, the invariants that bound how long
// something may take: invariant 1's liveness (an unwanted standby
// released, a degraded server stood down), invariant 4, invariant 7's
// settling, and that a standby given up for refusing stays shown so
// (10); then it remembers what the next tick needs.
func (c *Checker) timed() {
	c.checks++
	c.updateSettled()
	if !c.center.Up {
		return
	}
	c.tickView()
	if !c.unwantedReleased() || !c.degradedStoodDown() || !c.takenOverInTime() || !c.uncoveredRecords() || !c.refusersStillHeld() {
		return
	}
	c.rememberBusy()
}

// ground walks the ground truth of every server after an event that may
// have changed several: invariant 1's safety half (no two standbys record
// the same recording server's cameras under the same epoch) and invariant
// 2's license half (a standby records no more cameras than its license
// channels).
func (c *Checker) checkGround() {
	c.checks++
	c.one.coverers = c.one.coverers[:0]
	for i, s := range c.srv {
		if s.Covering != "" {
			c.one.coverers = append(c.one.coverers, i)
		}
	}
	for i, s := range c.srv {
		if s.Covering == "" || s.Crashed {
			continue
		}
		if c.overLicense(s) {
			return
		}
		for _, o := range c.srv[i+1:] {
			if c.sameCover(s, o) {
				return
			}
		}
	}
}

// checkGroundAt is checkGround after an event that changed server i alone.
// Both checks look at one server (the license) or a pair of servers (the
// cover), and every server was fine after the last check, so only i and
// the pairs it is in can have broken; they are visited in the full walk's
// order (the pairs with a server before i, i's license, the pairs with a
// server after it), so the same violation is reported. A pair breaks only
// when both servers cover, so only the servers that cover (coverers, a
// few of 1,024) are visited.
func (c *Checker) checkGroundAt(i int) {
	c.checks++
	s := c.srv[i]
	c.one.noteCover(i, s.Covering != "")
	if s.Covering == "" || s.Crashed {
		return
	}
	cov := c.one.coverers
	k, _ := slices.BinarySearch(cov, i)
	for _, j := range cov[:k] {
		if o := c.srv[j]; !o.Crashed && c.sameCover(o, s) { // o as the full walk's outer server
			return
		}
	}
	if c.overLicense(s) {
		return
	}
	for _, j := range cov[k+1:] {
		if c.sameCover(s, c.srv[j]) {
			return
		}
	}
}

var _ history.Selective = (*Checker)(nil)
