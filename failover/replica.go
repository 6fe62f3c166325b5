package failover

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/nvrha/nvrha"
)

// Replica is a State kept up to date with the Changes a Machine hands, each
// applied in time proportional to the change (a group's members, the
// takeovers and the owed orders are put back in order when they change,
// which costs what they hold, never the ledger or the other groups). A
// Store that persists Changes keeps one to check each change set before it
// writes it and to write the whole State when it compacts; a follower
// keeps one to mirror a center.
//
// It holds its own copy of everything: neither the State it starts from
// nor the Changes applied to it are kept or changed. It is not safe for
// concurrent use.
type Replica struct {
	st State
	// groupAt is the index of each group in st.Groups; memberAt where each
	// member is.
	groupAt  map[GroupID]int
	memberAt map[nvrha.ServerID]memberPos
	// scratch is the plan of the last Apply, its maps and slices reused:
	// a server that joins changes its group's list of 64 members, and
	// 1,024 join at a center's start.
	scratch plan
}

type memberPos struct{ g, m int }

// NewReplica returns a Replica holding a copy of st. A State whose groups,
// epochs or ledger are out of order or hold a part twice, as a Machine
// never exports, is an error wrapping ErrCorruptState.
func NewReplica(st State) (*Replica, error) {
	r := &Replica{st: cloneState(st)}
	if err := r.index(); err != nil {
		return nil, err
	}
	return r, nil
}

// State returns a deep copy of the State now.
func (r *Replica) State() State { return cloneState(r.st) }

// View returns the State the Replica holds, without copying it: the caller
// must not change it, and the next Apply changes it in place. It is for a
// reader that cannot afford a copy per change.
func (r *Replica) View() *State { return &r.st }

// index rebuilds groupAt and memberAt and checks the order of the parts
// that are searched.
func (r *Replica) index() error {
	st := &r.st
	r.groupAt = make(map[GroupID]int, len(st.Groups))
	r.memberAt = make(map[nvrha.ServerID]memberPos)
	for gi, g := range st.Groups {
		if gi > 0 && g.ID <= st.Groups[gi-1].ID {
			return corruptState("groups out of order at %d", g.ID)
		}
		r.groupAt[g.ID] = gi
		for mi, ms := range g.Members {
			if _, dup := r.memberAt[ms.Facts.ID]; dup {
				return corruptState("server %s in two places", ms.Facts.ID)
			}
			r.memberAt[ms.Facts.ID] = memberPos{gi, mi}
		}
	}
	for i := 1; i < len(st.Epochs); i++ {
		if st.Epochs[i].Server <= st.Epochs[i-1].Server {
			return corruptState("epochs out of order at %s", st.Epochs[i].Server)
		}
	}
	for i := 1; i < len(st.Ledger); i++ {
		if st.Ledger[i].Camera <= st.Ledger[i-1].Camera {
			return corruptState("ledger out of order at %s", st.Ledger[i].Camera)
		}
	}
	return nil
}

func corruptState(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorruptState, fmt.Sprintf(format, args...))
}

// Apply applies c. Changes that do not fit the State (a member of no group,
// a takeover of a server that is not a member, a ledger change beyond a
// camera's intervals, a part given twice) are an error wrapping
// ErrCorruptState, and leave the Replica as it was.
func (r *Replica) Apply(c Changes) error {
	if c.Full != nil {
		nr, err := NewReplica(*c.Full)
		if err != nil {
			return err
		}
		*r = *nr
		return nil
	}
	p, err := r.plan(&c)
	if err != nil {
		return fmt.Errorf("failover: changes do not apply: %w", err)
	}
	r.apply(&c, p)
	return nil
}

// plan is what Apply found while checking a change set, for applying it.
type plan struct {
	// final is where each server listed by a changed group will be: its
	// group ID. Servers of unchanged groups stay where memberAt says.
	final map[nvrha.ServerID]GroupID
	// left are the servers in changed groups before that no group lists
	// after.
	left map[nvrha.ServerID]bool
	// groupsMoved is set when groups are added or deleted, so that every
	// index moves.
	groupsMoved bool
	// ledgerAt is the index in st.Ledger of each change of c.Ledger, -1
	// for a new camera; epochAt likewise for c.Epochs.
	ledgerAt, epochAt []int
	// The groups, members, takeovers and owed orders the change set
	// lists, to find one listed twice.
	changed map[GroupID]bool
	put     map[nvrha.ServerID]bool
	tk      map[nvrha.ServerID]bool
	owed    map[owedKey]bool
}

