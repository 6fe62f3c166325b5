package simulator

import (
	"slices"
	"strconv"
	"time"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
)

// Several centers (Config.Centers >= 2) stand by for each other as package
// etcdha's Nodes do through etcd, on virtual time:
//
//   - A lease store (leaseStore) grants one lease at a time. The first
//     center that campaigns and reaches the store is elected when no lease
//     holds, with a term one above the last: terms grow with every
//     election. The lease lasts CenterConfig.Lease from the last renewal
//     the store received; when the store is unavailable no lease expires,
//     and when it comes back every lease starts again from its full length
//     (etcd does the same when it elects a raft leader).
//   - The leader renews every fifth of the lease. A renewal sent at t
//     holds its term until t + lease - lease/5: it stops ordering then (the
//     center goes down, CenterCrash "lease lost") unless a later renewal
//     got through, a fifth of the lease before the store can let the lease
//     expire and elect another. A leader stops as well when an agent
//     refuses an order for a stale term ("stale term"), as a
//     failover.Controller does, and then resigns if it reaches the store.
//   - The State lives in the center's store (store.go), which the lease
//     store guards as etcdha guards its transactions: only the holder of
//     the current term, reaching the store, writes it. A leader whose save
//     is refused stands still as a failover.Controller does while its Store
//     fails (no tick, no answer taken, no order sent, admin operations
//     refused) and tries again at every tick, until its term ends.
//   - A follower keeps the State the leader saved last (its mirror: the
//     store's copy, which no save modifies, so no copy is made) and a warm
//     Machine restored from it, at most once per renewal interval, as
//     etcdha's mirror does; a State that does not restore is a violation
//     of invariant 8 as soon as a follower finds it. Elected, it restores
//     the Machine once more from that State, at the moment it leads (as
//     etcdha's Controller does, so that the timers of takeovers in progress
//     count from then): the center restarts, nothing is read again. A
//     promotion takes no time (etcdha's confirmation and catch-up are a
//     few round trips to etcd).
//   - The world's center (World.c) is whichever center leads: its Machine,
//     its incarnation (a new one for every term, so that answers to a
//     deposed leader are dropped) and the CenterTruth the observers read.
//     The other centers hold no Machine that orders. Crashing the leader
//     takes the center down; it is up again when the next one is elected.
//
// What it simplifies: the store is reached at once (no latency to it);
// its lease clock and the centers' agree; every lease event happens at a
// tick (50 ms); a follower cut from the store, or restarted, joins the
// election queue again at the end when it reaches the store again; admin
// operations are taken only while the leader reaches the store, as saves
// are instant.

// Why a leader stops leading (CenterCrash's Detail).
const (
	causeCrash     = "crash"
	causeLeaseLost = "lease lost"
	causeStaleTerm = "stale term"
)

// leaseStore is the store the centers share: who holds the lease, under
// which term, until when. The State is the center's store.
type leaseStore struct {
	down    bool
	term    uint64
	holder  *host
	expires time.Duration
}

// host is one of the centers.
type host struct {
	n       int // c1 is 1
	up      bool
	cut     int // cut from the store while positive (cuts overlap)
	leading bool
	// While leading: its term, when it last sent a renewal, and when it
	// stops ordering unless a renewal gets through.
	term     uint64
	renewed  time.Duration
	deadline time.Duration
	// campaigning: it waits for the lease since since (seq breaks ties),
	// the place etcd's election gives its key.
	campaigning bool
	since       time.Duration
	seq         uint64
	// mirror is the State it follows, warm the Machine restored from it
	// at warmAt.
	mirror *failover.State
	warm   *failover.Machine
	warmAt time.Duration
	// frozen: its process hangs until the thaw of generation thawGen;
	// stamped are the orders it stamped before, which leave when it wakes.
	frozen  bool
	thawGen uint64
	stamped []*message
}

func (h *host) name() string { return history.CenterRef(h.n) }

// cluster is the centers of a world and their lease store.
type cluster struct {
	w                    *World
	c                    *center
	lease, every, margin time.Duration
	st                   leaseStore
	hosts                []*host
	leader               *host
	seq                  uint64
}

