package failover

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/eligibility"
	"github.com/nvrha/nvrha/failover/detector"
	"github.com/nvrha/nvrha/transport"
)

// ErrUnknownCommand is returned by Step for a result whose command the
// Machine does not know; such a result changes nothing. A result that
// arrives after its command timed out or was superseded is not an error: it
// is ignored.
var ErrUnknownCommand = errors.New("failover: result for an unknown command")

// Tick tells the Machine that time has passed: it sends due probes, counts
// timed-out commands as failed, runs the failure detectors, retries, starts
// takeovers and failbacks. Call it at least every probe interval; more often
// only makes detection finer. A now before the last one is taken as the last
// one.
func (m *Machine) Tick(now time.Time) {
	m.setNow(now)
	if !m.lastTick.IsZero() && m.now.Sub(m.lastTick) > m.cfg.Detector.AcceptablePause {
		m.recoverFromStall()
	}
	m.lastTick = m.now
	// A member is skipped while tickMember would do nothing for it, when
	// nothing changed it since it was last looked at: a change the Machine
	// shows moves the Generation, and the answers that do not (a probe
	// answered healthy, an inventory that changes nothing) wake the member
	// they answer (Step). A member probed every 200 ms and ticked every 50
	// ms needs nothing at three Ticks in four.
	start := m.Generation()
	all := m.everyMember || m.tickAll || start != m.tickGen
	m.tickAll = false
	for _, g := range m.groups {
		for _, mem := range g.members {
			// A member looked at may change the others (a standby found
			// down ends its takeover): the rest are all looked at.
			all = all || m.Generation() != start
			if all || !m.quiet(mem) {
				m.tickMember(mem)
				m.noteQuiet(mem)
			}
		}
	}
	for _, g := range m.groups {
		for _, mem := range g.members {
			if t := mem.tk; t != nil && t.rec == mem {
				m.tickTakeover(t)
			}
		}
	}
	for _, o := range m.orphans {
		if !m.verifying(o) && m.due(o) {
			m.send(o, o.cmd)
		}
	}
	m.tickUnverified()
	m.settle()
	// What changed in this Tick (a member found down, a takeover's step,
	// an assignment) may have changed members looked at before it: the
	// next Tick looks at every one.
	m.tickGen = m.Generation()
	m.tickAll = m.tickGen != start
}

// noteQuiet notes, after tickMember, until when it would do nothing for
// mem: the earliest of the times at which it would act (a probe or an
// inventory due, an order due again, a back-off over), the earliest
// deadline of a command in flight, and the detector's calm. Its quiet
// time is 0 when it acts at every Tick.
func (m *Machine) noteQuiet(mem *member) {
	mem.calmKnown = false
	if mem.health != nvrha.HealthDown {
		if c, ok := mem.det.(calmDetector); ok {
			mem.calmUntil, mem.calmKnown = c.CalmUntil()
		}
	}
	if mem.fenceHeld || mem.stoodDown && mem.tk == nil && !mem.resume.pending() {
		mem.quietUntil = 0
		return
	}
	at := mem.nextProbe
	if !mem.inventory.pending() {
		at = min(at, mem.nextInv)
	}
	if mem.retryAt != 0 && !mem.retryNoted {
		at = min(at, mem.retryAt)
	}
	// Deadlines compare as due compares them, with the caller's clock:
	// they all come from it.
	mem.deadline = time.Time{}
	for _, o := range [...]*op{&mem.probe, &mem.inventory, &mem.fence, &mem.resume, &mem.standDown} {
		switch {
		case !o.pending():
		case !o.inFlight():
			at = min(at, o.retryAt)
		case mem.deadline.IsZero() || o.cmd.Deadline.Before(mem.deadline):
			mem.deadline = o.cmd.Deadline
		}
	}
	mem.quietUntil = at
}

// quiet reports whether tickMember would do nothing for mem now, as
// noteQuiet found when it last looked, nothing having changed it since.
func (m *Machine) quiet(mem *member) bool {
	return mem.quietUntil != 0 && !m.reached(mem.quietUntil) &&
		(mem.deadline.IsZero() || m.now.Before(mem.deadline)) &&
		(mem.health == nvrha.HealthDown || mem.calmKnown && !m.now.After(mem.calmUntil))
}

// calmDetector is a detector that tells until when it cannot fail.
type calmDetector interface {
	CalmUntil() (time.Time, bool)
}

