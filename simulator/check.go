package simulator

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/eligibility"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/failover/detector"
	"github.com/nvrha/nvrha/status"
	"github.com/nvrha/nvrha/transport"
)

// InvariantNames names DESIGN.md's invariants by number; 0 is the Ready
// loop itself (a Machine that never goes quiet).
var InvariantNames = [...]string{
	0: "the Machine's Ready loop terminates and its commands are well formed",
	1: "a recording server is taken over by at most one standby at a time; a standby covers at most one recording server",
	2: "a standby never covers a server with more license channels than its own; every eligibility rule holds for every member",
	3: "epochs only grow, per server, across center restarts; a command with a stale epoch changes nothing",
	4: "a failed recording server with an eligible, healthy, enabled standby is taken over within the detection + takeover budget",
	5: "statuses always agree with the facts",
	6: "a server in takeover cannot be removed; the default group cannot be deleted; limits are never exceeded",
	7: "once faults stop, assignments settle and stay; a pause within the acceptable pause triggers no takeover",
	8: "nothing acknowledged is lost across a center crash",
	9: "the same seed gives the same event trace",
}

// Violation is an invariant that failed: where, when, and how to replay it.
type Violation struct {
	Invariant int           `json:"invariant"`
	Name      string        `json:"name"`
	Seed      uint64        `json:"seed"`
	At        time.Duration `json:"at"`
	Detail    string        `json:"detail"`
	// LastEvents are the canonical lines of the last events before it.
	LastEvents []string `json:"last_events"`
	// Replay is a one-line command that runs the same world again.
	Replay string `json:"replay"`
	// Scenario is the scenario text when the world ran one that has no
	// file (a generated plan); save it to FILE for the replay command.
	Scenario string `json:"scenario,omitempty"`
}

func (v *Violation) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invariant %d violated at %s (seed %d): %s\n  invariant: %s\n  replay: %s\n  last events:\n",
		v.Invariant, fmtDur(v.At), v.Seed, v.Detail, v.Name, v.Replay)
	for _, l := range v.LastEvents {
		b.WriteString("    " + l + "\n")
	}
	if v.Scenario != "" {
		b.WriteString("  scenario (save as FILE):\n")
		for _, l := range strings.Split(strings.TrimRight(v.Scenario, "\n"), "\n") {
			b.WriteString("    " + l + "\n")
		}
	}
	return b.String()
}

// checker holds what the invariants remember between events, and the
// budgets the time-bounded ones allow.
type checker struct {
	// budgets
	detect   time.Duration // a failed server is declared failed within this
	perTry   time.Duration // one standby tried and given up
	fence    time.Duration // an unwanted standby gets its release within this
	settle   time.Duration // fixed part of the time for assignments to settle
	interval time.Duration // the Machine's inventory interval

	// invariant 3
	maxSent  map[nvrha.ServerID]nvrha.Epoch // newest sent in any command
	sentKeys []nvrha.ServerID               // maxSent's keys, sorted
	intents  map[epochKey]*intent
	persEp   map[nvrha.ServerID]nvrha.Epoch // epochs of the persisted State
	restores int
	// failbackEp are the epochs the Machine issued for a failback, and
	// when each failback started.
	failbackEp map[epochKey]time.Duration

	// invariant 8: the newest command ID sent by an earlier incarnation of
	// the center, and by the current one
	idBefore, idNow uint64

	// invariant 2: takeovers started in the current event
	started []failover.Event

	// invariant 8: confirmed takeovers and failbacks of the current event
	holders []failover.Event

	// scratch of checkMachine
	mem  []snapMember
	pidx *persisted
	// freeStandbys' lists, by group, for one check (freeGen, the count of
	// checks when they were listed) and one persisted index (freeOf)
	free    []freeList
	freeOf  *persisted
	freeGen uint64

	// invariant 7
	downs     map[nvrha.ServerID][]time.Duration // ServerDown times by server
	settledAt time.Duration
	settleFor time.Duration // the lastDisturbance settledAt was computed for
	settled   bool
	everSettl bool

	checks  uint64
	orphans map[nvrha.ServerID]bool
	// by server index, -1 for none: since when a standby records unwanted,
	// since when a recording server records beside its standby
	unwanted []time.Duration
	fighting []time.Duration

	// tickSnap is the snapshot checkTimed took at this tick, which
	// checkMachine checks too: no call into the Machine comes between.
	tickSnap *failover.Snapshot
	// snapBuf is the memory of the snapshot checkTimed or checkMachine
	// takes, reused event after event: checkMachine takes its own only
	// when checkTimed took none in the same event.
	snapBuf failover.Snapshot
	// view is tickSnap's members by server index, for checkTimed.
	view []*failover.MemberSnapshot
}

type epochKey struct {
	rec nvrha.ServerID
	e   nvrha.Epoch
}

// intent is what one epoch of one recording server was used for.
type intent struct {
	takeover  nvrha.ServerID // the standby ordered to take over
	standDown bool
	resume    bool
	release   nvrha.ServerID // the standby ordered to release
}

func (c *checker) init(w *World) {
	fc := w.cfg.Center.Failover
	d := fc.Detector
	wait := d.AcceptablePause
	if d.Kind == detector.KindConsecutiveMiss {
		wait = max(wait, time.Duration(d.Misses)*d.ProbeInterval)
	}
	c.detect = wait + 2*d.ProbeInterval + fc.ProbeTimeout + 2*time.Second
	c.perTry = fc.TakeoverTimeout + w.cfg.Center.TickInterval
	c.fence = fc.CommandTimeout + fc.RetryMax + 2*time.Second
	c.interval = fc.InventoryInterval
	c.settle = c.detect + c.fence + fc.InventoryInterval + 5*time.Second
	c.maxSent = map[nvrha.ServerID]nvrha.Epoch{}
	c.intents = map[epochKey]*intent{}
	c.failbackEp = map[epochKey]time.Duration{}
	c.persEp = map[nvrha.ServerID]nvrha.Epoch{}
	c.downs = map[nvrha.ServerID][]time.Duration{}
	c.orphans = map[nvrha.ServerID]bool{}
	c.unwanted = make([]time.Duration, len(w.servers))
	c.fighting = make([]time.Duration, len(w.servers))
	for i := range w.servers {
		c.unwanted[i], c.fighting[i] = -1, -1
	}
	c.view = make([]*failover.MemberSnapshot, len(w.servers))
	c.settledAt = -1
}

// fail stops the run with a violation of invariant inv.
func (w *World) fail(inv int, detail string) {
	if w.violation != nil {
		return
	}
	w.traceLine(fmt.Sprintf("VIOLATION invariant %d: %s", inv, detail))
	v := &Violation{
		Invariant: inv, Name: InvariantNames[inv], Seed: w.cfg.Seed, At: w.now, Detail: detail,
		LastEvents: w.tr.last(), Replay: w.cfg.ReplayCommand(),
	}
	if w.cfg.Scenario != nil && w.cfg.ScenarioPath == "" {
		v.Scenario = w.cfg.Scenario.String()
	}
	w.violation = v
	w.stopped = true
}

