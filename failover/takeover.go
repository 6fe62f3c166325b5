package failover

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/eligibility"
	"github.com/nvrha/nvrha/failover/assign"
)

// assignStandbys starts a takeover for every failed, uncovered, active
// recording server that a free standby fits, group by group, with the
// assignment the config asks for (optimal by default, package assign).
func (m *Machine) assignStandbys() {
	for _, g := range m.groups {
		if !g.protection {
			continue
		}
		m.needCover, m.free = m.needCover[:0], m.free[:0]
		for _, mem := range g.members {
			switch {
			case mem.role == RoleRecording && mem.active() && mem.health == nvrha.HealthDown && mem.tk == nil:
				m.needCover = append(m.needCover, assign.Recording{ID: mem.facts.ID, Channels: mem.facts.LicenseChannels,
					Priority: int(mem.priority), Cameras: len(mem.facts.Cameras)})
			case mem.role == RoleStandby && mem.tk == nil && mem.ready():
				m.free = append(m.free, assign.Standby{ID: mem.facts.ID, Channels: mem.facts.LicenseChannels})
			}
		}
		if len(m.needCover) == 0 {
			continue
		}
		m.assignFrom(m.free)
		if len(m.needCover) == 0 {
			continue
		}
		// Standbys that failed a takeover go last, once their back-off is
		// over, to the servers nothing else could cover.
		m.free = m.free[:0]
		for _, mem := range g.members {
			if mem.role == RoleStandby && mem.tk == nil && mem.retryable(m.now) {
				m.free = append(m.free, assign.Standby{ID: mem.facts.ID, Channels: mem.facts.LicenseChannels})
			}
		}
		m.assignFrom(m.free)
		m.reclaim(g)
	}
}

// reclaim frees standbys for the failed servers of g that no free standby
// could cover (m.needCover): a standby that covers a server which has
// recovered and only waits out its hold-down saves no footage, while the
// waiting server loses footage every second. Such a takeover fails back
// now, make-before-break, so the recovered server loses nothing; the freed
// standby goes to the waiting server as soon as it is released.
//
// Each waiting server, highest priority and then most cameras first,
// counts on a failback already under way whose standby fits it; otherwise
// it reclaims the standby of the recovered server that flapped least
// (fewest outages in the flap window, then longest up), so a flapping
// server keeps its standby longest. Config.Failback.NoReclaim turns this
// off.
func (m *Machine) reclaim(g *group) {
	if m.cfg.Failback.NoReclaim || len(m.needCover) == 0 {
		return
	}
	var freeing, held []*takeover
	for _, mem := range g.members {
		t := mem.tk
		if t == nil || t.rec != mem || mem.health != nvrha.HealthUp {
			continue
		}
		switch t.phase {
		case PhaseResuming, PhaseReleasing:
			freeing = append(freeing, t)
		case PhaseActive:
			held = append(held, t)
		}
	}
	if len(freeing)+len(held) == 0 {
		return
	}
	slices.SortStableFunc(held, func(a, b *takeover) int {
		return cmp.Or(cmp.Compare(m.recentOutages(a.rec), m.recentOutages(b.rec)), cmp.Compare(a.rec.upSince, b.rec.upSince))
	})
	slices.SortStableFunc(m.needCover, func(a, b assign.Recording) int {
		ra, rb := m.servers[a.ID], m.servers[b.ID]
		return cmp.Or(cmp.Compare(rb.priority, ra.priority), cmp.Compare(len(rb.facts.Cameras), len(ra.facts.Cameras)))
	})
	for _, need := range m.needCover {
		r := m.servers[need.ID]
		fits := func(t *takeover) bool { return t != nil && eligibility.CanCover(t.sb.facts, r.facts) }
		if i := slices.IndexFunc(freeing, fits); i >= 0 {
			freeing[i] = nil
			continue
		}
		if i := slices.IndexFunc(held, fits); i >= 0 {
			t := held[i]
			held[i] = nil
			m.startFailback(t, "standby reclaimed for "+string(r.facts.ID))
		}
	}
}

// recentOutages counts r's outages within the flap window.
func (m *Machine) recentOutages(r *member) int {
	since := m.now.Add(-m.cfg.Failback.FlapWindow)
	n := 0
	for _, at := range r.failovers {
		if at.After(since) {
			n++
		}
	}
	return n
}