// Step hands the Machine the result of a command it asked for. Results may
// arrive late, twice or out of order: one whose command is no longer awaited
// is ignored.
func (m *Machine) Step(now time.Time, r Result) error {
	m.setNow(now)
	o, ok := m.ops.get(r.ID)
	if !ok {
		if r.ID == 0 || r.ID >= m.nextCmdID {
			return fmt.Errorf("%w: id %d", ErrUnknownCommand, r.ID)
		}
		return nil
	}
	prober := m.probeOwner(o) // the member whose probe this is, or nil
	m.wake(o, prober)
	current := r.ID == o.cmd.ID && o.inFlight()
	earlier := (r.ID == o.prev || r.ID == o.cmd.ID && !o.inFlight()) && r.Err == nil
	older := prober != nil && !current && !earlier && r.Err == nil && slices.Contains(prober.olderProbes[:], r.ID)
	if !current && !earlier && !older {
		// Superseded, or a failure of an attempt already retried.
		if r.ID != o.cmd.ID {
			m.ops.delete(r.ID)
		}
		if r.ID == o.prev {
			o.prev, o.prevSent = 0, 0
		}
		return nil
	}
	sent := o.sentAt
	switch {
	case r.ID == o.prev:
		sent = o.prevSent
	case older:
		// Its send time is not kept: the answer tells that the server
		// lives, and nothing about a takeover confirmed meanwhile.
		sent = 0
	}
	m.ops.delete(o.cmd.ID)
	if o.prev != 0 {
		m.ops.delete(o.prev)
		o.prev, o.prevSent = 0, 0
	}
	if prober != nil {
		m.forgetOlderProbes(prober)
	}
	// The answer is the order's, whichever attempt carried it.
	o.sentAt, o.retryAt = sent, 0
	r.ID = o.cmd.ID
	switch o.cmd.Kind {
	case CmdProbe:
		if prober != nil {
			m.probeResult(prober, r)
		} else {
			m.unverifiedResult(o, r)
		}
	case CmdInventory:
		if mem := m.servers[o.cmd.Server]; mem != nil && o == &mem.inventory {
			m.drop(&mem.inventory)
			if r.Err == nil && !m.sameInventory(mem, r.Facts) && r.Facts.ID == mem.facts.ID && r.Facts.Validate() == nil {
				// Only a change is persisted: a center reads every
				// server's inventory over and over, and nearly every
				// answer is the same.
				mem.facts = r.Facts.Clone()
				mem.spaceKnown = false
				m.markMember(mem)
				m.touch(mem.group)
			}
		}
	default:
		m.commandResult(o, r.Err)
	}
	m.settle()
	return nil
}

// wake makes the next Tick look at the member an answer to o is about:
// the answer may change when it is next due without moving the
// Generation (a probe no longer awaited, the detector told of it). An
// order's answer makes it look at every member.
func (m *Machine) wake(o *op, prober *member) {
	switch {
	case prober != nil:
		prober.quietUntil = 0
	case o.cmd.Kind == CmdProbe:
		// No member's: it changes none.
	case o.cmd.Kind == CmdInventory:
		if mem := m.servers[o.cmd.Server]; mem != nil {
			mem.quietUntil = 0
		}
	default:
		m.tickAll = true
	}
}

// settle runs what follows any change: assignment of free standbys to
// uncovered failed servers, then status events.
func (m *Machine) settle() {
	// Whatever can make a standby assignable (health, takeovers, facts,
	// settings) also marks statuses dirty, so a probe that changed nothing
	// costs no walk over the center.
	if m.statusDirty {
		m.assignStandbys()
	}
	m.refreshStatuses()
}

func (m *Machine) setNow(now time.Time) {
	if now.After(m.now) {
		m.setClock(now)
	}
}

// setClock sets now, and nowAt with it (see reached).
func (m *Machine) setClock(now time.Time) {
	m.now = now
	m.nowAt = 0
	if at := instantOf(now); at > 1 && at.time().Equal(now) {
		m.nowAt = at
	}
}

// reached reports whether now is at or past x, as !m.now.Before(x.time())
// does, without making a time.Time of x: Tick asks it several times of
// every member. nowAt is now as an instant when it is one exactly (after
// 1970, before 2262); x.time() has no monotonic reading, so the times
// compare by their wall clocks, and then comparing the instants is
// comparing the times.
func (m *Machine) reached(x instant) bool {
	if m.nowAt != 0 {
		return m.nowAt >= x
	}
	return !m.now.Before(x.time())
}

// send queues a command and makes o await it. When c is o's command sent
// again unchanged, the attempt before stays awaited as o.prev.
func (m *Machine) send(o *op, c Command) {
	m.markOrder(o, c)
	if c.Kind != CmdProbe && c.Kind != CmdInventory {
		m.orderShown(c.Server)
	}
	if o.prev != 0 {
		m.ops.delete(o.prev)
		o.prev, o.prevSent = 0, 0
	}
	if o.cmd.ID != 0 {
		if sameOrder(o.cmd, c) {
			o.prev, o.prevSent = o.cmd.ID, o.sentAt
			m.ops.set(o.prev, o)
		} else {
			m.ops.delete(o.cmd.ID)
		}
	}
	if c.Kind == CmdTakeover {
		if s := m.servers[c.Server]; s != nil {
			m.noteTakeoverOrder(s)
		}
	}
	c.ID = m.nextCmdID
	m.nextCmdID++
	timeout := m.cfg.CommandTimeout
	if c.Kind == CmdProbe {
		timeout = m.cfg.ProbeTimeout
	}
	c.Deadline = m.now.Add(timeout)
	o.cmd, o.sentAt, o.retryAt = c, instantOf(m.now), 0
	m.ops.set(c.ID, o)
	m.outbox = append(m.outbox, c)
}