// newCluster makes n centers for c, all campaigning from the start; c1
// wins the first election, with the Machine the world made.
func newCluster(w *World, c *center, n int) *cluster {
	cl := &cluster{w: w, c: c, lease: w.cfg.Center.Lease}
	cl.every, cl.margin = cl.lease/5, cl.lease/5
	for i := 1; i <= n; i++ {
		cl.seq++
		cl.hosts = append(cl.hosts, &host{n: i, up: true, campaigning: true, seq: cl.seq})
	}
	cl.grant(cl.hosts[0])
	cl.note()
	w.traceLine("c1 elected (term 1) of " + strconv.Itoa(n) + " centers, lease " + cl.lease.String())
	return cl
}

// note updates what the observers see of the store and the followers.
func (cl *cluster) note() {
	n := 0
	for _, h := range cl.hosts {
		if !h.leading && !h.frozen && cl.reachable(h) {
			n++
		}
	}
	cl.c.t.Followers, cl.c.t.StoreDown = n, cl.st.down
}

// reachable reports whether h can reach the store now.
func (cl *cluster) reachable(h *host) bool { return h.up && h.cut == 0 && !cl.st.down }

// mayOrder reports whether the leader's term still holds by its own
// reckoning: it stops ordering at its deadline.
func (cl *cluster) mayOrder() bool { return cl.leader != nil && cl.w.now < cl.leader.deadline }

// maySave reports whether the store takes a write of the leader's: it
// reaches the store and holds the current term's lease (the guard etcdha's
// transactions carry).
func (cl *cluster) maySave() bool {
	l := cl.leader
	return l != nil && cl.reachable(l) && cl.st.holder == l && cl.st.term == l.term
}

// tick runs the leases at a tick of the world, before the Machine's: the
// store lets an unrenewed lease expire, the leader renews or stops, a held
// State is tried again, a center is elected if none holds the lease, and
// the followers follow.
func (cl *cluster) tick() {
	now := cl.w.now
	st := &cl.st
	if !st.down && st.holder != nil && now >= st.expires {
		cl.w.traceLine("lease of term " + strconv.FormatUint(st.term, 10) + " (" + st.holder.name() + ") expires")
		st.holder = nil
		cl.c.t.LeaseHeld = false
	}
	if l := cl.leader; l != nil {
		switch {
		case l.frozen && now >= l.deadline:
			cl.lose(l)
		case l.frozen:
			// A frozen process renews nothing and notices nothing.
		case now >= l.deadline:
			cl.stepDown(causeLeaseLost)
		case now-l.renewed >= cl.every:
			cl.renew(l)
		}
	}
	if cl.c.held != nil && cl.c.held.rd != nil && !cl.leader.frozen && cl.maySave() {
		cl.c.retryHeld()
	}
	if st.holder == nil && !st.down && cl.leader == nil {
		cl.elect()
	}
	cl.follow()
	cl.note()
}

// renew sends the leader's renewal: if it gets through, the store counts
// the lease from now and the leader's term holds until a fifth of the
// lease before it can expire; if the store no longer knows the lease, the
// term ends.
func (cl *cluster) renew(l *host) {
	now := cl.w.now
	l.renewed = now
	if !cl.reachable(l) {
		return
	}
	if cl.st.holder != l || cl.st.term != l.term {
		cl.stepDown(causeLeaseLost)
		return
	}
	cl.st.expires = now + cl.lease
	l.deadline = now + cl.lease - cl.margin
}

// elect grants the lease to the candidate that campaigned first and
// reaches the store, and makes it the leader: the center restarts from
// the store with its Machine.
func (cl *cluster) elect() {
	var win *host
	for _, h := range cl.hosts {
		if !h.campaigning || h.since > cl.w.now || h.frozen || !cl.reachable(h) {
			continue
		}
		if win == nil || h.since < win.since || h.since == win.since && h.seq < win.seq {
			win = h
		}
	}
	if win == nil {
		return
	}
	cl.grant(win)
	cl.w.traceLine(win.name() + " elected (term " + strconv.FormatUint(win.term, 10) + ")")
	cl.c.restart()
}