// assignFrom starts the takeovers that assign m.needCover to free standbys,
// and leaves in m.needCover the servers still uncovered.
func (m *Machine) assignFrom(free []assign.Standby) {
	if len(free) == 0 {
		return
	}
	var err error
	if m.cfg.Assignment == AssignFirstFit {
		m.pairs, err = assign.FirstFit(m.needCover, free)
	} else {
		m.pairs, err = assign.AssignInto(m.pairs[:0], &m.scratch, m.needCover, free)
	}
	if err != nil {
		// IDs are unique and channels validated, so this cannot happen;
		// assigning nothing is the safe answer if it ever does.
		return
	}
	for _, p := range m.pairs {
		m.startTakeover(m.servers[p.Recording], m.servers[p.Standby])
	}
	if len(m.pairs) > 0 {
		m.needCover = slices.DeleteFunc(m.needCover, func(r assign.Recording) bool { return m.servers[r.ID].tk != nil })
	}
}

// retryable reports whether a standby that failed a takeover while it
// answered probes has served its back-off and may be tried again, as a
// last resort: it is not "ready" (statuses never count on it), but a failed
// server with no other standby is better served by a retry than by none.
func (s *member) retryable(now time.Time) bool {
	return s.takeoverFailed && s.retryAt != 0 && !now.Before(s.retryAt.time()) &&
		s.active() && s.health == nvrha.HealthUp && !s.fence.pending() && s.hasSpace()
}

// ready reports whether a standby can take over someone now, busy or not.
func (s *member) ready() bool {
	return s.active() && s.health == nvrha.HealthUp && !s.takeoverFailed && !s.fence.pending() &&
		s.hasSpace()
}

func (m *Machine) startTakeover(r, s *member) {
	t := &takeover{rec: r, sb: s, phase: PhaseStarting, since: m.now, giveUp: m.now.Add(m.cfg.TakeoverTimeout)}
	t.epoch = m.nextEpoch(r.facts.ID)
	r.tk, s.tk = t, t
	if r.resume.pending() {
		// The cameras go to the standby now: a resume still owed would fight it.
		m.drop(&r.resume)
	}
	m.send(&t.cmd, m.takeoverCommand(t))
	if r.reachable {
		m.standDown(r)
	}
	m.markTakeover(t)
	m.touchTakeover(r, s)
	m.emit(Event{Kind: EventTakeoverStarted, Group: r.group.id, Server: r.facts.ID, Peer: s.facts.ID, Epoch: t.epoch})
}

// standDown tells a reachable but abnormal recording server to stop under its
// takeover's epoch, so that it cannot fight the standby for its cameras. It
// is retried until acknowledged while the takeover lasts, and the server is
// owed a resume from then on, whatever happens to the takeover.
func (m *Machine) standDown(r *member) {
	m.send(&r.standDown, Command{Kind: CmdStandDown, Server: r.facts.ID, Recording: r.facts.ID, Epoch: r.tk.epoch})
	if !r.stoodDown {
		r.stoodDown = true
		m.markMember(r)
		m.stateGen++
	}
}

const maxFlapHistory = 8

// noteFailure records the start of an outage of recording server r for flap
// damping. Outages, not takeovers, are counted: trying a second standby in
// the same outage is not a flap.
func (m *Machine) noteFailure(r *member) {
	r.failovers = append(r.failovers, m.now)
	if len(r.failovers) > maxFlapHistory {
		r.failovers = slices.Delete(r.failovers, 0, len(r.failovers)-maxFlapHistory)
	}
	m.markMember(r)
}

func (m *Machine) takeoverCommand(t *takeover) Command {
	return Command{Kind: CmdTakeover, Server: t.sb.facts.ID, Recording: t.rec.facts.ID, Epoch: t.epoch,
		Cameras: slices.Clone(t.rec.facts.Cameras)}
}

// releaseCommand orders standby s to release recording server r's cameras
// under epoch e. The cameras ride along, unused by the transport, so that
// the ledger can close the standby's intervals when the release is
// acknowledged, even after r has left the center.
func releaseCommand(s, r *member, e nvrha.Epoch) Command {
	return Command{Kind: CmdRelease, Server: s.facts.ID, Recording: r.facts.ID, Epoch: e,
		Cameras: slices.Clone(r.facts.Cameras)}
}