// memberGroup returns the group a server is in after the change set, and
// whether it is in one.
func (r *Replica) memberGroup(p *plan, id nvrha.ServerID) (GroupID, bool) {
	if g, ok := p.final[id]; ok {
		return g, true
	}
	if p.left[id] {
		return 0, false
	}
	if at, ok := r.memberAt[id]; ok {
		return r.st.Groups[at.g].ID, true
	}
	return 0, false
}

func (r *Replica) plan(c *Changes) (*plan, error) {
	st := &r.st
	p := r.resetPlan(c)
	changed := p.changed
	for i, gc := range c.Groups {
		if i > 0 && gc.ID <= c.Groups[i-1].ID {
			return nil, corruptState("group %d changed twice or out of order", gc.ID)
		}
		gi, exists := r.groupAt[gc.ID]
		switch {
		case gc.ID == 0:
			return nil, corruptState("group 0")
		case gc.Deleted && gc.ID == DefaultGroupID:
			return nil, corruptState("the default group deleted")
		case gc.Deleted && !exists:
			continue // added and deleted since the last changes
		case !exists || gc.Deleted:
			p.groupsMoved = true
		}
		changed[gc.ID] = true
		if exists {
			for _, ms := range st.Groups[gi].Members {
				p.left[ms.Facts.ID] = true
			}
		}
		if gc.Deleted {
			continue
		}
		for _, id := range gc.Members {
			if _, dup := p.final[id]; dup {
				return nil, corruptState("server %s in two places", id)
			}
			p.final[id] = gc.ID
		}
	}
	for id, g := range p.final {
		delete(p.left, id)
		if at, ok := r.memberAt[id]; ok && !changed[st.Groups[at.g].ID] {
			return nil, corruptState("server %s listed by group %d is still in group %d", id, g, st.Groups[at.g].ID)
		}
	}
	put := p.put
	for i, mc := range c.Members {
		if i > 0 && mc.Server <= c.Members[i-1].Server {
			return nil, corruptState("member %s changed twice or out of order", mc.Server)
		}
		g, in := r.memberGroup(p, mc.Server)
		switch {
		case mc.Deleted && in:
			return nil, corruptState("server %s left but group %d lists it", mc.Server, g)
		case mc.Deleted:
		case mc.Member.Facts.ID != mc.Server:
			return nil, corruptState("member %s holds server %q", mc.Server, mc.Member.Facts.ID)
		case !in || g != mc.Group:
			return nil, corruptState("member %s of group %d, which does not list it", mc.Server, mc.Group)
		default:
			put[mc.Server] = true
		}
	}
	// A server that joins a group, or moves to another, comes with its
	// State.
	for id, g := range p.final {
		if at, ok := r.memberAt[id]; (!ok || st.Groups[at.g].ID != g) && !put[id] {
			return nil, corruptState("server %s joined group %d without its state", id, g)
		}
	}
	for i, e := range c.Epochs {
		if i > 0 && e.Server <= c.Epochs[i-1].Server {
			return nil, corruptState("epoch of %s changed twice or out of order", e.Server)
		}
		p.epochAt[i] = -1
		if j, ok := slices.BinarySearchFunc(st.Epochs, e.Server, func(x EpochState, id nvrha.ServerID) int { return cmp.Compare(x.Server, id) }); ok {
			p.epochAt[i] = j
		}
	}
	tk := p.tk
	for _, tc := range c.Takeovers {
		if tk[tc.Recording] {
			return nil, corruptState("takeover of %s changed twice", tc.Recording)
		}
		tk[tc.Recording] = true
		if tc.Deleted {
			continue
		}
		if tc.Takeover.Recording != tc.Recording {
			return nil, corruptState("takeover of %s holds %q", tc.Recording, tc.Takeover.Recording)
		}
		if _, in := r.memberGroup(p, tc.Recording); !in {
			return nil, corruptState("takeover of %s, which is in no group", tc.Recording)
		}
	}
	for _, t := range st.Takeovers {
		if _, in := r.memberGroup(p, t.Recording); !in && !tk[t.Recording] {
			return nil, corruptState("takeover of %s, which left its group", t.Recording)
		}
	}
	owed := p.owed
	for _, oc := range c.Owed {
		k := owedKey{oc.Server, oc.Kind}
		if owed[k] {
			return nil, corruptState("%v owed to %s changed twice", oc.Kind, oc.Server)
		}
		owed[k] = true
		if oc.Kind != CmdRelease && oc.Kind != CmdResume {
			return nil, corruptState("%v owed to %s", oc.Kind, oc.Server)
		}
		if oc.Deleted {
			continue
		}
		if oc.Owed.Server != oc.Server || oc.Owed.Kind != oc.Kind {
			return nil, corruptState("%v owed to %s holds %v to %s", oc.Kind, oc.Server, oc.Owed.Kind, oc.Owed.Server)
		}
		if _, in := r.memberGroup(p, oc.Server); !in {
			return nil, corruptState("%v owed to %s, which is in no group: an orphan", oc.Kind, oc.Server)
		}
	}
	for i, lc := range c.Ledger {
		if i > 0 && lc.Camera <= c.Ledger[i-1].Camera {
			return nil, corruptState("ledger of %s changed twice or out of order", lc.Camera)
		}
		p.ledgerAt[i] = -1
		n := 0
		if j, ok := slices.BinarySearchFunc(st.Ledger, lc.Camera, func(x CameraLedger, id nvrha.CameraID) int { return cmp.Compare(x.Camera, id) }); ok {
			p.ledgerAt[i] = j
			n = len(st.Ledger[j].Intervals)
		}
		if lc.Trim < 0 || lc.Keep < 0 || lc.Trim > n || lc.Keep > n-lc.Trim {
			return nil, corruptState("ledger of %s: dropping %d and keeping %d of %d intervals", lc.Camera, lc.Trim, lc.Keep, n)
		}
	}
	return p, nil
}

