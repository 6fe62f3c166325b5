package check

import (
	"fmt"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/failover/detector"
	"github.com/nvrha/nvrha/simulator/history"
	"github.com/nvrha/nvrha/status"
)

// Invariant 7, settling: once faults stop, assignments settle and stay; a
// healthy-but-slow server within the allowed pause triggers no takeover.
//
//   - A server the Machine declares failed that is neither crashed nor
//     abnormal must have been disturbed within the detection budget: a
//     pause within the acceptable pause alone never causes a takeover
//     (settlingEvent).
//   - Once the settle time has passed since the last fault, no server that
//     has itself been calm for a settle time goes down or up, is taken
//     over or fails back (settlingEvent).
//   - At the end of a settled run every healthy, enabled recording server
//     of a protected group records its own cameras and (with automatic
//     failback) is not taken over, and every "Abnormal, protected"
//     server's standby records its cameras (end).
//   - At every tick, a healthy recording server that no standby covers
//     records its own cameras within detection + release + stream start
//     of being calm and of the Machine's last standby on it
//     (uncoveredRecords).
//   - Failback is make-before-break: when a standby carries out a
//     failback's release, its recording server records already, unless it
//     was disturbed since the failback started (makeBeforeBreak).

// settling is what invariant 7 remembers.
type settling struct {
	// at is when assignments must have settled after the last
	// disturbance (-1: never), computed for the disturbance at forDist
	// and recomputed until it passes.
	at      time.Duration
	forDist time.Duration
	// settled: at has passed with the center up; ever: it did once.
	settled bool
	ever    bool
	// outage is set when the Machine may have noted an outage (it
	// declared a server failed, or restored its State) since at was
	// computed.
	outage bool
	// failbackEp are the epochs the Machine issued for a failback, and
	// when each failback started.
	failbackEp map[epochKey]time.Duration
}

func (s *settling) init(int) {
	s.failbackEp = map[epochKey]time.Duration{}
	s.at = -1
}

// silentBeyondPause reports whether a consecutive-miss detector may find
// server i failed now, after its last pause (within the acceptable pause,
// or it was disturbed): it counts the acceptable pause from the last
// answer it got in time, which may have come up to a probe interval and a
// probe timeout before the pause began, and the first answer after the
// pause may come as late after it. A phi accrual detector adds the mean
// interval between answers to the acceptable pause, and is held to the
// pause alone.
func (c *Checker) silentBeyondPause(i int) bool {
	fc := c.set.Failover
	d := fc.Detector
	s := c.srv[i]
	if d.Kind != detector.KindConsecutiveMiss || s.PauseUntil == 0 {
		return false
	}
	gap := d.ProbeInterval + fc.ProbeTimeout
	return c.now <= s.PauseUntil+gap && c.now-(s.PausedAt-gap) > d.AcceptablePause
}

// settlingEvent checks one event the Machine published: no failure
// declared on a server whose only trouble was a short pause, and no
// change after settling.
func (c *Checker) settlingEvent(e *failover.Event) {
	st := &c.settle
	now := c.now
	switch e.Kind {
	case failover.EventFailbackStarted:
		st.failbackEp[epochKey{e.Server, e.Epoch}] = now
	case failover.EventServerDown:
		st.outage = true
		if i, ok := c.index(e.Server, -1); ok {
			if !c.srv[i].Down() && now-c.v.CalmSince(i) > c.b.Detect && now-c.center.UpSince > c.b.Detect && !c.silentBeyondPause(i) {
				c.fail(7, fmt.Sprintf("%s declared failed, but it only paused within the acceptable pause (%s) and its network was calm since %s",
					e.Server, c.set.Failover.Detector.AcceptablePause, fmtDur(c.v.CalmSince(i))))
				return
			}
		}
	}
	if st.settled && !c.recentlyDisturbed(e.Server) && !c.recentlyDisturbed(e.Peer) {
		switch e.Kind {
		case failover.EventServerDown, failover.EventServerUp, failover.EventTakeoverStarted, failover.EventTakeoverSucceeded,
			failover.EventTakeoverFailed, failover.EventTakeoverInterrupted, failover.EventFailbackStarted, failover.EventFailbackCompleted:
			c.fail(7, fmt.Sprintf("%s %s at %s, after faults stopped at %s and assignments settled at %s",
				e.Kind, e.Server, fmtDur(now), fmtDur(c.v.LastDisturbance()), fmtDur(st.at)))
		}
	}
}

// settleDeadline returns when assignments must have settled after the
// last disturbance, or -1 when the policy never settles on its own.
func (c *Checker) settleDeadline() time.Duration {
	fb := c.set.Failover.Failback
	if fb.Mode == failover.FailbackScheduled {
		return -1
	}
	last := c.v.LastDisturbance()
	hold := time.Duration(0)
	if fb.Mode == failover.FailbackAutomatic {
		hold = c.longestHoldDown(last)
	}
	groupStandbys := 0
	for _, g := range c.set.World.Groups {
		groupStandbys = max(groupStandbys, len(g.Standby))
	}
	return last + hold + c.b.Settle + time.Duration(groupStandbys+1)*c.b.PerTry
}