// tickTakeover moves a takeover on with time: retries, give-ups, failback.
func (m *Machine) tickTakeover(t *takeover) {
	switch t.phase {
	case PhaseStarting:
		if !m.now.Before(t.giveUp) {
			m.standbyFailed(t, "takeover not confirmed in time")
			return
		}
		// Ordered again: after its probe denied the takeover it had
		// confirmed (coverDenied), once the back-off is over; after a
		// failed order, when its retry is due.
		denied := !t.cmd.pending()
		if denied && m.now.Before(m.reorderAt(t)) || !denied && !m.due(&t.cmd) {
			return
		}
		switch {
		case !denied && t.cmd.attempts >= m.cfg.TakeoverAttempts:
			m.standbyFailed(t, fmt.Sprintf("takeover failed %d times", t.cmd.attempts))
		case m.ordersSpent(t.sb):
			m.standbyFailed(t, fmt.Sprintf("takeover failed after %d orders within %v", m.cfg.TakeoverAttempts, m.cfg.FailedStandbyBackoff))
		default:
			m.send(&t.cmd, m.takeoverCommand(t))
		}
	case PhaseActive:
		if m.failbackDue(t) {
			m.startFailback(t, "")
		}
	case PhaseResuming:
		if !t.resumedAt.IsZero() {
			// Acknowledged; waiting for a probe to show footage flowing. If it
			// never does, order the resume again.
			if m.now.Sub(t.resumedAt) >= m.cfg.TakeoverTimeout {
				// The acknowledgement cleared the command: build it again.
				t.resumedAt = timeZero
				m.send(&t.cmd, resumeCommand(t))
			}
			return
		}
		if m.due(&t.cmd) {
			m.send(&t.cmd, m.orderOf(t))
		}
	case PhaseReleasing:
		if m.due(&t.cmd) {
			m.send(&t.cmd, m.orderOf(t))
		}
	}
}

// orderOf is the order t's phase sends: a takeover to the standby, a
// failback's resume to the recording server or its release to the
// standby, all under t's epoch.
func (m *Machine) orderOf(t *takeover) Command {
	switch t.phase {
	case PhaseResuming:
		return resumeCommand(t)
	case PhaseReleasing:
		return releaseCommand(t.sb, t.rec, t.epoch)
	}
	return m.takeoverCommand(t)
}

func (m *Machine) takeoverResult(t *takeover, err error, stale bool) {
	if t.phase == PhaseActive {
		// A re-order after a restart: the probes tell whether the standby
		// really covers, and re-order again if not.
		m.drop(&t.cmd)
		return
	}
	if err != nil {
		m.failed(&t.cmd)
		if stale {
			// The server holds a newer epoch: the next attempt goes above
			// it, in whatever phase, or it would be refused forever. It
			// leaves at once the first time (a center restored from an old
			// copy of its store wins at once), after the back-off of any
			// failure from then on; a takeover refused so counts among
			// its TakeoverAttempts like any refusal, so an agent that
			// claims a newer epoch at every order is given up.
			t.epoch = m.nextEpoch(t.rec.facts.ID)
			m.markTakeover(t)
			if t.cmd.attempts == 1 && (t.phase != PhaseStarting || !m.ordersSpent(t.sb)) {
				m.send(&t.cmd, m.orderOf(t))
			}
		}
		return
	}
	switch t.phase {
	case PhaseStarting:
		// A standby that failed takeovers is proven again only once a
		// probe shows the cover (probeResult), not by this answer.
		t.phase = PhaseActive
		m.markTakeover(t)
		t.started = t.cmd.sentAt.time()
		t.confirmedAt = m.now
		m.drop(&t.cmd)
		m.ledger.open(t.rec.facts.Cameras, t.sb.facts.ID, t.rec.facts.ID, t.epoch, t.started)
		m.touchTakeover(t.rec, t.sb)
		m.emit(Event{Kind: EventTakeoverSucceeded, Group: t.rec.group.id, Server: t.rec.facts.ID, Peer: t.sb.facts.ID, Epoch: t.epoch})
	case PhaseResuming:
		// Acknowledged: the recording server has accepted to record. The
		// standby lets go only once a probe shows the footage flowing.
		t.rec.stoodDown = false
		m.markMember(t.rec)
		t.resumedAt = m.now
		t.resumeSent = t.cmd.sentAt.time()
		m.drop(&t.cmd)
		m.stateGen++
	case PhaseReleasing:
		m.ledger.close(t.rec.facts.Cameras, t.sb.facts.ID, m.now)
		m.drop(&t.cmd)
		m.end(t)
		t.sb.quitRec, t.sb.quitEpoch = t.rec.facts.ID, t.epoch
		m.emit(Event{Kind: EventFailbackCompleted, Group: t.rec.group.id, Server: t.rec.facts.ID, Peer: t.sb.facts.ID, Epoch: t.epoch})
	}
}