// resetPlan returns the Replica's plan emptied for c, its memory kept.
func (r *Replica) resetPlan(c *Changes) *plan {
	p := &r.scratch
	if p.final == nil {
		p.final, p.left = map[nvrha.ServerID]GroupID{}, map[nvrha.ServerID]bool{}
		p.changed, p.put = map[GroupID]bool{}, map[nvrha.ServerID]bool{}
		p.tk, p.owed = map[nvrha.ServerID]bool{}, map[owedKey]bool{}
	}
	clear(p.final)
	clear(p.left)
	clear(p.changed)
	clear(p.put)
	clear(p.tk)
	clear(p.owed)
	p.groupsMoved = false
	p.epochAt = slices.Grow(p.epochAt[:0], len(c.Epochs))[:len(c.Epochs)]
	p.ledgerAt = slices.Grow(p.ledgerAt[:0], len(c.Ledger))[:len(c.Ledger)]
	return p
}

// apply applies a change set plan checked.
func (r *Replica) apply(c *Changes, p *plan) {
	st := &r.st
	st.NextGroupID, st.NextCommandID = c.NextGroupID, c.NextCommandID
	groupsChanged := len(c.Groups) > 0
	owedChanged := len(c.Owed) > 0 || c.OrphansChanged || groupsChanged
	var owed, orphans []OwedState
	if owedChanged {
		// Told apart by the members before the groups change.
		owed, orphans = r.splitOwed()
	}
	if groupsChanged {
		r.applyGroups(c, p)
	}
	for _, mc := range c.Members {
		if mc.Deleted {
			continue
		}
		at := r.memberAt[mc.Server]
		st.Groups[at.g].Members[at.m] = cloneMember(mc.Member)
	}
	r.applyEpochs(c, p)
	if len(c.Takeovers) > 0 || groupsChanged {
		r.applyTakeovers(c)
	}
	if owedChanged {
		r.applyOwed(c, owed, orphans)
	}
	r.applyLedger(c, p)
}