// grant gives h the lease of a new term.
func (cl *cluster) grant(h *host) {
	now := cl.w.now
	st := &cl.st
	st.term++
	st.holder, st.expires = h, now+cl.lease
	h.leading, h.campaigning, h.term = true, false, st.term
	h.renewed, h.deadline = now, now+cl.lease-cl.margin
	h.mirror, h.warm = nil, nil
	cl.leader = h
	t := &cl.c.t
	t.Leader, t.Term, t.StoreTerm, t.LeaseHeld = h.n, st.term, st.term, true
	t.Elections++
}

// stepDown ends the leader's term for why: the center stops, and the
// leader resigns if it reaches the store (so that another is elected at
// once) and campaigns again a renewal interval later.
func (cl *cluster) stepDown(why string) {
	defer cl.note()
	l := cl.leader
	if l == nil {
		return
	}
	cl.w.traceLine(l.name() + " stops leading (term " + strconv.FormatUint(l.term, 10) + "): " + why)
	cl.c.stop(why)
	cl.leader, l.leading = nil, false
	cl.c.t.Leader, cl.c.t.Term = 0, 0
	if cl.reachable(l) && cl.st.holder == l {
		cl.st.holder = nil
		cl.c.t.LeaseHeld = false
		cl.w.traceLine(l.name() + " resigns")
	}
	cl.campaign(l, cl.w.now+cl.every)
}

// campaign puts h in the election queue, behind everyone there, from at.
func (cl *cluster) campaign(h *host, at time.Duration) {
	cl.seq++
	h.campaigning, h.since, h.seq = true, at, cl.seq
}

// crashLeader crashes the leader's host for downtime.
func (cl *cluster) crashLeader(downtime time.Duration) {
	if cl.leader == nil {
		cl.w.traceLine("center crash: no center leads")
		return
	}
	cl.crashHost(cl.leader, downtime)
}

// crashHost crashes center h; it restarts, as a follower, after downtime
// (never when downtime is negative). A crashed leader does not resign:
// its lease expires.
func (cl *cluster) crashHost(h *host, downtime time.Duration) {
	defer cl.note()
	w := cl.w
	if !h.up {
		return
	}
	if h.leading {
		w.traceLine(h.name() + " crashes (leader, term " + strconv.FormatUint(h.term, 10) + ")")
		cl.c.stop(causeCrash)
		cl.leader, h.leading = nil, false
		cl.c.t.Leader, cl.c.t.Term = 0, 0
	} else {
		w.traceLine(h.name() + " crashes (follower)")
	}
	h.up, h.campaigning, h.frozen = false, false, false
	h.mirror, h.warm = nil, nil
	for _, m := range h.stamped {
		w.freeMessage(m)
	}
	h.stamped = nil
	if downtime >= 0 {
		w.schedule(event{at: w.now + downtime, kind: evCenterUp, a: h.n})
	}
}

// restartHost starts center n again: it follows and campaigns.
func (cl *cluster) restartHost(n int) {
	defer cl.note()
	h := cl.hosts[n-1]
	if h.up {
		return
	}
	h.up = true
	cl.campaign(h, cl.w.now)
	cl.w.traceLine(h.name() + " restarts and follows")
}

// cutStore cuts center h from the store (on) or heals one cut. A follower
// healed joins the election queue again: its session lapsed.
func (cl *cluster) cutStore(h *host, on bool) {
	defer cl.note()
	if on {
		h.cut++
		cl.w.traceLine(h.name() + " cut from the store")
		return
	}
	if h.cut == 0 {
		return
	}
	h.cut--
	cl.w.traceLine(h.name() + " reaches the store again")
	if h.cut == 0 && h.up && !h.leading {
		cl.campaign(h, cl.w.now)
	}
}

// storeDown makes the store unavailable (on) or brings it back, every
// lease starting again from its full length.
func (cl *cluster) storeDown(on bool) {
	defer cl.note()
	st := &cl.st
	if st.down == on {
		return
	}
	st.down = on
	if on {
		cl.w.traceLine("the lease store is unavailable")
		return
	}
	if st.holder != nil {
		st.expires = cl.w.now + cl.lease
	}
	cl.w.traceLine("the lease store is back")
}