// sameOrder reports whether b is a again: the same order to the same
// server under the same epoch.
func sameOrder(a, b Command) bool {
	return a.Kind == b.Kind && a.Server == b.Server && a.Recording == b.Recording && a.Epoch == b.Epoch &&
		slices.Equal(a.Cameras, b.Cameras)
}

// sameInventory reports whether an inventory answer tells nothing new: the
// same facts, and no disagreement with what the last probe said about an
// empty recording space.
func (m *Machine) sameInventory(mem *member, f nvrha.Facts) bool {
	return f.Equal(mem.facts) && (!mem.spaceKnown || mem.spaceEmpty == f.HasEmptyRecordingSpace())
}

// drop stops awaiting o's command and its previous attempts, and clears o.
func (m *Machine) drop(o *op) {
	m.markOrder(o, Command{})
	if o.pending() && o.cmd.Kind != CmdProbe && o.cmd.Kind != CmdInventory {
		m.orderShown(o.cmd.Server)
	}
	if o.cmd.ID != 0 {
		m.ops.delete(o.cmd.ID)
	}
	if o.prev != 0 {
		m.ops.delete(o.prev)
	}
	if mem := m.probeOwner(o); mem != nil {
		m.forgetOlderProbes(mem)
	}
	o.clear()
}

// probeOwner returns the member whose probe o is, or nil. A member that
// leaves drops its probe (forget), so a probe still awaited is a current
// member's.
func (m *Machine) probeOwner(o *op) *member {
	if o.cmd.Kind != CmdProbe {
		return nil
	}
	if mem := o.prober; mem != nil && o == &mem.probe {
		return mem
	}
	return nil
}

// keepOlderProbe keeps probe id awaited among mem's older probes, evicting
// the oldest when they are all taken.
func (m *Machine) keepOlderProbe(mem *member, id uint64) {
	old := &mem.olderProbes
	if old[0] != 0 {
		m.ops.delete(old[0])
	}
	copy(old[:], old[1:])
	old[len(old)-1] = id
}

func (m *Machine) forgetOlderProbes(mem *member) {
	for i, id := range mem.olderProbes {
		if id != 0 {
			m.ops.delete(id)
			mem.olderProbes[i] = 0
		}
	}
}

// track registers o in the ops map under the IDs it awaits, after o was
// copied to a new place.
func (m *Machine) track(o *op) {
	if o.cmd.ID != 0 {
		m.ops.set(o.cmd.ID, o)
	}
	if o.prev != 0 {
		m.ops.set(o.prev, o)
	}
}

// failed marks o's command as failed and schedules its retry with capped
// exponential backoff. Backoff has no jitter: the Machine must be
// deterministic, and each server's retries are already spread by when its
// failure was seen. The failed attempt stays awaited until the retry: a
// late success ends the wait.
func (m *Machine) failed(o *op) {
	o.attempts++
	o.retryAt = instantOf(m.now.Add(m.retryDelay(o.attempts)))
}

// retryDelay is the back-off before the attempt that follows n failed
// ones: RetryBase, doubled for each failure after the first, up to
// RetryMax.
func (m *Machine) retryDelay(n int) time.Duration {
	d := m.cfg.RetryBase
	for i := 1; i < n && d < m.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, m.cfg.RetryMax)
}

// due reports whether a pending op needs attention now: its command timed
// out (and is marked failed) or its retry time came. It returns true when
// the op should be resent.
func (m *Machine) due(o *op) bool {
	if !o.pending() {
		return false
	}
	if o.inFlight() {
		if m.now.Before(o.cmd.Deadline) {
			return false
		}
		m.failed(o)
	}
	return m.reached(o.retryAt)
}

func (m *Machine) emit(e Event) {
	e.At = m.now
	m.events = append(m.events, e)
}

// Bounds on epochs. A center issues epochs one at a time, so a recording
// server's epoch grows by one per change of who records its cameras: a real
// center never comes near the end of 64 bits, and only a stale-epoch answer
// can move it further. Such an answer is believed only within MaxEpochJump
// of the center's own epoch and below MaxEpoch, so that no answer can make
// epochs wrap or strand the center at the edge of their range.
const (
	// MaxEpoch is the highest epoch a Machine adopts from an answer; it
	// leaves 2^63 epochs of room above it.
	MaxEpoch nvrha.Epoch = 1 << 63
	// MaxEpochJump is the furthest one stale-epoch answer moves a recording
	// server's epoch forward: a center restored from a copy of its store
	// older than 2^32 takeovers is not a case to serve.
	MaxEpochJump nvrha.Epoch = 1 << 32
)