func (w *World) snapshot() failover.Snapshot { return w.c.m.Snapshot() }

// snapshotInto is snapshot into buf's memory: the checks take one after
// nearly every event. Only the real Machine's is reused; a wrapped one
// (a test's broken Machine) is asked for its Snapshot, which it may
// change.
func (w *World) snapshotInto(buf *failover.Snapshot) {
	if m, ok := w.c.m.(*failover.Machine); ok {
		m.SnapshotInto(buf)
		return
	}
	*buf = w.c.m.Snapshot()
}

// checkAfterEvent runs the invariants an event may have changed, and only
// those:
//
//   - The Machine's view (checkMachine) after an event whose Machine call
//     published a change (a Ready with a State or Events: see
//     center.drain), after every admin operation and restart, and at every
//     tick. The Machine's view changes only through what it persists or
//     publishes: epochs, peers, facts, groups, members, switches and
//     failed takeovers are State (a Ready carries it when it changes);
//     health and statuses change with an Event. A call whose Ready loop
//     published nothing (most answers: a probe of a healthy server)
//     therefore leaves every input of these checks as it was after the
//     last one, which passed. The one thing a Machine learns without
//     publishing it is a member's empty recording space from a probe; it
//     enters the checks only through the statuses, which the Machine
//     publishes when they change, and the check at the next tick (at most
//     a tick later) sees it either way.
//   - The ground truth (checkGround) after an event that changed a server:
//     only that server's side of it (checkGroundAt) when the event touched
//     one server (an order it carried out, its footage starting, its pause
//     ending), the full walk after an action (a fault, an admin operation,
//     a license change), which may change several.
func (w *World) checkAfterEvent() {
	if w.stopped {
		return
	}
	if w.machineTouched && w.c.up {
		w.checkMachine()
	}
	w.machineTouched = false
	w.chk.started = w.chk.started[:0]
	w.chk.holders = w.chk.holders[:0]
	w.chk.tickSnap = nil
	switch {
	case w.stopped:
	case w.groundTouched:
		w.checkGround()
	case len(w.touched) > 0:
		// Each frequent event touches one server; should one touch
		// several, the full walk keeps the order of the reports.
		one := true
		for _, i := range w.touched[1:] {
			one = one && i == w.touched[0]
		}
		if one {
			w.checkGroundAt(w.touched[0])
		} else {
			w.checkGround()
		}
	}
	w.groundTouched = false
	w.touched = w.touched[:0]
}

// touch notes that the current event changed server i's ground truth.
func (w *World) touch(i int) { w.touched = append(w.touched, i) }

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