// follow brings every follower that reaches the store up to the State the
// leader saved last, at most once per renewal interval, and restores its
// warm Machine from it.
func (cl *cluster) follow() {
	w := cl.w
	last := cl.c.store.last
	for _, h := range cl.hosts {
		if h.leading || h.frozen || !cl.reachable(h) || last == nil || h.mirror == last || (h.warm != nil && w.now-h.warmAt < cl.every) {
			continue
		}
		h.mirror, h.warmAt = last, w.now
		m, err := failover.RestoreMachine(cl.c.cfg, cloneState(*last, nil), w.abs(w.now))
		if err != nil {
			h.warm = nil
			cl.c.restoreFailed(h.name()+" (a follower) cannot restore the State the leader saved: ", err)
			return
		}
		h.warm = m
	}
}

// host returns center n (from 1), or nil.
func (cl *cluster) host(n int) *host {
	if n < 1 || n > len(cl.hosts) {
		return nil
	}
	return cl.hosts[n-1]
}

// resolve returns the centers a center action names ("leader" is the one
// that leads now; none names the leader too), or nil with a trace line
// when it names none that exists.
func (cl *cluster) resolve(a *Action) []*host {
	refs := a.Targets
	if len(refs) == 0 {
		refs = []string{history.LeaderRef}
	}
	var out []*host
	for _, ref := range refs {
		n, ok := history.CenterNumber(ref)
		switch {
		case ok && n == 0 && cl.leader != nil:
			out = append(out, cl.leader)
		case ok && n == 0:
			cl.w.traceLine(a.Verb + ": no center leads")
		case ok && cl.host(n) != nil:
			out = append(out, cl.host(n))
		default:
			cl.w.traceLine(a.Verb + ": no center " + ref)
		}
	}
	return slices.Compact(out)
}

// heldReady is a Ready whose State the lease store refused (nil while a
// frozen leader has nothing to save), and the answers that arrived since,
// in order.
type heldReady struct {
	rd      *failover.Ready
	results []*message
}

// hold keeps rd until the store takes its State: the Machine stands still.
func (c *center) hold(rd failover.Ready) {
	// The next round reuses rd's memory (nextReady).
	rd.Commands, rd.Events = slices.Clone(rd.Commands), slices.Clone(rd.Events)
	c.held = &heldReady{rd: &rd}
	c.w.traceLine("the store refuses " + c.cl.leader.name() + "'s State: its Machine stands still")
}

// retryHeld saves the held State now that the store takes it, sends what
// waited, and steps the answers that arrived meanwhile. The center acts
// again from now: its Machine stood still.
func (c *center) retryHeld() {
	w := c.w
	h := c.held
	c.held = nil
	if h.rd != nil {
		w.traceLine("the store takes " + c.cl.leader.name() + "'s State: its Machine goes on")
	} else {
		w.traceLine(c.cl.leader.name() + " still leads: its Machine goes on")
	}
	c.t.UpSince = w.now
	w.disturbAll()
	w.machineTouched = true
	if h.rd != nil && !c.sendReady(*h.rd) {
		for _, m := range h.results {
			w.freeMessage(m)
		}
		return
	}
	for i, m := range h.results {
		if !c.t.Up {
			for _, m := range h.results[i:] {
				w.freeMessage(m)
			}
			return
		}
		if c.held != nil {
			c.held.results = append(c.held.results, h.results[i:]...)
			return
		}
		c.step(m)
	}
	c.drain()
}

// freezeStamped freezes the leader, for the trigger that asked, right
// after it stamped rd's orders: they are shown to the observers as they
// leave the center now, and go on the network when it wakes, whatever
// became of its term meanwhile.
func (c *center) freezeStamped(rd failover.Ready) {
	w := c.w
	d := c.freezeBeforeSend
	c.freezeBeforeSend = 0
	l := c.cl.leader
	w.traceLine(l.name() + " freezes after stamping " + strconv.Itoa(len(rd.Commands)) + " commands")
	for i := range rd.Commands {
		if m := w.stamp(&rd.Commands[i]); m != nil {
			l.stamped = append(l.stamped, m)
		}
	}
	c.restoredReady = false
	c.m.Advance(rd)
	c.cl.freeze(l, d)
}