// longestHoldDown is the longest hold-down the Machine can make a
// recording server wait before failing back after the last disturbance:
// the policy's hold-down, doubled for each other outage of the server
// within the flap window, capped at MaxHoldDown (failover.Config's
// Failback). The outages are the Machine's own record (the State's
// Failovers, noted when it declares a server failed), counted from the
// flap window before the last disturbance, as a failback after it counts
// them. The record grows after the disturbance (the outage a crash causes
// is noted a detection later, the one a long pause causes before the
// pause ends), so the deadline is recomputed, until it passes, after
// every outage the Machine notes.
func (c *Checker) longestHoldDown(last time.Duration) time.Duration {
	fb := c.set.Failover.Failback
	st := c.center.Persisted
	if st == nil {
		return fb.HoldDown
	}
	since := history.Abs(last - fb.FlapWindow)
	hold := time.Duration(0)
	for _, g := range st.Groups {
		for _, ms := range g.Members {
			if ms.Role != failover.RoleRecording {
				continue
			}
			n := 0
			for _, at := range ms.Failovers {
				if at.After(since) {
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
	return hold
}

// updateSettled recomputes the settle deadline until it passes (a new
// disturbance starts it over) and notes when it passes with the center
// up.
func (c *Checker) updateSettled() {
	st := &c.settle
	if last := c.v.LastDisturbance(); st.forDist != last || st.at < 0 || st.outage && !st.settled {
		if st.forDist != last {
			st.settled = false
		}
		st.forDist, st.outage = last, false
		st.at = c.settleDeadline()
	}
	if !st.settled && st.at >= 0 && c.now >= st.at && c.center.Up {
		st.settled = true
		st.ever = true
		c.sink.Note("settled")
	}
}

// recentlyDisturbed reports whether a server was disturbed (a lost
// message, a fault) within one settle budget: under random message loss
// the assignments of such a server may still move after the scripted
// faults stopped.
func (c *Checker) recentlyDisturbed(id nvrha.ServerID) bool {
	i, ok := c.index(id, -1)
	if !ok {
		return false
	}
	budget := c.settle.at - c.settle.forDist
	return c.now-c.v.CalmSince(i) <= budget
}

// uncoveredRecords checks that a healthy recording server that no standby
// covers records its own cameras.
func (c *Checker) uncoveredRecords() bool {
	now, centerCalm := c.now, c.center.UpSince
	for ri, r := range c.srv {
		if r.Role != failover.RoleRecording || len(r.OwnCams) == 0 || r.Down() || r.Paused || r.Own.On || r.Own.Pending {
			continue
		}
		if c.peer(ri).Peer != "" {
			continue
		}
		// Counted from when the Machine last had a standby on it: a
		// takeover that ends without a failback owes it a resume from then.
		from := max(c.v.CalmSince(ri), centerCalm, r.AdminAt, r.Group.ChangedAt, c.timely.peeredAt[ri])
		if now-from <= c.b.Detect+c.b.Fence+c.set.StreamStart {
			continue
		}
		c.fail(7, fmt.Sprintf("%s is healthy and no standby covers it, but it has recorded nothing since %s (stood down: %v)",
			r.ID, fmtDur(from), r.StoodDown))
		return false
	}
	return true
}

// makeBeforeBreak checks, when a standby carries out a failback's
// release, that the recording server records its cameras already (the
// release follows a probe that showed its footage flowing), unless it was
// disturbed since the failback started: a failback breaks nothing.
func (c *Checker) makeBeforeBreak(e *history.Event) {
	cmd := e.Command
	started, ok := c.settle.failbackEp[epochKey{cmd.Recording, cmd.Epoch}]
	ri, known := c.index(cmd.Recording, -1)
	if !ok || !known || e.Before.Covering != cmd.Recording || !e.Before.CoverOn {
		return
	}
	r := c.srv[ri]
	if r.Own.On || r.Down() || c.v.CalmSince(ri) > started {
		return
	}
	c.fail(7, fmt.Sprintf("%s released %s's cameras for the failback that started at %s, but %s does not record them (make-before-break)",
		c.srv[e.Server].ID, cmd.Recording, fmtDur(started), cmd.Recording))
}

// end checks, if the run settled, that the settled assignments are the
// right ones: every healthy enabled recording server records its own
// cameras and is not taken over (automatic failback), and every cover the
// Machine reports is real.
func (c *Checker) end() {
	c.updateSettled()
	if !c.settle.settled || !c.center.Up {
		return
	}
	automatic := c.set.Failover.Failback.Mode == failover.FailbackAutomatic
	for _, g := range c.v.Machine().Snapshot().Groups {
		for _, ms := range g.Members {
			i, _ := c.index(ms.ID, -1)
			s := c.srv[i]
			if ms.Role != failover.RoleRecording || !ms.Enabled || !g.Protection || c.recentlyDisturbed(ms.ID) || c.recentlyDisturbed(ms.Peer) {
				continue
			}
			switch {
			case !s.Down() && automatic && ms.Peer != "":
				c.fail(7, fmt.Sprintf("%s is healthy but still taken over by %s after settling", ms.ID, ms.Peer))
				return
			case !s.Down() && !s.Own.On && ms.Peer == "":
				c.fail(7, fmt.Sprintf("%s is healthy and not taken over, but does not record its cameras (stood down: %v)", ms.ID, s.StoodDown))
				return
			case ms.Peer != "" && ms.Recording == status.RecordingAbnormalProtected:
				j, _ := c.index(ms.Peer, -1)
				if sb := c.srv[j]; sb.Covering != ms.ID || !sb.Cover.On {
					c.fail(7, fmt.Sprintf("%s shows %q by %s, which does not record its cameras", ms.ID, ms.Status(), ms.Peer))
					return
				}
			}
		}
	}
}