// plausibleEpoch reports whether an agent's newest epoch, above the
// center's own, is one a center of ours can have issued.
func plausibleEpoch(own, newest nvrha.Epoch) bool {
	return newest <= MaxEpoch && newest-own <= MaxEpochJump
}

// nextEpoch draws the next epoch for rec's cameras. Epochs only reach
// MaxEpoch + 2^63 after 2^63 takeovers of one server; were that ever so,
// the epoch stays where it is rather than wrap to zero.
func (m *Machine) nextEpoch(rec nvrha.ServerID) nvrha.Epoch {
	e := m.epochs[rec]
	if e < ^nvrha.Epoch(0) {
		e++
	}
	m.epochs[rec] = e
	m.markEpoch(rec)
	m.stateGen++
	return e
}

// Epoch returns the newest epoch issued for a recording server's cameras.
func (m *Machine) Epoch(recording nvrha.ServerID) nvrha.Epoch { return m.epochs[recording] }

// tickMember probes, reads inventory, runs the detector and retries the
// member's own orders.
func (m *Machine) tickMember(mem *member) {
	if mem.probe.inFlight() && !m.now.Before(mem.probe.cmd.Deadline) {
		m.drop(&mem.probe)
		mem.reachable = false
		m.observe(mem, false)
	}
	if m.reached(mem.nextProbe) && (!mem.probe.pending() || mem.probe.inFlight() && m.cfg.Detector.Kind == detector.KindPhiAccrual) {
		// A probe still unanswered when the next is due makes the server
		// a suspect: it is probed every SuspectInterval until it answers,
		// the two newest probes awaited together.
		every := m.cfg.Detector.ProbeInterval
		if mem.probe.pending() {
			every = m.cfg.Detector.SuspectInterval
			// The overdue probe is a miss, as if it had timed out: the
			// detector hears of it, and a stand-down is not expected to
			// reach the server.
			mem.reachable = false
			m.observe(mem, false)
			if p := mem.probe.prev; p != 0 {
				m.keepOlderProbe(mem, p)
				mem.probe.prev, mem.probe.prevSent = 0, 0
			}
		}
		m.send(&mem.probe, Command{Kind: CmdProbe, Server: mem.facts.ID})
		mem.probe.prober = mem
		next := mem.nextProbe.time().Add(every)
		if next.Before(m.now) {
			next = m.now.Add(every)
		}
		mem.nextProbe = instantOf(next)
	}
	if mem.health != nvrha.HealthDown && mem.det.Failed(m.now) {
		m.markDown(mem)
	}
	if mem.inventory.inFlight() && !m.now.Before(mem.inventory.cmd.Deadline) {
		m.drop(&mem.inventory)
	}
	if !mem.inventory.pending() && m.reached(mem.nextInv) && mem.health == nvrha.HealthUp {
		m.send(&mem.inventory, Command{Kind: CmdInventory, Server: mem.facts.ID})
		mem.nextInv = instantOf(m.now.Add(m.cfg.InventoryInterval))
	}
	if mem.fenceHeld {
		m.releaseHeld(mem)
	} else if m.due(&mem.fence) {
		m.send(&mem.fence, mem.fence.cmd)
	}
	if m.due(&mem.resume) {
		// Owed until acknowledged, whatever the server's settings; only a
		// new takeover of its cameras cancels it.
		if mem.tk == nil {
			m.send(&mem.resume, mem.resume.cmd)
		} else {
			m.drop(&mem.resume)
			m.stateGen++
		}
	}
	if m.due(&mem.standDown) {
		if t := mem.tk; t != nil && t.rec == mem && (t.phase == PhaseStarting || t.phase == PhaseActive) {
			c := mem.standDown.cmd
			c.Epoch = t.epoch
			m.send(&mem.standDown, c)
		} else {
			m.drop(&mem.standDown)
		}
	}
	if mem.retryAt != 0 && !mem.retryNoted && m.reached(mem.retryAt) {
		// Its back-off is over: it may be assigned again.
		mem.retryNoted = true
		m.statusesMayChange(mem.group)
	}
	if mem.stoodDown && mem.tk == nil && !mem.resume.pending() {
		// Stood down, and nobody covers it now: it must record again, or
		// its cameras record nowhere.
		m.orderResume(mem)
	}
}