// checkMachine checks the Machine's own view, strictly: invariants 1, 2
// (at takeover start), 3 (its epochs), 5, 6, and 8 (it holds what was
// acknowledged).
func (w *World) checkMachine() {
	c := &w.chk
	c.checks++
	m := w.c.m
	var snap failover.Snapshot
	if c.tickSnap != nil {
		snap = *c.tickSnap
	} else {
		w.snapshotInto(&c.snapBuf)
		snap = c.snapBuf
	}
	if len(c.mem) != len(w.servers) {
		c.mem = make([]snapMember, len(w.servers))
	}
	mem := c.mem
	for i := range mem {
		mem[i] = snapMember{MemberSnapshot: &noMember}
	}
	// Invariant 6: limits, the default group, one group per server.
	if len(snap.Groups) > failover.MaxGroups {
		w.fail(6, fmt.Sprintf("%d groups, the limit is %d", len(snap.Groups), failover.MaxGroups))
		return
	}
	if len(snap.Groups) == 0 || snap.Groups[0].ID != failover.DefaultGroupID || !snap.Groups[0].Default {
		w.fail(6, "the default group is gone")
		return
	}
	members, guess := 0, 0
	for gi := range snap.Groups {
		g := &snap.Groups[gi]
		if len(g.Members) > g.Capacity || g.Capacity > eligibility.MaxServersPerGroup(w.cfg.Center.Failover.Platform) {
			w.fail(6, fmt.Sprintf("group %q holds %d servers, capacity %d", g.Name, len(g.Members), g.Capacity))
			return
		}
		for mi := range g.Members {
			ms := &g.Members[mi]
			i, ok := w.index(ms.ID, guess)
			guess = i + 1
			switch {
			case !ok:
				w.fail(8, fmt.Sprintf("the Machine has a member %s the world never added", ms.ID))
				return
			case mem[i].in:
				w.fail(6, fmt.Sprintf("server %s is in two groups", ms.ID))
				return
			}
			mem[i] = snapMember{ms, g, gi, true}
			members++
		}
	}
	// Invariant 8: everything acknowledged is there: groups, members,
	// roles, enabled switches, protection.
	exist := 0
	for _, gm := range w.groups {
		if !gm.exists {
			continue
		}
		exist++
		var found *failover.GroupSnapshot
		for gi := range snap.Groups {
			if snap.Groups[gi].ID == gm.id {
				found = &snap.Groups[gi]
			}
		}
		switch {
		case found == nil:
			w.fail(8, fmt.Sprintf("group %s (id %d) was acknowledged and is gone", groupRef(gm.index), gm.id))
			return
		case found.Name != gm.name || found.Protection != gm.protection:
			w.fail(8, fmt.Sprintf("group %s is %q protection=%v, acknowledged %q protection=%v",
				groupRef(gm.index), found.Name, found.Protection, gm.name, gm.protection))
			return
		}
	}
	if exist != len(snap.Groups) {
		w.fail(8, fmt.Sprintf("the Machine has %d groups, %d were acknowledged", len(snap.Groups), exist))
		return
	}
	acked := 0
	for i, s := range w.servers {
		ms := &mem[i]
		if s.member {
			acked++
		}
		switch {
		case ms.in != s.member:
			w.fail(8, fmt.Sprintf("server %s member=%v in the Machine, acknowledged member=%v", s.spec.ID, ms.in, s.member))
			return
		case ms.in && (ms.group.ID != s.group.id || ms.Role != s.role || ms.Enabled != s.enabled):
			w.fail(8, fmt.Sprintf("server %s is %s in group %d enabled=%v, acknowledged %s in group %d enabled=%v",
				s.spec.ID, ms.Role, ms.group.ID, ms.Enabled, s.role, s.group.id, s.enabled))
			return
		}
	}
	if members != acked {
		w.fail(8, fmt.Sprintf("the Machine has %d members, %d were acknowledged", members, acked))
		return
	}
	// Invariant 1 (strict, on the Machine's view): peers pair a recording
	// server with one standby of its group, both ways.
	for i := range mem {
		ms := &mem[i]
		if !ms.in || ms.Peer == "" {
			continue
		}
		j, ok := w.index(ms.Peer, 0)
		if !ok || !mem[j].in {
			w.fail(1, fmt.Sprintf("%s's peer %s is not a member", ms.ID, ms.Peer))
			return
		}
		p := &mem[j]
		switch {
		case p.Peer != ms.ID:
			w.fail(1, fmt.Sprintf("%s's peer is %s, whose peer is %q", ms.ID, ms.Peer, p.Peer))
			return
		case p.Role == ms.Role:
			w.fail(1, fmt.Sprintf("%s and its peer %s are both %s servers", ms.ID, ms.Peer, ms.Role))
			return
		case p.group.ID != ms.group.ID:
			w.fail(1, fmt.Sprintf("%s and its peer %s are in different groups", ms.ID, ms.Peer))
			return
		}
	}
	if w.c.store.last == nil {
		w.fail(8, "nothing was ever persisted")
		return
	}
	pf := w.persistedIndex(w.c.store.last)
	// Invariant 2 at every takeover start: the license rule and the
	// standby's eligibility to take over, on the Machine's own facts.
	for _, e := range c.started {
		ri, ok1 := w.byID[e.Server]
		si, ok2 := w.byID[e.Peer]
		if !ok1 || !ok2 || !mem[ri].in || !mem[si].in {
			continue
		}
		r, s := &mem[ri], &mem[si]
		switch {
		case s.LicenseChannels < r.LicenseChannels:
			w.fail(2, fmt.Sprintf("takeover of %s (%d channels) by %s (%d channels)", r.ID, r.LicenseChannels, s.ID, s.LicenseChannels))
			return
		case !eligibility.CanCover(pf.facts[si], pf.facts[ri]):
			w.fail(2, fmt.Sprintf("takeover of %s by %s breaks the license rule on the persisted facts", r.ID, s.ID))
			return
		case !s.Enabled || !s.group.Protection || s.Health != nvrha.HealthUp || !s.EmptyRecordingSpace || pf.barred[si]:
			w.fail(2, fmt.Sprintf("takeover of %s by %s, which is not ready (enabled=%v protection=%v health=%v space=%v failed=%v)",
				r.ID, s.ID, s.Enabled, s.group.Protection, s.Health, s.EmptyRecordingSpace, pf.barred[si]))
			return
		case !r.Enabled:
			w.fail(2, fmt.Sprintf("takeover of %s, which is disabled", r.ID))
			return
		}
	}
	c.started = c.started[:0]
	// Invariant 8: the ledger names who holds the footage from now on: the
	// standby after a confirmed takeover, the recording server after a
	// failback.
	for _, e := range c.holders {
		holder := e.Peer
		if e.Kind == failover.EventFailbackCompleted {
			holder = e.Server
		}
		i, ok := w.index(e.Server, 0)
		if !ok || len(w.servers[i].ownCams) == 0 {
			continue
		}
		cam := w.cams[w.servers[i].ownCams[0]].id
		if !slices.ContainsFunc(m.HoldersAt(cam, w.abs(w.now)), func(iv failover.Interval) bool { return iv.Server == holder }) {
			w.fail(8, fmt.Sprintf("after %s the ledger does not name %s as a holder of %s now: %+v", e.Kind, holder, cam, m.Ledger(cam)))
			return
		}
	}
	c.holders = c.holders[:0]
	// Invariant 3: the Machine's epochs never go down.
	for _, s := range w.servers {
		if s.role != failover.RoleRecording {
			continue
		}
		e := m.Epoch(s.spec.ID)
		if e < s.epochSeen {
			w.fail(3, fmt.Sprintf("the Machine's epoch for %s went from %d down to %d", s.spec.ID, s.epochSeen, e))
			return
		}
		s.epochSeen = e
	}
	// Invariant 5: every status is the one the facts the Machine holds
	// imply, by the seed's tables (package status).
	live := false
	for i := range mem {
		ms := &mem[i]
		if !ms.in {
			continue
		}
		want := w.expectedStatus(i, ms, pf)
		if got := ms.Status(); got != want && !live {
			// The persisted State may lag the live one on what is not
			// persisted at once (a takeover ordered again after a probe):
			// judge on the live State.
			st := m.State()
			pf, live = w.indexState(&st), true
			want = w.expectedStatus(i, ms, pf)
		}
		if got := ms.Status(); got != want {
			w.fail(5, fmt.Sprintf("%s shows %q, its facts give %q", ms.ID, got, want))
			return
		}
	}
}