// freeze hangs center h's process for d: a leader's Machine stands still
// and it renews nothing; a follower follows nothing and campaigns for
// nothing.
func (cl *cluster) freeze(h *host, d time.Duration) {
	defer cl.note()
	w := cl.w
	if !h.up {
		return
	}
	h.frozen = true
	h.thawGen++
	w.schedule(event{at: w.now + d, kind: evThaw, a: h.n, gen: h.thawGen})
	w.traceLine(h.name() + " freezes for " + d.String())
	if h.leading && cl.c.held == nil {
		cl.c.held = &heldReady{}
	}
}

// lose takes the center down when a frozen leader's term has run out: it
// cannot notice, let alone resign; it finds out when it wakes.
func (cl *cluster) lose(l *host) {
	defer cl.note()
	cl.w.traceLine(l.name() + " is frozen past its term (term " + strconv.FormatUint(l.term, 10) + ")")
	cl.c.stop(causeLeaseLost)
	cl.leader, l.leading = nil, false
	cl.c.t.Leader, cl.c.t.Term = 0, 0
	l.campaigning = false
}

// thaw wakes center n from the freeze of generation gen: the orders it
// stamped leave at once; then it notices whether its term still holds.
// A leader that still leads goes on; one that does not stops, and a
// follower campaigns again.
func (cl *cluster) thaw(n int, gen uint64) {
	defer cl.note()
	w := cl.w
	h := cl.host(n)
	if h == nil || !h.frozen || h.thawGen != gen {
		return
	}
	h.frozen = false
	w.traceLine(h.name() + " wakes and sends the " + strconv.Itoa(len(h.stamped)) + " orders it stamped")
	for _, m := range h.stamped {
		w.send(m)
	}
	h.stamped = nil
	switch {
	case h.leading && !cl.mayOrder():
		cl.stepDown(causeLeaseLost)
	case h.leading:
		if cl.c.held != nil && cl.c.held.rd == nil {
			cl.c.retryHeld()
		}
	case h.up:
		cl.campaign(h, w.now+cl.every)
	}
}

// takesAdmin reports whether the center takes an admin operation now: it
// is up and, with several centers, its Machine does not stand still and
// it reaches the store, so that the change is saved in the same event.
func (c *center) takesAdmin() bool {
	return c.t.Up && (c.cl == nil || c.held == nil && c.cl.maySave())
}

// Warm returns the snapshot of the warm Machine center n (from 1) keeps as
// a follower, and false when it keeps none (it leads, is down, has not
// reached the store yet, or the world has one center).
func (w *World) Warm(n int) (failover.Snapshot, bool) {
	if w.c.cl == nil {
		return failover.Snapshot{}, false
	}
	h := w.c.cl.host(n)
	if h == nil || h.leading || h.warm == nil {
		return failover.Snapshot{}, false
	}
	return h.warm.Snapshot(), true
}

// Leader returns the number of the center that leads (c1 is 1) and its
// term; 0 while none does. A world of one center has center 1 up with
// term 0 (no election).
func (w *World) Leader() (int, uint64) {
	if w.c.cl == nil {
		if w.c.t.Up {
			return 1, 0
		}
		return 0, 0
	}
	return w.c.t.Leader, w.c.t.Term
}

// validateCenterActions checks that a scenario's center actions name
// centers the world has, and that the store's faults are only scripted
// where several centers share one.
func (c Config) validateCenterActions() error {
	s := c.Scenario
	if s == nil {
		return nil
	}
	acts := make([]Action, 0, len(s.Steps)+len(s.Triggers))
	for _, st := range s.Steps {
		acts = append(acts, st.Action)
	}
	for _, tr := range s.Triggers {
		acts = append(acts, tr.Action)
	}
	for _, a := range acts {
		switch a.Verb {
		case "cut-store", "heal-store", "store-down", "store-up", "center-freeze":
			if c.Centers < 2 {
				return &ScenarioError{Line: a.Line, Msg: a.Verb + " needs several centers (centers 2 or more)"}
			}
		}
		if !history.IsCenterVerb(a.Verb) {
			continue
		}
		for _, t := range a.Targets {
			if n, ok := history.CenterNumber(t); !ok || n > c.Centers {
				return &ScenarioError{Line: a.Line, Msg: a.Verb + ": no center " + t + " (the world has " + strconv.Itoa(c.Centers) + ")"}
			}
		}
	}
	return nil
}