func (m *Machine) probeResult(mem *member, r Result) {
	sent := mem.probe.sentAt.time()
	m.drop(&mem.probe)
	mem.reachable = r.Err == nil
	answered := r.Err == nil && (r.Report.Server == "" || r.Report.Server == mem.facts.ID)
	ok := answered && r.Report.Healthy
	m.observe(mem, ok)
	t := mem.tk
	if answered && !ok && mem.role == RoleRecording {
		mem.abnormalAt = instantOf(m.now)
		if t != nil && t.rec == mem && t.phase == PhaseResuming {
			// Abnormal in its failback: it is no fit to take its cameras
			// back, whatever its detector says yet. The failback is given
			// up as when the server is found down; the standby keeps the
			// cameras, and a server that records them is told to stop.
			m.abandonFailback(t)
		}
	}
	if answered && !ok && t != nil && t.rec == mem && r.Report.Recording &&
		(t.phase == PhaseStarting || t.phase == PhaseActive) && !mem.standDown.pending() && m.standDownDue(mem, t) {
		// Abnormal, covered, and still recording: tell it to stop.
		m.standDown(mem)
	}
	if answered && !ok && mem.fenceHeld && !sent.Before(mem.quitAt.time()) {
		// Given up while silent, it answers abnormal: no takeover to give
		// back, and the release held for it can reach it.
		m.unholdFence(mem)
	}
	if !ok {
		return
	}
	if !mem.spaceKnown || mem.spaceEmpty != r.Report.HasEmptyRecordingSpace {
		mem.spaceKnown, mem.spaceEmpty = true, r.Report.HasEmptyRecordingSpace
		m.statusesMayChange(mem.group)
	}
	switch {
	case mem.role == RoleStandby:
		m.checkCover(mem, r.Report.Covering, sent)
	case t == nil:
		m.checkRecordsItself(mem, r.Report.Recording, sent)
	}
	if t == nil || sent.Before(t.confirmedAt) {
		// A probe sent before the confirmation says nothing about it.
		return
	}
	switch {
	case t.sb == mem && t.phase == PhaseActive && r.Report.Covering != t.rec.facts.ID:
		m.coverDenied(t)
	case t.sb == mem && t.phase == PhaseActive && mem.takeoverFailed:
		// Its probe shows the cover it confirmed: a standby that failed
		// takeovers is proven again. An acknowledgement alone proves
		// nothing, since a broken agent acknowledges what it never does.
		mem.takeoverFailed, mem.refusals, mem.retryAt = false, 0, 0
		m.markMember(mem)
		m.touch(mem.group)
	case t.rec == mem && t.phase == PhaseResuming && !t.resumedAt.IsZero() && !sent.Before(t.resumedAt) && r.Report.Recording:
		m.beginRelease(t)
	}
}

// coverDenied handles a healthy probe of t's standby, sent after it
// confirmed t, that says it does not cover t's recording server: it lost
// the takeover (a restart), or it acknowledged an order it never carried
// out, or its reports are absurd or replayed. The denial counts as a
// failed attempt: the takeover is ordered again under the same epoch,
// which a restarted standby accepts as a retry, after a back-off that
// doubles with each denial (Config.RetryBase up to RetryMax), and once
// denials and failed orders reach TakeoverAttempts the standby is given
// up like one that refuses takeovers, and the next one tried. Denials
// more than FailedStandbyBackoff apart are not in a row: a standby that
// restarts now and then during a long takeover is not given up for it,
// and one that denies again and again gets at most TakeoverAttempts
// orders in that time.
func (m *Machine) coverDenied(t *takeover) {
	if !t.lastDenied.IsZero() && m.now.Sub(t.lastDenied) >= m.cfg.FailedStandbyBackoff {
		t.denied = 0
	}
	t.denied = min(t.denied+1, maxDenials)
	t.lastDenied = m.now
	if int(t.denied) >= m.cfg.TakeoverAttempts {
		m.standbyFailed(t, fmt.Sprintf("its probes denied the takeover it acknowledged %d times in a row", t.denied))
		return
	}
	t.phase = PhaseStarting
	m.markTakeover(t)
	m.drop(&t.cmd)
	t.cmd.attempts = int(t.denied)
	t.giveUp = m.reorderAt(t).Add(m.cfg.TakeoverTimeout)
	m.touchTakeover(t.rec, t.sb)
}

// standDownDue reports whether recording server r, abnormal and
// recording under takeover t, may be told to stand down now: at once,
// unless it refused the last stand-downs under t's epoch as stale, then
// after the back-off of as many failures from the last refusal.
func (m *Machine) standDownDue(r *member, t *takeover) bool {
	if r.standDownRefused == 0 || r.standDownEpoch != t.epoch {
		return true
	}
	return !m.now.Before(r.standDownRefusedAt.time().Add(m.retryDelay(r.standDownRefused)))
}

// reorderAt is when a takeover whose standby's probes denied it is
// ordered again: a back-off after the last denial (coverDenied).
func (m *Machine) reorderAt(t *takeover) time.Time {
	return t.lastDenied.Add(m.retryDelay(int(t.denied)))
}