// index returns the index of server id, trying guess first.
func (w *World) index(id nvrha.ServerID, guess int) (int, bool) {
	if guess >= 0 && guess < len(w.servers) && w.servers[guess].spec.ID == id {
		return guess, true
	}
	i, ok := w.byID[id]
	return i, ok
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
// per State saved.
func (w *World) persistedIndex(st *failover.State) *persisted {
	if w.chk.pidx != nil && w.chk.pidx.st == st {
		return w.chk.pidx
	}
	w.chk.pidx = w.indexState(st)
	return w.chk.pidx
}

func (w *World) indexState(st *failover.State) *persisted {
	n := len(w.servers)
	p := &persisted{st: st, facts: make([]nvrha.Facts, n), failed: make([]bool, n), barred: make([]bool, n), fence: make([]bool, n), confirmed: make([]bool, n)}
	idx := func(id nvrha.ServerID) int {
		if i, ok := w.byID[id]; ok {
			return i
		}
		return -1
	}
	for _, g := range st.Groups {
		for _, ms := range g.Members {
			if i := idx(ms.Facts.ID); i >= 0 {
				p.facts[i] = ms.Facts
				p.failed[i] = ms.TakeoverFailed
				// A standby that failed while it answered may be tried
				// again once its back-off is over (failover's standbyFailed).
				p.barred[i] = ms.TakeoverFailed && (ms.RetryAt.IsZero() || w.abs(w.now).Before(ms.RetryAt))
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

// expectedStatus derives a member's Failover Status from the facts the
// Machine reports (its snapshot) and persisted (facts, failed takeovers,
// owed releases, confirmed takeovers), by the seed's rules.
func (w *World) expectedStatus(i int, ms *snapMember, p *persisted) string {
	active := ms.Enabled && ms.group.Protection
	if ms.Role == failover.RoleStandby {
		return status.OfStandby(status.StandbyFacts{
			Enabled:           active,
			Functional:        ms.Health == nvrha.HealthUp,
			TakingOver:        ms.Peer != "" && p.confirmed[i],
			HasRecordingSpace: ms.EmptyRecordingSpace,
			TakeoverFailed:    p.failed[i],
		}).Label()
	}
	// Protected: a confirmed takeover; an unconfirmed one whose standby is
	// ready (active, up, no failed takeover, no owed release, an empty
	// recording space); or else a free, ready standby of the group that fits.
	available := false
	if ms.Peer != "" {
		if p.confirmed[i] {
			available = true
		} else if j, ok := w.index(ms.Peer, 0); ok && w.chk.mem[j].in {
			s := &w.chk.mem[j]
			available = s.Enabled && s.group.Protection && s.Health == nvrha.HealthUp && s.EmptyRecordingSpace &&
				!p.failed[j] && !p.fence[j]
		}
	}
	if !available {
		for _, j := range w.freeStandbys(ms, p) {
			if eligibility.CanCover(p.facts[j], p.facts[i]) {
				available = true
				break
			}
		}
	}
	return status.OfRecording(status.RecordingFacts{
		Enabled:          active,
		Functional:       ms.Health == nvrha.HealthUp,
		TakenOver:        ms.Peer != "" && p.confirmed[i],
		StandbyAvailable: available,
	}).Label()
}

// freeStandbys returns the indexes of the free, ready standbys of ms's
// group (by the snapshot and p), in the group's order: the ones a
// recording server's status counts on. They are listed once per group and
// p, not once per recording server.
func (w *World) freeStandbys(ms *snapMember, p *persisted) []int {
	c := &w.chk
	if c.freeOf != p || c.freeGen != c.checks {
		c.freeOf, c.freeGen = p, c.checks
		for k := range c.free {
			c.free[k].done = false
		}
	}
	for len(c.free) <= ms.gi {
		c.free = append(c.free, freeList{})
	}
	f := &c.free[ms.gi]
	if f.done {
		return f.idx
	}
	f.done, f.idx = true, f.idx[:0]
	for _, s := range ms.group.Members {
		if s.Role != failover.RoleStandby || s.Peer != "" || !s.Enabled || !ms.group.Protection ||
			s.Health != nvrha.HealthUp || !s.EmptyRecordingSpace {
			continue
		}
		j, _ := w.index(s.ID, 0)
		if !p.failed[j] && !p.fence[j] {
			f.idx = append(f.idx, j)
		}
	}
	return f.idx
}

type freeList struct {
	done bool
	idx  []int
}

// checkGround checks the ground truth of every server: invariant 1's
// safety half (no two standbys record the same recording server's cameras
// under the same epoch) and invariant 2's license half (a standby records
// no more cameras than its license channels).
func (w *World) checkGround() {
	w.chk.checks++
	for i, s := range w.servers {
		if s.covering == "" || s.crashed {
			continue
		}
		if w.overLicense(s) {
			return
		}
		for _, o := range w.servers[i+1:] {
			if w.sameCover(s, o) {
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
func (w *World) checkGroundAt(i int) {
	w.chk.checks++
	s := w.servers[i]
	if s.covering == "" || s.crashed {
		return
	}
	for _, o := range w.servers[:i] {
		if !o.crashed && w.sameCover(o, s) { // o as the full walk's outer server
			return
		}
	}
	if w.overLicense(s) {
		return
	}
	for _, o := range w.servers[i+1:] {
		if w.sameCover(s, o) {
			return
		}
	}
}

// overLicense fails invariant 2 if standby s records more cameras than its
// license channels.
func (w *World) overLicense(s *Server) bool {
	if n := len(s.coverIDs); n > s.facts.LicenseChannels && s.cover.on {
		// A license lowered under a running takeover is the one case a
		// server keeps more cameras than its channels; it started legal.
		if len(s.licenseBefore) == 0 {
			w.fail(2, fmt.Sprintf("%s records %d cameras of %s with %d license channels", s.spec.ID, n, s.covering, s.facts.LicenseChannels))
			return true
		}
	}
	return false
}

// sameCover fails invariant 1 if o, after s (covering, up) in the world's
// order, is up and records the same recording server under the same epoch.
func (w *World) sameCover(s, o *Server) bool {
	if o.covering == s.covering && !o.crashed && o.coverEpoch == s.coverEpoch {
		w.fail(1, fmt.Sprintf("%s and %s both record %s's cameras under epoch %d", s.spec.ID, o.spec.ID, s.covering, s.coverEpoch))
		return true
	}
	return false
}

// calmSince returns since when server i has been calm: not crashed,
// abnormal, paused for long, cut off, in a burst, or touched by a lost
// message or an admin operation. It returns now for a server that is not
// calm now.
func (w *World) calmSince(i int) time.Duration {
	s := w.servers[i]
	if s.crashed || s.abnormal || (s.paused && s.pauseUntil-w.now > 0 && s.pausedLong) || w.links[i].cutIn > 0 || w.links[i].cutOut > 0 {
		return w.now
	}
	for j := range w.bursts {
		if w.bursts[j].until > w.now && w.bursts[j].covers(i) {
			return w.now
		}
	}
	return max(s.disturbedAt, s.adminAt)
}

// linkCalmSince is calmSince for a server that is up but abnormal: since
// when its link and control plane have been calm (no long pause, cut,
// burst, lost message or admin operation), or now.
func (w *World) linkCalmSince(i int) time.Duration {
	s := w.servers[i]
	if s.crashed || (s.paused && s.pauseUntil-w.now > 0 && s.pausedLong) || w.links[i].cutIn > 0 || w.links[i].cutOut > 0 {
		return w.now
	}
	for j := range w.bursts {
		if w.bursts[j].until > w.now && w.bursts[j].covers(i) {
			return w.now
		}
	}
	return max(s.disturbedAt, s.adminAt)
}

// checkTimed checks, at every tick, the invariants that bound how long
// something may take: invariant 1's liveness half (a standby the center no
// longer counts as a peer stops recording once it can be told to),
// invariant 4 and invariant 7's settling.
func (w *World) checkTimed() {
	if w.stopped {
		return
	}
	c := &w.chk
	c.checks++
	w.updateSettled()
	if !w.c.up {
		return
	}
	w.snapshotInto(&c.snapBuf)
	snap := c.snapBuf
	c.tickSnap = &c.snapBuf
	// peer(i) is server i's entry in the snapshot (the last one, should
	// the Machine list it twice), or a zero one.
	clear(c.view)
	for gi := range snap.Groups {
		for mi := range snap.Groups[gi].Members {
			if i, ok := w.byID[snap.Groups[gi].Members[mi].ID]; ok {
				c.view[i] = &snap.Groups[gi].Members[mi]
			}
		}
	}
	var none failover.MemberSnapshot
	peer := func(i int) *failover.MemberSnapshot {
		if m := c.view[i]; m != nil {
			return m
		}
		return &none
	}
	centerCalm := w.c.upSince
	// Invariant 1, liveness: an unwanted standby is released.
	for i, s := range w.servers {
		if s.role != failover.RoleStandby || s.covering == "" || s.crashed {
			c.unwanted[i] = -1
			continue
		}
		if ms := c.view[i]; ms != nil && ms.Peer == s.covering {
			c.unwanted[i] = -1
			continue
		}
		if !s.member && !c.orphans[s.spec.ID] {
			c.orphans[s.spec.ID] = true
			w.traceLine("orphan: " + string(s.spec.ID) + " records " + string(s.covering) + "'s cameras outside any group")
		}
		since := c.unwanted[i]
		if since < 0 {
			since = w.now
			c.unwanted[i] = since
		}
		from := max(since, w.calmSince(i), centerCalm)
		if w.now-from > c.fence {
			w.fail(1, fmt.Sprintf("%s still records %s's cameras (epoch %d) %s after the center stopped counting it as %s's standby",
				s.spec.ID, s.covering, s.coverEpoch, fmtDur(w.now-from), s.covering))
			return
		}
	}
	// Invariant 1, liveness: an abnormal recording server that still
	// records (degraded) while a standby has taken its cameras over is
	// stood down once it can be told to, so that it does not fight the
	// standby for them.
	for i, r := range w.servers {
		if r.role != failover.RoleRecording || !r.abnormal || r.crashed || !r.own.on ||
			peer(i).Recording != status.RecordingAbnormalProtected {
			c.fighting[i] = -1
			continue
		}
		since := c.fighting[i]
		if since < 0 {
			since = w.now
			c.fighting[i] = since
		}
		from := max(since, w.linkCalmSince(i), centerCalm)
		if w.now-from > c.fence {
			w.fail(1, fmt.Sprintf("%s answers abnormal and still records its cameras %s after %s took them over: it was never stood down",
				r.spec.ID, fmtDur(w.now-from), peer(i).Peer))
			return
		}
	}
	// Invariant 4: a failed recording server with a calm, free, fitting
	// standby is taken over in time.
	for ri, r := range w.servers {
		if r.role != failover.RoleRecording || !r.down() || !r.member || !r.enabled || !r.group.exists || !r.group.protection {
			continue
		}
		rs := peer(ri)
		if rs.Peer != "" && rs.Recording == status.RecordingAbnormalProtected {
			r.lastCovered = w.now
			continue
		}
		tried := 0
		for _, si := range r.group.servers {
			if w.servers[si].role == failover.RoleStandby {
				tried++
			}
		}
		budget := c.detect + time.Duration(tried+1)*c.perTry + c.fence
		for _, si := range r.group.servers {
			s := w.servers[si]
			ss := c.view[si]
			if s.role != failover.RoleStandby || ss == nil || !s.member || !s.enabled || s.down() || s.paused ||
				s.covering != "" || !s.hasEmptySpace() || ss.Peer != "" ||
				s.facts.LicenseChannels < r.facts.LicenseChannels || ss.LicenseChannels < rs.LicenseChannels {
				continue
			}
			if !ss.RetryAt.IsZero() && w.abs(w.now).Before(ss.RetryAt) {
				continue // in its back-off after failing a takeover while it answered
			}
			from := max(r.failedSince, r.lastCovered, r.adminAt, r.group.changedAt, centerCalm+c.detect,
				w.calmSince(si)+c.detect, s.factsAt+c.interval+c.perTry, r.factsAt+c.interval+c.perTry, s.lastBusy+c.fence,
				w.rel(ss.RetryAt))
			if w.now-from > budget {
				w.fail(4, fmt.Sprintf("%s failed at %s and is still not taken over (%q), though %s is free, healthy, enabled and fits (budget %s)",
					r.spec.ID, fmtDur(r.failedSince), rs.Status(), s.spec.ID, fmtDur(budget)))
				return
			}
		}
	}
	// Invariant 7, liveness: a healthy recording server that no standby
	// covers records its own cameras.
	for ri, r := range w.servers {
		if r.role != failover.RoleRecording || len(r.ownCams) == 0 || r.down() || r.paused || r.own.on || r.own.pending {
			continue
		}
		if peer(ri).Peer != "" {
			continue
		}
		// Counted from when the Machine last had a standby on it: a
		// takeover that ends without a failback owes it a resume from then.
		from := max(w.calmSince(ri), centerCalm, r.adminAt, r.group.changedAt, r.peeredAt)
		if w.now-from <= c.detect+c.fence+w.cfg.Servers.StreamStart {
			continue
		}
		w.fail(7, fmt.Sprintf("%s is healthy and no standby covers it, but it has recorded nothing since %s (stood down: %v)",
			r.spec.ID, fmtDur(from), r.stoodDown))
		return
	}
	// Remember when each standby was last busy, in either view, and when
	// each recording server last had a standby in the Machine's view.
	for i, s := range w.servers {
		switch {
		case s.role == failover.RoleStandby && (s.covering != "" || peer(i).Peer != ""):
			s.lastBusy = w.now
		case s.role == failover.RoleRecording && peer(i).Peer != "":
			s.peeredAt = w.now
		}
	}
}

// settleDeadline returns when assignments must have settled after the
// last disturbance, or -1 when the policy never settles on its own.
func (w *World) settleDeadline() time.Duration {
	fb := w.cfg.Center.Failover.Failback
	if fb.Mode == failover.FailbackScheduled {
		return -1
	}
	hold := time.Duration(0)
	if fb.Mode == failover.FailbackAutomatic {
		for _, s := range w.servers {
			if s.role != failover.RoleRecording {
				continue
			}
			n := 0
			for _, t := range w.chk.downs[s.spec.ID] {
				if t >= w.lastDisturbance-fb.FlapWindow-w.chk.detect {
					n++
				}
			}
			d := fb.HoldDown
			for k := 1; k < n && d < fb.MaxHoldDown; k++ {
				d *= 2
			}
			hold = max(hold, min(d, fb.MaxHoldDown))
		}
	}
	groupStandbys := 0
	for _, g := range w.cfg.World.Groups {
		groupStandbys = max(groupStandbys, len(g.Standby))
	}
	return w.lastDisturbance + hold + w.chk.settle + time.Duration(groupStandbys+1)*w.chk.perTry
}

func (w *World) updateSettled() {
	c := &w.chk
	if c.settleFor != w.lastDisturbance || c.settledAt < 0 {
		c.settleFor = w.lastDisturbance
		c.settledAt = w.settleDeadline()
		c.settled = false
	}
	if !c.settled && c.settledAt >= 0 && w.now >= c.settledAt && w.c.up {
		c.settled = true
		c.everSettl = true
		w.traceLine("settled")
	}
}

// checkEvent checks one event the Machine published: invariant 7 (no
// change after settling; no failure declared on a server whose only trouble
// was a short pause).
func (w *World) checkEvent(e failover.Event) {
	c := &w.chk
	switch e.Kind {
	case failover.EventTakeoverStarted:
		c.started = append(c.started, e)
	case failover.EventTakeoverSucceeded, failover.EventFailbackCompleted:
		c.holders = append(c.holders, e)
	case failover.EventFailbackStarted:
		c.failbackEp[epochKey{e.Server, e.Epoch}] = w.now
	case failover.EventServerDown:
		c.downs[e.Server] = append(c.downs[e.Server], w.now)
		if i, ok := w.byID[e.Server]; ok {
			s := w.servers[i]
			if !s.down() && w.now-w.calmSince(i) > c.detect && w.now-w.c.upSince > c.detect {
				w.fail(7, fmt.Sprintf("%s declared failed, but it only paused within the acceptable pause (%s) and its network was calm since %s",
					e.Server, w.cfg.Center.Failover.Detector.AcceptablePause, fmtDur(w.calmSince(i))))
				return
			}
		}
	}
	if c.settled && !w.recentlyDisturbed(e.Server) && !w.recentlyDisturbed(e.Peer) {
		switch e.Kind {
		case failover.EventServerDown, failover.EventServerUp, failover.EventTakeoverStarted, failover.EventTakeoverSucceeded,
			failover.EventTakeoverFailed, failover.EventTakeoverInterrupted, failover.EventFailbackStarted, failover.EventFailbackCompleted:
			w.fail(7, fmt.Sprintf("%s %s at %s, after faults stopped at %s and assignments settled at %s",
				e.Kind, e.Server, fmtDur(w.now), fmtDur(w.lastDisturbance), fmtDur(c.settledAt)))
		}
	}
}

// recentlyDisturbed reports whether a server was disturbed (a lost
// message, a fault) within one settle budget: under random message loss
// the assignments of such a server may still move after the scripted
// faults stopped.
func (w *World) recentlyDisturbed(id nvrha.ServerID) bool {
	i, ok := w.byID[id]
	if !ok {
		return false
	}
	budget := w.chk.settledAt - w.chk.settleFor
	return w.now-w.calmSince(i) <= budget
}

// checkEnd checks, if the run settled, that the settled assignments are
// the right ones: every healthy enabled recording server records its own
// cameras and is not taken over (automatic failback), and every cover the
// Machine reports is real.
func (w *World) checkEnd() {
	w.updateSettled()
	c := &w.chk
	if !c.settled || !w.c.up {
		return
	}
	snap := w.snapshot()
	for _, g := range snap.Groups {
		for _, ms := range g.Members {
			s := w.servers[w.byID[ms.ID]]
			if ms.Role != failover.RoleRecording || !ms.Enabled || !g.Protection || w.recentlyDisturbed(ms.ID) || w.recentlyDisturbed(ms.Peer) {
				continue
			}
			switch {
			case !s.down() && w.cfg.Center.Failover.Failback.Mode == failover.FailbackAutomatic && ms.Peer != "":
				w.fail(7, fmt.Sprintf("%s is healthy but still taken over by %s after settling", ms.ID, ms.Peer))
				return
			case !s.down() && !s.recordsAllOwn() && ms.Peer == "":
				w.fail(7, fmt.Sprintf("%s is healthy and not taken over, but does not record its cameras (stood down: %v)", ms.ID, s.stoodDown))
				return
			case ms.Peer != "" && ms.Recording == status.RecordingAbnormalProtected:
				sb := w.servers[w.byID[ms.Peer]]
				if sb.covering != ms.ID || !sb.cover.on {
					w.fail(7, fmt.Sprintf("%s shows %q by %s, which does not record its cameras", ms.ID, ms.Status(), ms.Peer))
					return
				}
			}
		}
	}
}

// checkLedger checks invariant 8 at the end of the run: every stretch in
// which a standby in fact recorded a recording server's cameras under a
// takeover the Machine confirmed is found in the ledger (HoldersAt), so
// that footage made on a standby stays findable after failback.
func (w *World) checkLedger() {
	if !w.c.up {
		return
	}
	m := w.c.m
	limit := w.cfg.Center.Failover.LedgerLimit
	for _, tk := range w.meas.takeovers {
		if tk.Confirmed < 0 {
			continue
		}
		ri, ok1 := w.byID[tk.Recording]
		si, ok2 := w.byID[tk.Standby]
		if !ok1 || !ok2 || len(w.servers[ri].ownCams) == 0 {
			continue
		}
		cam := w.cams[w.servers[ri].ownCams[0]].id
		log := m.Ledger(cam)
		for _, sp := range w.meas.timelines[si].Footage {
			if sp.Label != "covering "+string(tk.Recording) {
				continue
			}
			from, to := max(sp.From, tk.Confirmed), min(sp.To, tk.To)
			if to < 0 {
				to = w.now
			}
			if to-from < 2*time.Second {
				continue
			}
			mid := from + (to-from)/2
			if len(log) >= limit && limit > 0 && w.abs(mid).Before(log[0].From) {
				continue // dropped past the ledger limit
			}
			if !slices.ContainsFunc(m.HoldersAt(cam, w.abs(mid)), func(iv failover.Interval) bool { return iv.Server == tk.Standby }) {
				w.fail(8, fmt.Sprintf("%s recorded %s at %s under a confirmed takeover, but the ledger does not find it there: %+v",
					tk.Standby, cam, fmtDur(mid), log))
				return
			}
		}
	}
}

// checkMalformed checks invariant 0 on a command that has no valid kind,
// server or ID: the Machine never sends one.
func (w *World) checkMalformed(cmd failover.Command) {
	w.fail(0, fmt.Sprintf("the Machine sent a malformed command: %+v", cmd))
}

// checkCommandID checks invariant 8 on every command sent: its ID was
// never used by an earlier incarnation of the center, so that a late answer
// from before a restart is never taken for the answer to a new command.
func (w *World) checkCommandID(cmd failover.Command) {
	c := &w.chk
	if cmd.ID <= c.idBefore {
		w.fail(8, fmt.Sprintf("%s has ID %d, but IDs up to %d were sent before the center restarted: a late answer could be taken for its own",
			cmd, cmd.ID, c.idBefore))
		return
	}
	c.idNow = max(c.idNow, cmd.ID)
}

// checkCommandEpoch checks invariant 3 on every command sent: its epoch
// was persisted before it left, and no epoch serves two conflicting
// changes of who records a recording server's cameras.
func (w *World) checkCommandEpoch(cmd failover.Command) {
	c := &w.chk
	var rec nvrha.ServerID
	switch cmd.Kind {
	case failover.CmdTakeover, failover.CmdRelease:
		rec = cmd.Recording
	case failover.CmdStandDown, failover.CmdResume:
		rec = cmd.Server
	default:
		return
	}
	if cmd.Epoch > c.persEp[rec] {
		w.fail(3, fmt.Sprintf("%s carries epoch %d for %s, but only %d was persisted before it was sent", cmd, cmd.Epoch, rec, c.persEp[rec]))
		return
	}
	if _, ok := c.maxSent[rec]; !ok {
		i, _ := slices.BinarySearch(c.sentKeys, rec)
		c.sentKeys = slices.Insert(c.sentKeys, i, rec)
	}
	c.maxSent[rec] = max(c.maxSent[rec], cmd.Epoch)
	k := epochKey{rec, cmd.Epoch}
	in := c.intents[k]
	if in == nil {
		in = &intent{}
		c.intents[k] = in
	}
	conflict := ""
	switch cmd.Kind {
	case failover.CmdTakeover:
		switch {
		case in.takeover != "" && in.takeover != cmd.Server:
			conflict = "takeover by " + string(in.takeover)
		case in.resume || in.release != "":
			conflict = "a failback or release"
		}
		in.takeover = cmd.Server
	case failover.CmdStandDown:
		if in.resume || in.release != "" {
			conflict = "a failback or release"
		}
		in.standDown = true
	case failover.CmdResume:
		if in.takeover != "" || in.standDown {
			conflict = "a takeover by " + string(in.takeover)
		}
		in.resume = true
	case failover.CmdRelease:
		switch {
		case in.takeover != "" || in.standDown:
			conflict = "a takeover by " + string(in.takeover)
		case in.release != "" && in.release != cmd.Server:
			conflict = "a release of " + string(in.release)
		}
		in.release = cmd.Server
	}
	if conflict == "" {
		return
	}
	detail := fmt.Sprintf("%s reuses epoch %d of %s, already used for %s: an order that changes who records must carry a newer epoch",
		cmd, cmd.Epoch, rec, conflict)
	w.fail(3, detail)
}

// noteDelivery checks that an order refused for a stale epoch changed
// nothing (invariant 3), and counts the recovery paths servers saw.
func (w *World) noteDelivery(s *Server, cmd failover.Command, res failover.Result, before serverState) {
	key := cmd.Recording
	if cmd.Kind == failover.CmdStandDown || cmd.Kind == failover.CmdResume {
		key = s.spec.ID
	}
	if errors.Is(res.Err, transport.ErrStaleEpoch) {
		if after := s.stateFor(key); after != before {
			w.fail(3, fmt.Sprintf("%s was refused as stale by %s but changed its state: %+v -> %+v", cmd, s.spec.ID, before, after))
		}
		return
	}
	if res.Err != nil {
		return
	}
	switch cmd.Kind {
	case failover.CmdRelease:
		if in := w.chk.intents[epochKey{cmd.Recording, cmd.Epoch}]; in != nil && !in.resume && before.covering == cmd.Recording {
			w.recoveries[RecoveryFenceOff]++
		}
		w.checkMakeBeforeBreak(s, cmd, before)
	case failover.CmdStandDown:
		if !before.stoodDown {
			w.recoveries[RecoveryStandDown]++
		}
	}
}

// checkMakeBeforeBreak checks, when a standby carries out a failback's
// release, that the recording server records its cameras already (the
// release follows a probe that showed its footage flowing), unless it was
// disturbed since the failback started: a failback breaks nothing
// (invariant 7: a recording server no standby covers records its cameras).
func (w *World) checkMakeBeforeBreak(sb *Server, cmd failover.Command, before serverState) {
	started, ok := w.chk.failbackEp[epochKey{cmd.Recording, cmd.Epoch}]
	ri, known := w.byID[cmd.Recording]
	if !ok || !known || before.covering != cmd.Recording || !before.coverOn {
		return
	}
	r := w.servers[ri]
	if r.own.on || r.down() || w.calmSince(ri) > started {
		return
	}
	w.fail(7, fmt.Sprintf("%s released %s's cameras for the failback that started at %s, but %s does not record them (make-before-break)",
		sb.spec.ID, cmd.Recording, fmtDur(started), cmd.Recording))
}

// checkPersisted checks invariant 8 on every State persisted: the ledger
// only grows (intervals are appended, open ones closed, the oldest dropped
// past the limit), and remembers the persisted epochs for invariant 3.
func (w *World) checkPersisted(prev, cur *failover.State) {
	c := &w.chk
	clear(c.persEp)
	for _, e := range cur.Epochs {
		c.persEp[e.Server] = e.Epoch
	}
	if prev == nil {
		return
	}
	for _, s := range c.sentKeys {
		if e := c.maxSent[s]; c.persEp[s] < e {
			w.fail(3, fmt.Sprintf("the persisted epoch of %s went down to %d after %d was sent", s, c.persEp[s], e))
			return
		}
	}
	limit := w.cfg.Center.Failover.LedgerLimit
	if !byCamera(prev.Ledger) || !byCamera(cur.Ledger) {
		w.checkLedgerGrowsAnyOrder(prev, cur, limit)
		return
	}
	// Both ledgers are in camera order (the Machine exports them so): walk
	// them side by side. A camera whose intervals the store shares with
	// the previous State (store.save found them equal) extends them.
	lost := -1 // the first camera of prev that cur lost, reported last
	j := 0
	for _, cl := range cur.Ledger {
		for j < len(prev.Ledger) && prev.Ledger[j].Camera < cl.Camera {
			if lost < 0 && len(prev.Ledger[j].Intervals) > 0 {
				lost = j
			}
			j++
		}
		var old []failover.Interval
		if j < len(prev.Ledger) && prev.Ledger[j].Camera == cl.Camera {
			old = prev.Ledger[j].Intervals
			j++
		}
		if sameSlice(old, cl.Intervals) {
			continue
		}
		if err := ledgerExtends(old, cl.Intervals, limit); err != "" {
			w.fail(8, fmt.Sprintf("ledger of %s: %s", cl.Camera, err))
			return
		}
	}
	for ; lost < 0 && j < len(prev.Ledger); j++ {
		if len(prev.Ledger[j].Intervals) > 0 {
			lost = j
		}
	}
	if lost >= 0 {
		cl := prev.Ledger[lost]
		w.fail(8, fmt.Sprintf("ledger of %s lost all %d intervals", cl.Camera, len(cl.Intervals)))
	}
}

// checkLedgerGrowsAnyOrder is checkPersisted's ledger check for ledgers
// not in camera order.
func (w *World) checkLedgerGrowsAnyOrder(prev, cur *failover.State, limit int) {
	old := map[nvrha.CameraID][]failover.Interval{}
	for _, cl := range prev.Ledger {
		old[cl.Camera] = cl.Intervals
	}
	for _, cl := range cur.Ledger {
		if err := ledgerExtends(old[cl.Camera], cl.Intervals, limit); err != "" {
			w.fail(8, fmt.Sprintf("ledger of %s: %s", cl.Camera, err))
			return
		}
		delete(old, cl.Camera)
	}
	for _, cl := range prev.Ledger {
		if ivs := old[cl.Camera]; len(ivs) > 0 {
			w.fail(8, fmt.Sprintf("ledger of %s lost all %d intervals", cl.Camera, len(ivs)))
			return
		}
	}
}

// byCamera reports whether a ledger is in strictly increasing camera order.
func byCamera(l []failover.CameraLedger) bool {
	for i := 1; i < len(l); i++ {
		if l[i-1].Camera >= l[i].Camera {
			return false
		}
	}
	return true
}

// sameSlice reports whether a and b are the same slice (one backing array,
// one length), as the store shares an unchanged camera's intervals.
func sameSlice(a, b []failover.Interval) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// ledgerExtends reports why next is not prev with open intervals closed
// and new ones appended (and, once the ledger is at its limit, the oldest
// dropped), or "".
func ledgerExtends(prev, next []failover.Interval, limit int) string {
	if prefixOf(prev, next) {
		return ""
	}
	if limit > 0 && len(next) >= limit {
		for k := 1; k <= len(prev); k++ {
			if prefixOf(prev[k:], next) {
				return ""
			}
		}
	}
	return fmt.Sprintf("%d intervals became %d that do not extend them", len(prev), len(next))
}

func prefixOf(prev, next []failover.Interval) bool {
	if len(prev) > len(next) {
		return false
	}
	for i, p := range prev {
		n := next[i]
		if p.Server != n.Server || p.Epoch != n.Epoch || !p.From.Equal(n.From) {
			return false
		}
		if !p.To.IsZero() && !p.To.Equal(n.To) {
			return false
		}
	}
	return true
}

// checkRestored checks invariant 8 and 3 at a restart: the restored
// Machine holds exactly the persisted State, and its epochs are at least
// every epoch ever sent.
func (w *World) checkRestored(st failover.State) {
	c := &w.chk
	c.restores++
	got := comparable(w.c.m.State())
	want := comparable(st)
	if !reflect.DeepEqual(got, want) {
		ok, a, b := jsonEqual(got, want)
		if !ok {
			a, b = diffAt(a, b)
			w.fail(8, "the restored Machine's State differs from the persisted one:\n  restored:  "+a+"\n  persisted: "+b)
			return
		}
	}
	c.idBefore = max(c.idBefore, c.idNow)
	if next := w.c.m.State().NextCommandID; next <= c.idBefore {
		w.fail(8, fmt.Sprintf("the restored Machine's next command ID is %d, but IDs up to %d were sent before the restart", next, c.idBefore))
		return
	}
	for _, s := range w.servers {
		if e := w.c.m.Epoch(s.spec.ID); e < c.maxSent[s.spec.ID] {
			w.fail(3, fmt.Sprintf("after the restart the epoch of %s is %d, but %d was sent before the crash", s.spec.ID, e, c.maxSent[s.spec.ID]))
			return
		}
		s.epochSeen = w.c.m.Epoch(s.spec.ID)
	}
}

// checkUnpersisted checks, before a crash, that the Machine had persisted
// everything it acknowledged (invariant 8).
func (w *World) checkUnpersisted() {
	if !w.c.up || w.c.store.last == nil {
		return
	}
	live := w.c.m.State()
	for _, o := range live.Owed {
		if !slices.ContainsFunc(w.c.store.last.Owed, func(x failover.OwedState) bool { return reflect.DeepEqual(x, o) }) {
			w.fail(8, fmt.Sprintf("the Machine owes %s a %s (epoch %d) that it never persisted", o.Server, o.Kind, o.Epoch))
			return
		}
	}
	got := comparable(live)
	want := comparable(*w.c.store.last)
	got.Owed, want.Owed = nil, nil
	if !reflect.DeepEqual(got, want) {
		ok, a, b := jsonEqual(got, want)
		if ok {
			return
		}
		a, b = diffAt(a, b)
		w.fail(8, "the Machine holds changes it never persisted:\n  live:      "+a+"\n  persisted: "+b)
	}
}

// comparable strips what may legitimately differ between the live and the
// persisted State: the next command ID (not persisted on every command;
// checkCommandID checks that IDs never repeat). A takeover's phase and
// start are compared: every phase change is persisted. Owed orders are
// compared apart: the live Machine may have dropped one it no longer needs
// (safe: the restored order is fenced), never hold one that is not
// persisted.
func comparable(st failover.State) failover.State {
	st = cloneState(st, nil)
	st.NextCommandID = 0
	for gi := range st.Groups {
		for mi := range st.Groups[gi].Members {
			if len(st.Groups[gi].Members[mi].Failovers) == 0 {
				st.Groups[gi].Members[mi].Failovers = nil
			}
		}
	}
	return st
}

// diffAt returns both strings around where they first differ.
func diffAt(a, b string) (string, string) {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(0, i-200)
	cut := func(s string) string {
		hi := min(len(s), i+200)
		if lo >= hi {
			return "(end)"
		}
		return "..." + s[lo:hi] + "..."
	}
	return cut(a), cut(b)
}

// checkEligibleJoin checks invariant 2 when the Machine accepted a server:
// every eligibility rule holds for it, judged independently with package
// eligibility on the group as the Machine persisted it.
func (w *World) checkEligibleJoin(s *Server, g *groupModel, pre *failover.State, snap failover.Snapshot) {
	tg := eligibility.Group{Name: g.name, Platform: w.cfg.Center.Failover.Platform}
	if pre != nil {
		for _, gs := range pre.Groups {
			if gs.ID != g.id {
				continue
			}
			tg.Members = len(gs.Members)
			for _, ms := range gs.Members {
				if ms.Role == failover.RoleRecording {
					tg.RecordingServers = append(tg.RecordingServers, ms.Facts)
				}
			}
		}
	}
	cand := eligibility.Candidate{Facts: s.facts.Clone()}
	for _, gs := range snap.Groups {
		if slices.ContainsFunc(gs.Members, func(m failover.MemberSnapshot) bool { return m.ID == s.spec.ID }) {
			cand.CurrentGroup = gs.Name
		}
	}
	var rs eligibility.Reasons
	if s.role == failover.RoleRecording {
		rs = w.cfg.Center.Failover.Rules.CheckRecording(cand, tg)
	} else {
		rs = w.cfg.Center.Failover.Rules.CheckStandby(cand, tg)
	}
	if len(rs) > 0 {
		w.fail(2, fmt.Sprintf("the Machine accepted %s as a %s server of %s, but it fails: %v", s.spec.ID, s.role, groupRef(g.index), rs.Codes()))
	}
}