// noteTakeoverOrder remembers that standby s is sent a takeover order now,
// keeping the times of its last TakeoverAttempts.
func (m *Machine) noteTakeoverOrder(s *member) {
	if len(s.orders) < m.cfg.TakeoverAttempts {
		s.orders = append(s.orders, instantOf(m.now))
		return
	}
	s.orders[s.nextOrder] = instantOf(m.now)
	s.nextOrder = (s.nextOrder + 1) % len(s.orders)
}

// ordersSpent reports whether standby s got TakeoverAttempts takeover
// orders within the last FailedStandbyBackoff. Such a standby is not
// ordered again to retry a takeover that failed: it is given up instead,
// so that one that fails takeovers never gets more orders than that in
// that time, whichever takeovers they were for (the order a restarted
// center sends again for a takeover it restored, one for a takeover that
// ended, and the attempts of the one that fails now).
func (m *Machine) ordersSpent(s *member) bool {
	if n := m.cfg.TakeoverAttempts; n == 0 || len(s.orders) < n {
		return false
	}
	return m.now.Sub(s.orders[s.nextOrder].time()) < m.cfg.FailedStandbyBackoff
}

// beginRelease is make-before-break's second half: the recording server
// records again (its probe says so), so the standby is told to release.
func (m *Machine) beginRelease(t *takeover) {
	m.ledger.open(t.rec.facts.Cameras, t.rec.facts.ID, t.rec.facts.ID, t.epoch, t.resumeSent)
	t.phase = PhaseReleasing
	t.resumedAt = timeZero
	m.send(&t.cmd, releaseCommand(t.sb, t.rec, t.epoch))
	m.markTakeover(t)
	m.stateGen++
}

// end forgets a takeover.
func (m *Machine) end(t *takeover) {
	m.markTakeover(t)
	m.drop(&t.cmd)
	t.rec.tk, t.sb.tk = nil, nil
	t.sb.quitAt = instantOf(m.now)
	m.touchTakeover(t.rec, t.sb)
}

// standbyFailed gives up on a takeover's standby: it becomes "Abnormal,
// protection failed", it is fenced off with a release under a new epoch (it
// may still record, or receive the old order late), and the recording server
// is free for the next eligible standby in the same step. The standby's
// ledger intervals stay open until it acknowledges the release: it may well
// record until then.
//
// A standby that failed while it answered probes (it refused the order,
// never confirmed it, or its probes denied what it confirmed) is one that
// is not functioning properly, in QVR Center's manual's words: it stays
// "Abnormal, protection failed" until a probe shows it covering a takeover
// it confirmed (an acknowledgement alone proves nothing of a broken
// agent), and is ordered again only after a back-off
// that doubles with each such failure in a row (Config.FailedStandbyBackoff
// up to Config.FailedStandbyMaxBackoff), and only when no other standby
// fits. A standby that failed because it went down is judged by its
// detector instead: once up and fenced off, it is ready again.
func (m *Machine) standbyFailed(t *takeover, why string) {
	s, r := t.sb, t.rec
	s.takeoverFailed = true
	m.markMember(s)
	if s.health == nvrha.HealthUp {
		s.refusals = min(s.refusals+1, 16)
		d := m.cfg.FailedStandbyBackoff
		for i := uint8(1); i < s.refusals && d < m.cfg.FailedStandbyMaxBackoff; i++ {
			d *= 2
		}
		d = min(d, m.cfg.FailedStandbyMaxBackoff)
		s.retryAt, s.retryNoted = instantOf(m.now.Add(d)), false
		why = fmt.Sprintf("%s; not ordered again before %v", why, d)
	}
	m.end(t)
	if s.health != nvrha.HealthUp && !s.reachable && (t.phase == PhaseActive || t.phase == PhaseResuming) {
		// It was recording r's cameras when it fell silent, and may
		// record them still (a slow link, a pause): releasing it now
		// would lose them while nothing else records them. The release
		// is owed but held until something does (releaseHeld). One that
		// answers, abnormal, is released at once.
		m.holdFence(s, r)
		why += "; its release held until another records the cameras"
	} else {
		m.fenceOff(s, r)
	}
	m.emit(Event{Kind: EventTakeoverFailed, Group: r.group.id, Server: r.facts.ID, Peer: s.facts.ID, Epoch: t.epoch, Detail: why})
	if r.health == nvrha.HealthUp {
		m.orderResume(r)
	}
}