// readopt gives back to standby s the takeover of recording server claim
// when s, given up while silent (its release held, holdFence), answers
// that it records claim's cameras still and claim is failed and covered
// by no one: a takeover under a new epoch, which s accepts without a gap
// in the footage, rather than a release and a takeover by whoever is
// free. It reports whether it did.
func (m *Machine) readopt(s *member, claim nvrha.ServerID) bool {
	r := m.servers[claim]
	if !s.fenceHeld || s.fence.cmd.Recording != claim || r == nil || r.group != s.group || r.tk != nil || !r.active() ||
		r.health != nvrha.HealthDown || s.tk != nil || !s.active() || s.health != nvrha.HealthUp || s.retryAt != 0 ||
		!s.emptySpace() || !eligibility.CanCover(s.facts, r.facts) {
		return false
	}
	m.drop(&s.fence)
	s.fenceHeld, s.takeoverFailed = false, false
	m.markMember(s)
	if s.stray != "" {
		s.stray, s.strayFences, s.strayAt = "", 0, 0
	}
	m.startTakeover(r, s)
	return true
}

// maxDenials bounds takeover.denied; TakeoverAttempts beyond it give a
// standby up after that many denials.
const maxDenials = 255

// checkCover is the safeguard against a stray cover: a standby whose
// probe says it records the cameras of a recording server it has no
// takeover of (it acknowledged a release it never carried out, or its
// agent lost track of an order) is not protection, and must let go, or
// the footage of those cameras is split where no ledger finds it. It
// counts as having no empty recording space (shown "Warning", never
// assigned) for as long as its probes say so, and it is fenced off with
// a release of that server under a new epoch, ordered again after a
// back-off that doubles (Config.RetryBase up to RetryMax) while its
// probes still claim the cover: under the epoch of the release it last
// acknowledged when that was the release of this server and no newer
// epoch was issued since (the same order again), else under a new one. A
// probe sent before the standby last let go of a cover says nothing about
// now.
func (m *Machine) checkCover(s *member, claim nvrha.ServerID, sent time.Time) {
	if claim == "" || s.tk != nil && s.tk.sb == s && s.tk.rec.facts.ID == claim {
		if s.stray != "" {
			s.stray, s.strayFences, s.strayAt = "", 0, 0
			m.statusesMayChange(s.group)
		}
		if s.fenceHeld && !sent.Before(s.quitAt.time()) {
			// It answers: the release held for it can reach it.
			m.unholdFence(s)
		}
		return
	}
	if sent.Before(s.quitAt.time()) {
		return
	}
	if m.readopt(s, claim) {
		return
	}
	if s.fenceHeld {
		m.unholdFence(s)
	}
	if s.stray != claim {
		s.stray = claim
		m.statusesMayChange(s.group)
	}
	if s.fence.pending() || m.now.Before(s.strayAt.time()) {
		return
	}
	r := m.servers[claim]
	if _, issued := m.epochs[claim]; !issued && (r == nil || r.role != RoleRecording) || claim.Validate() != nil {
		// No server of this center: there is no epoch to release it
		// under, and an agent's fancy must not grow the center's state.
		return
	}
	// The release it acknowledged, sent again, is a retry under the same
	// epoch; any other is a change of who records, with an epoch of its own.
	e := m.epochs[claim]
	if claim != s.quitRec || e != s.quitEpoch {
		e = m.nextEpoch(claim)
	}
	c := Command{Kind: CmdRelease, Server: s.facts.ID, Recording: claim, Epoch: e}
	if r != nil && r.role == RoleRecording {
		c.Cameras = slices.Clone(r.facts.Cameras)
	}
	s.strayFences = min(s.strayFences+1, 16)
	s.strayAt = instantOf(m.now.Add(m.retryDelay(int(s.strayFences))))
	m.send(&s.fence, c)
}

// checkRecordsItself is the safeguard behind "Normal" for an uncovered
// recording server: it answered healthy, so it must record its own cameras.
// One that says it does not (an agent that restarted stood down, an order
// lost with the debt it created, a bug on either side) is told to resume,
// and its ledger interval ends where it was last seen recording: the ledger
// never names a server as holding footage it says it is not recording.
//
// A server is given the acceptable pause after it came up or acknowledged
// a resume before its answer counts, since a stream takes a moment to start.
func (m *Machine) checkRecordsItself(mem *member, recording bool, sent time.Time) {
	if recording {
		mem.seenRecording = instantOf(sent)
		return
	}
	if len(mem.facts.Cameras) == 0 || mem.stoodDown || mem.resume.pending() {
		return
	}
	grace := m.cfg.Detector.AcceptablePause
	if sent.Before(mem.upSince.time().Add(grace)) || sent.Before(mem.resumed.time().Add(grace)) {
		return
	}
	m.ledger.close(mem.facts.Cameras, mem.facts.ID, max(mem.seenRecording, mem.upSince).time())
	mem.stoodDown = true
	m.markMember(mem)
	m.orderResume(mem)
	m.statusesMayChange(mem.group)
	m.emit(Event{Kind: EventNotRecording, Group: mem.group.id, Server: mem.facts.ID,
		Detail: "answered healthy but not recording its cameras: resume ordered"})
}