func (r *Replica) applyGroups(c *Changes, p *plan) {
	if r.appendMembers(c, p) {
		return
	}
	st := &r.st
	// Every member of a changed group, read before any group changes: a
	// server may move from one to another.
	old := map[nvrha.ServerID]MemberState{}
	for _, gc := range c.Groups {
		if gi, ok := r.groupAt[gc.ID]; ok {
			for _, ms := range st.Groups[gi].Members {
				old[ms.Facts.ID] = ms
			}
		}
	}
	for _, gc := range c.Groups {
		gi, exists := r.groupAt[gc.ID]
		if gc.Deleted {
			if exists {
				st.Groups[gi].Members = nil // removed below
			}
			continue
		}
		members := make([]MemberState, len(gc.Members))
		for i, id := range gc.Members {
			// A member that joined or changed is written over by its
			// MemberChange; the ID places it until then.
			ms, ok := old[id]
			if !ok {
				ms.Facts.ID = id
			}
			members[i] = ms
		}
		gs := GroupState{ID: gc.ID, Name: gc.Name, Protection: gc.Protection, Members: members}
		if exists {
			st.Groups[gi] = gs
			continue
		}
		i, _ := slices.BinarySearchFunc(st.Groups, gc.ID, func(x GroupState, id GroupID) int { return cmp.Compare(x.ID, id) })
		st.Groups = slices.Insert(st.Groups, i, gs)
		// The groups after it moved; later changes find them here.
		for id, gj := range r.groupAt {
			if gj >= i {
				r.groupAt[id] = gj + 1
			}
		}
		r.groupAt[gc.ID] = i
	}
	if p.groupsMoved {
		st.Groups = slices.DeleteFunc(st.Groups, func(g GroupState) bool {
			i := slices.IndexFunc(c.Groups, func(gc GroupChange) bool { return gc.ID == g.ID })
			return i >= 0 && c.Groups[i].Deleted
		})
		// Checked when the Replica was made or last applied; order holds.
		_ = r.index()
		return
	}
	for id := range p.left {
		delete(r.memberAt, id)
	}
	for _, gc := range c.Groups {
		gi := r.groupAt[gc.ID]
		for mi, id := range gc.Members {
			r.memberAt[id] = memberPos{gi, mi}
		}
	}
}

// appendMembers applies a change of one group that keeps its members and
// their order and adds servers after them, as a join does, by appending
// to its members; it reports whether c was such a change. The general
// case copies every member of the changed groups.
func (r *Replica) appendMembers(c *Changes, p *plan) bool {
	if len(c.Groups) != 1 || p.groupsMoved || len(p.left) > 0 {
		return false
	}
	gc := &c.Groups[0]
	gi, exists := r.groupAt[gc.ID]
	if !exists || gc.Deleted {
		return false
	}
	g := &r.st.Groups[gi]
	if len(gc.Members) < len(g.Members) {
		return false
	}
	for i := range g.Members {
		if g.Members[i].Facts.ID != gc.Members[i] {
			return false
		}
	}
	for mi := len(g.Members); mi < len(gc.Members); mi++ {
		// Its MemberChange writes it over; the ID places it until then.
		g.Members = append(g.Members, MemberState{Facts: nvrha.Facts{ID: gc.Members[mi]}})
		r.memberAt[gc.Members[mi]] = memberPos{gi, mi}
	}
	g.Name, g.Protection = gc.Name, gc.Protection
	return true
}

func (r *Replica) applyEpochs(c *Changes, p *plan) {
	st := &r.st
	var added []EpochState
	for i, e := range c.Epochs {
		if j := p.epochAt[i]; j >= 0 {
			st.Epochs[j].Epoch = e.Epoch
		} else {
			added = append(added, e)
		}
	}
	if len(added) > 0 {
		st.Epochs = mergeSorted(st.Epochs, added, func(a, b EpochState) int { return cmp.Compare(a.Server, b.Server) })
	}
}

// position orders members as State lists them: by group, then join order.
func (r *Replica) position(id nvrha.ServerID) memberPos {
	if at, ok := r.memberAt[id]; ok {
		return at
	}
	// Not a member (checked otherwise): last.
	return memberPos{len(r.st.Groups), 0}
}

func comparePos(a, b memberPos) int { return cmp.Or(cmp.Compare(a.g, b.g), cmp.Compare(a.m, b.m)) }

func (r *Replica) applyTakeovers(c *Changes) {
	st := &r.st
	for _, tc := range c.Takeovers {
		i := slices.IndexFunc(st.Takeovers, func(t TakeoverState) bool { return t.Recording == tc.Recording })
		switch {
		case tc.Deleted && i >= 0:
			st.Takeovers = slices.Delete(st.Takeovers, i, i+1)
		case tc.Deleted:
		case i >= 0:
			st.Takeovers[i] = tc.Takeover
		default:
			st.Takeovers = append(st.Takeovers, tc.Takeover)
		}
	}
	slices.SortStableFunc(st.Takeovers, func(a, b TakeoverState) int {
		return comparePos(r.position(a.Recording), r.position(b.Recording))
	})
	if len(st.Takeovers) == 0 {
		st.Takeovers = nil
	}
}