// holdFence owes standby s a release of r's cameras under a fresh epoch,
// like fenceOff, but does not send it yet: it is persisted with the owed
// orders (a restarted center sends it at once), and releaseHeld sends it
// once another records r's cameras or s answers again.
func (m *Machine) holdFence(s, r *member) {
	m.drop(&s.fence)
	c := releaseCommand(s, r, m.nextEpoch(r.facts.ID))
	c.ID = m.nextCmdID
	m.nextCmdID++
	m.markOrder(&s.fence, c)
	s.fence.cmd, s.fenceHeld = c, true
}

// releaseHeld sends the release held for standby s (holdFence) once
// another records the cameras: another standby is ordered to take them
// over, or their server records them itself or left the group.
func (m *Machine) releaseHeld(s *member) {
	r := m.servers[s.fence.cmd.Recording]
	if r == nil || r.group != s.group || r.tk != nil && r.tk.sb != s || r.tk == nil && r.health == nvrha.HealthUp && !r.stoodDown {
		m.unholdFence(s)
	}
}

// unholdFence sends the release held for standby s now.
// The held release was given an ID but never sent: send must not keep
// that ID as an earlier attempt whose late answer still counts.
func (m *Machine) unholdFence(s *member) {
	s.fenceHeld = false
	c := s.fence.cmd
	s.fence.cmd.ID = 0
	m.send(&s.fence, c)
}

// fenceOff owes standby s a release of r's cameras under a fresh epoch,
// retried until s acknowledges it.
func (m *Machine) fenceOff(s, r *member) {
	s.fenceHeld = false
	m.send(&s.fence, releaseCommand(s, r, m.nextEpoch(r.facts.ID)))
}

// orderResume tells a recording server whose takeover ended without a
// failback to record its own cameras, retried until it acknowledges.
func (m *Machine) orderResume(r *member) {
	e := m.nextEpoch(r.facts.ID)
	m.send(&r.resume, Command{Kind: CmdResume, Server: r.facts.ID, Recording: r.facts.ID, Epoch: e})
}

// recordingDownInTakeover handles a covered recording server failing again.
func (m *Machine) recordingDownInTakeover(t *takeover) {
	switch t.phase {
	case PhaseResuming:
		m.abandonFailback(t)
	case PhaseReleasing:
		// The release may have reached the standby already: order the
		// takeover again, under a new epoch that supersedes the release.
		t.epoch = m.nextEpoch(t.rec.facts.ID)
		t.phase = PhaseStarting
		t.giveUp = m.now.Add(m.cfg.TakeoverTimeout)
		m.drop(&t.cmd)
		m.send(&t.cmd, m.takeoverCommand(t))
		m.markTakeover(t)
		m.touchTakeover(t.rec, t.sb)
	}
}

// abandonFailback gives up t's failback while its standby still records:
// the standby never let go and keeps recording. The takeover goes on under
// a new epoch, above the resume's, so that a late resume is fenced by
// every later order.
func (m *Machine) abandonFailback(t *takeover) {
	m.drop(&t.cmd)
	t.resumedAt = timeZero
	t.phase = PhaseActive
	t.epoch = m.nextEpoch(t.rec.facts.ID)
	m.markTakeover(t)
	m.touchTakeover(t.rec, t.sb)
}

// standbyDownInTakeover handles a standby failing while it covers.
func (m *Machine) standbyDownInTakeover(t *takeover) {
	switch t.phase {
	case PhaseStarting, PhaseActive, PhaseResuming:
		m.standbyFailed(t, "standby failed")
	case PhaseReleasing:
		// The recording server records already; only the release is owed,
		// and the standby's intervals close when it is acknowledged.
		s := t.sb
		cmd := t.cmd.cmd
		m.end(t)
		m.send(&s.fence, cmd)
		m.emit(Event{Kind: EventFailbackCompleted, Group: t.rec.group.id, Server: t.rec.facts.ID, Peer: s.facts.ID, Epoch: t.epoch, Detail: "standby down before acknowledging the release"})
	}
}

// interrupt ends the takeover of recording server r at once, as deleting its
// group, switching protection off or disabling one of the pair does: the
// standby is told to release and r to resume. It returns what was
// interrupted.
func (m *Machine) interrupt(r *member, why string) Takeover {
	t := r.tk
	pub := t.public()
	s := t.sb
	m.end(t)
	m.fenceOff(s, r)
	m.emit(Event{Kind: EventTakeoverInterrupted, Group: r.group.id, Server: r.facts.ID, Peer: s.facts.ID, Epoch: t.epoch, Detail: why})
	// The cameras are r's again: it is owed a resume, unless it is down, was
	// never stood down and will be covered again at once.
	if r.stoodDown || !r.active() || r.health == nvrha.HealthUp {
		m.orderResume(r)
	}
	return pub
}