// observe feeds the detector and applies the health transitions it implies.
func (m *Machine) observe(mem *member, ok bool) {
	mem.det.Observe(m.now, ok)
	if ok {
		mem.lastOK = instantOf(m.now)
	}
	failed := mem.det.Failed(m.now)
	switch {
	case failed && mem.health != nvrha.HealthDown:
		m.markDown(mem)
	case ok && !failed && mem.health != nvrha.HealthUp:
		m.markUp(mem)
	}
}

func (m *Machine) markDown(mem *member) {
	mem.health = nvrha.HealthDown
	m.statusesMayChange(mem.group)
	m.emit(Event{Kind: EventServerDown, Group: mem.group.id, Server: mem.facts.ID})
	if mem.role == RoleRecording {
		changed := m.ledger.close(mem.facts.Cameras, mem.facts.ID, mem.lastSeen(m.now))
		if mem.active() && mem.tk == nil {
			// A server still covered (after a center restart) is not in a
			// new outage: counting it again would double its hold-down.
			m.noteFailure(mem)
			changed = true
		}
		if changed {
			m.stateGen++
		}
		if t := mem.tk; t != nil {
			m.recordingDownInTakeover(t)
		}
		return
	}
	if t := mem.tk; t != nil {
		m.standbyDownInTakeover(t)
	}
}

func (m *Machine) markUp(mem *member) {
	mem.health = nvrha.HealthUp
	mem.upSince = instantOf(m.now)
	m.statusesMayChange(mem.group)
	m.emit(Event{Kind: EventServerUp, Group: mem.group.id, Server: mem.facts.ID})
	switch {
	case mem.role == RoleStandby:
		if mem.takeoverFailed && mem.retryAt == 0 && !mem.fence.pending() {
			mem.takeoverFailed = false
			m.markMember(mem)
			m.stateGen++
		}
	case mem.tk == nil && !mem.stoodDown:
		// An uncovered recording server that is up records its own cameras
		// (a stood-down one only once it acknowledges its resume).
		// After a center restart the intervals are usually open still:
		// nothing to persist then.
		if m.ledger.open(mem.facts.Cameras, mem.facts.ID, mem.facts.ID, m.epochs[mem.facts.ID], m.now) {
			m.stateGen++
		}
	}
}

// commandResult applies the outcome of a takeover, release, resume or
// stand-down order.
func (m *Machine) commandResult(o *op, err error) {
	var stale *transport.StaleEpochError
	if errors.As(err, &stale) && stale.Newest > m.epochs[o.cmd.Recording] && o.cmd.Recording != "" {
		if !plausibleEpoch(m.epochs[o.cmd.Recording], stale.Newest) {
			// No center of ours issued that epoch: a broken or hostile
			// agent. Adopting it would push the epochs to the edge of
			// their range; the answer counts as a plain refusal instead,
			// and a standby that keeps refusing is given up.
			stale = nil
		} else {
			// Someone holds a newer epoch than this center issued (a store
			// restored from an old copy): jump past it so the next attempt
			// wins.
			m.epochs[o.cmd.Recording] = stale.Newest
			m.markEpoch(o.cmd.Recording)
			m.stateGen++
		}
	}
	mem := m.servers[o.cmd.Server]
	owed := mem == nil || o == &mem.fence || o == &mem.resume
	switch {
	case owed && stale != nil:
		// An owed order refused as stale would be refused forever: it is
		// sent again under a newer epoch, at once the first time (a center
		// restored from an old copy of its store wins at once), after the
		// back-off of any failure from then on: an agent that claims a
		// newer epoch at every order gets one every RetryMax at most.
		m.failed(o)
		c := o.cmd
		c.Epoch = m.nextEpoch(o.cmd.Recording)
		m.markOrder(o, c)
		o.cmd.Epoch = c.Epoch
		if o.attempts == 1 {
			m.send(o, o.cmd)
		}
	case owed && err != nil:
		m.failed(o)
	case mem == nil && o.cmd.Kind == CmdRelease:
		// Owed until a probe shows it let go (unverified); its ledger
		// interval ends now, as a member's does.
		m.owedOrderDone(o)
		m.stateGen++
		m.verifyRelease(o)
	case mem == nil:
		m.owedOrderDone(o)
		m.orphans = slices.DeleteFunc(m.orphans, func(x *op) bool { return x == o })
		m.markOrphans()
		m.stateGen++
	case o == &mem.fence:
		m.owedOrderDone(o)
		mem.quitAt, mem.quitRec, mem.quitEpoch = instantOf(m.now), o.cmd.Recording, o.cmd.Epoch
		if mem.stray == o.cmd.Recording && mem.strayFences == 0 {
			// The cover its probes showed while the release was owed is
			// let go: the standby is ready at once. A stray told again and
			// again waits for a probe that shows it let go.
			mem.stray = ""
		}
		m.drop(&mem.fence)
		if mem.takeoverFailed && mem.retryAt == 0 && mem.health == nvrha.HealthUp {
			mem.takeoverFailed = false
			m.markMember(mem)
		}
		m.touch(mem.group)
	case o == &mem.resume:
		m.owedOrderDone(o)
		m.drop(&mem.resume)
		mem.stoodDown = false
		mem.resumed = instantOf(m.now)
		m.markMember(mem)
		m.stateGen++
	case o == &mem.standDown:
		if err != nil && stale == nil {
			m.failed(o)
			return
		}
		if stale != nil {
			if mem.standDownEpoch != o.cmd.Epoch {
				mem.standDownRefused, mem.standDownEpoch = 0, o.cmd.Epoch
			}
			mem.standDownRefused++
			mem.standDownRefusedAt = instantOf(m.now)
		} else {
			mem.standDownRefused = 0
		}
		m.drop(&mem.standDown)
	case mem.tk != nil && o == &mem.tk.cmd:
		m.takeoverResult(mem.tk, err, stale != nil)
	}
}