// splitOwed returns the orders owed to members and those owed to servers
// in no group (the orphans), which State lists after them.
func (r *Replica) splitOwed() (members, orphans []OwedState) {
	for _, o := range r.st.Owed {
		if _, in := r.memberAt[o.Server]; in {
			members = append(members, o)
		} else {
			orphans = append(orphans, o)
		}
	}
	return members, orphans
}

// applyOwed puts back the orders owed, members' in member order, release
// first, then the orphans.
func (r *Replica) applyOwed(c *Changes, members, orphans []OwedState) {
	st := &r.st
	for _, oc := range c.Owed {
		i := slices.IndexFunc(members, func(o OwedState) bool { return o.Server == oc.Server && o.Kind == oc.Kind })
		switch {
		case oc.Deleted && i >= 0:
			members = slices.Delete(members, i, i+1)
		case oc.Deleted:
		case i >= 0:
			members[i] = cloneOwed(oc.Owed)
		default:
			members = append(members, cloneOwed(oc.Owed))
		}
	}
	// A member that left with an order owed took it to the orphans, which
	// then come whole.
	members = slices.DeleteFunc(members, func(o OwedState) bool { _, in := r.memberAt[o.Server]; return !in })
	slices.SortStableFunc(members, func(a, b OwedState) int {
		return cmp.Or(comparePos(r.position(a.Server), r.position(b.Server)), cmp.Compare(a.Kind, b.Kind))
	})
	if c.OrphansChanged {
		orphans = nil
		for _, o := range c.Orphans {
			orphans = append(orphans, cloneOwed(o))
		}
	}
	st.Owed = append(members, orphans...)
	if len(st.Owed) == 0 {
		st.Owed = nil
	}
}

func (r *Replica) applyLedger(c *Changes, p *plan) {
	st := &r.st
	var added []CameraLedger
	for i, lc := range c.Ledger {
		j := p.ledgerAt[i]
		if j < 0 {
			added = append(added, CameraLedger{Camera: lc.Camera, Intervals: slices.Clone(lc.Intervals)})
			continue
		}
		ivs := st.Ledger[j].Intervals[lc.Trim:]
		ivs = append(ivs[:lc.Keep], lc.Intervals...)
		if len(ivs) == 0 {
			ivs = nil
		}
		st.Ledger[j].Intervals = ivs
	}
	if len(added) > 0 {
		st.Ledger = mergeSorted(st.Ledger, added, func(a, b CameraLedger) int { return cmp.Compare(a.Camera, b.Camera) })
	}
}

// mergeSorted merges b, sorted and disjoint from a, into a, sorted, in
// place: from the back, each run of a that goes after an element of b
// moves once. A server's cameras join a ledger of thousands together, so
// the ledger is not reallocated for each.
func mergeSorted[T any](a, b []T, cmp func(T, T) int) []T {
	n := len(a)
	if n+len(b) > cap(a) {
		// Doubled, not grown as append grows a large slice (by a
		// quarter): 900 servers' cameras join one at a time.
		a = slices.Grow(a, max(len(b), n))
	}
	a = a[:n+len(b)]
	i := n // a[:i] are the elements of a not yet moved
	for j := len(b) - 1; j >= 0; j-- {
		at, _ := slices.BinarySearchFunc(a[:i], b[j], cmp)
		copy(a[at+j+1:i+j+1], a[at:i])
		a[at+j] = b[j]
		i = at
	}
	return a
}

func cloneMember(ms MemberState) MemberState {
	ms.Facts = ms.Facts.Clone()
	ms.Failovers = slices.Clone(ms.Failovers)
	return ms
}

func cloneOwed(o OwedState) OwedState {
	o.Cameras = slices.Clone(o.Cameras)
	return o
}

// cloneState returns a deep copy of st.
func cloneState(st State) State {
	out := st
	out.Groups = slices.Clone(st.Groups)
	for i := range out.Groups {
		g := &out.Groups[i]
		g.Members = slices.Clone(g.Members)
		for j := range g.Members {
			g.Members[j] = cloneMember(g.Members[j])
		}
	}
	out.Epochs = slices.Clone(st.Epochs)
	out.Takeovers = slices.Clone(st.Takeovers)
	out.Owed = slices.Clone(st.Owed)
	for i := range out.Owed {
		out.Owed[i] = cloneOwed(out.Owed[i])
	}
	out.Ledger = slices.Clone(st.Ledger)
	for i := range out.Ledger {
		out.Ledger[i].Intervals = slices.Clone(out.Ledger[i].Intervals)
	}
	return out
}
