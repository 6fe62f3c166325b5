package check

import (
	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
)

// machineView is the Machine's view as the checks read it: its snapshot,
// indexed by server, and the persisted State, indexed the same way.
type machineView struct {
	// mem is the snapshot's entry of every server, by index; members
	// counts the snapshot's members.
	mem     []snapMember
	members int
	// pidx indexes the persisted State; rebuilt when a new one is saved.
	pidx *persisted
	// tickSnap is the snapshot the tick's checks took in this event,
	// which checkMachine checks too: no call into the Machine comes
	// between.
	tickSnap *failover.Snapshot
	// snapBuf is the memory of the snapshot a check takes, reused event
	// after event.
	snapBuf failover.Snapshot
	// view is tickSnap's members by server index, for the tick's checks.
	view []*failover.MemberSnapshot
	// free lists each group's free, ready standbys for one check
	// (freeGen, the count of checks when they were listed) and one
	// persisted index (freeOf).
	free    []freeList
	freeOf  *persisted
	freeGen uint64
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
// a new one in the reused buffer.
func (c *Checker) snapshot() failover.Snapshot {
	if c.mv.tickSnap != nil {
		return *c.mv.tickSnap
	}
	c.v.SnapshotInto(&c.mv.snapBuf)
	return c.mv.snapBuf
}

// checkMachine checks the Machine's own view, strictly, in the order the
// first violation is reported: limits (invariant 6), what was
// acknowledged (8), peers (1), takeover starts (2), ledger holders (8),
// epochs (3) and statuses (5).
func (c *Checker) checkMachine() {
	c.checks++
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
}

// indexMembers fills mem from the snapshot, group by group; a group over
// its capacity (6), a member the world never added (8) or a server in two
// groups (6) is a violation.
func (c *Checker) indexMembers(snap *failover.Snapshot) bool {
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
	return true
}

// persisted indexes a State by server index for the status checks.
type persisted struct {
	st        *failover.State
	facts     []nvrha.Facts
	failed    []bool
	barred    []bool // failed, and not to be ordered again yet
	fence     []bool
	confirmed []bool // by recording and by standby
}

// persistedIndex returns the index of the persisted State, built once
// per State saved, in the memory of the one before.
func (c *Checker) persistedIndex(st *failover.State) *persisted {
	if c.mv.pidx != nil && c.mv.pidx.st == st {
		return c.mv.pidx
	}
	c.mv.pidx = c.indexStateInto(c.mv.pidx, st)
	return c.mv.pidx
}

func (c *Checker) indexState(st *failover.State) *persisted { return c.indexStateInto(nil, st) }

// indexStateInto indexes st, reusing p's memory when it has the room.
func (c *Checker) indexStateInto(p *persisted, st *failover.State) *persisted {
	n := len(c.srv)
	if p == nil || len(p.facts) != n {
		p = &persisted{facts: make([]nvrha.Facts, n), failed: make([]bool, n), barred: make([]bool, n), fence: make([]bool, n), confirmed: make([]bool, n)}
	} else {
		clear(p.facts)
		clear(p.failed)
		clear(p.barred)
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
				// A standby that failed while it answered may be tried
				// again once its back-off is over (failover's standbyFailed).
				p.barred[i] = ms.TakeoverFailed && (ms.RetryAt.IsZero() || history.Abs(c.now).Before(ms.RetryAt))
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
	c.v.SnapshotInto(&c.mv.snapBuf)
	snap := &c.mv.snapBuf
	c.mv.tickSnap = snap
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
// server after it), so the same violation is reported.
func (c *Checker) checkGroundAt(i int) {
	c.checks++
	s := c.srv[i]
	if s.Covering == "" || s.Crashed {
		return
	}
	for _, o := range c.srv[:i] {
		if !o.Crashed && c.sameCover(o, s) { // o as the full walk's outer server
			return
		}
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

var _ history.Selective = (*Checker)(nil)