// owedOrderDone updates the ledger for an acknowledged owed order: a
// released standby has stopped recording the cameras by now; a resumed
// recording server records them since the order was sent.
func (m *Machine) owedOrderDone(o *op) {
	switch o.cmd.Kind {
	case CmdRelease:
		m.ledger.close(o.cmd.Cameras, o.cmd.Server, m.now)
	case CmdResume:
		if mem := m.servers[o.cmd.Server]; mem != nil {
			m.ledger.open(mem.facts.Cameras, mem.facts.ID, mem.facts.ID, o.cmd.Epoch, o.sentAt.time())
		}
	}
}

// HasReady reports whether Ready would return anything.
func (m *Machine) HasReady() bool {
	return m.stateGen != m.savedGen || len(m.outbox) > 0 || len(m.events) > 0
}

// Ready returns what the Machine has for its caller: state to persist (when
// it changed), then commands to send and events to publish. It changes
// nothing; Advance acknowledges it.
func (m *Machine) Ready() Ready {
	var rd Ready
	m.ReadyInto(&rd)
	return rd
}

// ReadyInto is Ready into rd's memory: it overwrites all of rd, and keeps
// the arrays of rd's Commands and Events when they are large enough. A
// caller done with each Ready before it asks for the next (the commands
// sent, the events published, Advance called) spares two allocations a
// round; one that keeps a Ready's slices must use Ready.
func (m *Machine) ReadyInto(rd *Ready) {
	cmds, evs := rd.Commands, rd.Events
	*rd = Ready{Commands: append(cmds[:0], m.outbox...), Events: append(evs[:0], m.events...)}
	// What the last round held beyond this one's length is let go (and
	// beyond the last round's, it was already).
	if n := len(rd.Commands); n < len(cmds) {
		clear(cmds[n:])
	}
	if n := len(rd.Events); n < len(evs) {
		clear(evs[n:])
	}
	if m.stateGen != m.savedGen {
		m.readyPersist(rd)
		rd.gen = m.stateGen
	}
}

// Advance acknowledges a Ready: its state was persisted, its commands sent
// and its events published. Anything that arrived after that Ready stays for
// the next one.
func (m *Machine) Advance(rd Ready) {
	if (rd.State != nil || rd.Changes != nil) && rd.gen > m.savedGen {
		m.savedGen = rd.gen
	}
	if rd.Changes != nil {
		m.changesAdvanced(rd.changeSeq)
	}
	m.outbox = m.outbox[:copy(m.outbox, m.outbox[min(len(rd.Commands), len(m.outbox)):])]
	m.events = m.events[:copy(m.events, m.events[min(len(rd.Events), len(m.events)):])]
}

// recoverFromStall handles a gap between Ticks longer than the acceptable
// pause: the center itself stalled (a GC or VM pause, a slow store), so the
// silence it saw is its own, not the servers'. Every detector starts afresh,
// every server is probed now, and starting takeovers get their full time
// again; nothing is declared failed on the stalled center's account.
func (m *Machine) recoverFromStall() {
	// Every member is due now, as no quiet time knows.
	m.tickAll = true
	for _, g := range m.groups {
		for _, mem := range g.members {
			mem.det.Reset()
			if mem.probe.pending() {
				m.drop(&mem.probe)
			}
			mem.nextProbe = instantOf(m.now)
			if t := mem.tk; t != nil && t.rec == mem && t.phase == PhaseStarting {
				t.giveUp = m.now.Add(m.cfg.TakeoverTimeout)
			}
		}
	}
}
