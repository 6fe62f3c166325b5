package check

import (
	"fmt"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
	"github.com/nvrha/nvrha/status"
)

// Invariant 10, hostile peers: a standby that fails takeovers while it
// answers is shown "Abnormal, protection failed" and held back; no
// hostile standby is ordered to take over again and again.
//
//   - A standby whose agent fails every takeover (it refuses them,
//     claims an absurd or a believable newer epoch at every order, or
//     acknowledges them and its probes deny them: history.Hostility's
//     FailsTakeovers) and whose link is calm, once
//     the Machine gives its takeover up, shows "Abnormal, protection
//     failed" with a back-off of at least FailedStandbyBackoff, and keeps
//     that status while it is enabled in a protected group until a
//     takeover by it is confirmed or an admin operation on it or its
//     group clears it (refusingStandbyHeld).
//   - A hostile standby (any hostility) gets at most TakeoverAttempts
//     takeover orders within FailedStandbyBackoff (6 a minute by default)
//     while its link is calm and the center up (takeoverOrdersBounded).

// hostilePeers is what invariant 10 remembers, by server index.
type hostilePeers struct {
	// held is since when a standby given up while it refused must show
	// "Abnormal, protection failed" (-1: not held).
	held []time.Duration
	// orders are when a hostile standby got takeover orders within the
	// window, oldest first.
	orders [][]time.Duration
	// restoring is set from a restored Machine's first Ready to the end
	// of the event that restored it.
	restoring bool
}

func (h *hostilePeers) init(n int) {
	h.held = make([]time.Duration, n)
	for i := range h.held {
		h.held[i] = -1
	}
	h.orders = make([][]time.Duration, n)
}

// hostileEvent follows the Machine's takeovers of hostile standbys: one
// given up, one confirmed, one interrupted.
func (c *Checker) hostileEvent(e *failover.Event) {
	si, ok := c.index(e.Peer, -1)
	if !ok || c.srv[si].Role != failover.RoleStandby {
		return
	}
	h := &c.hostile
	switch e.Kind {
	case failover.EventTakeoverSucceeded:
		h.held[si] = -1
	case failover.EventTakeoverFailed:
		c.refusingStandbyHeld(si)
	case failover.EventTakeoverInterrupted:
		// An admin operation ended the try before the Machine judged the
		// standby: its orders so far are no failure, and its next try
		// counts afresh.
		h.orders[si] = h.orders[si][:0]
	}
}

// refusingStandbyHeld checks, when the Machine gives up a takeover by
// standby si, that a standby that refused it while it answered is shown
// "Abnormal, protection failed" and backed off, and holds it so.
func (c *Checker) refusingStandbyHeld(si int) {
	s := c.srv[si]
	if !s.Hostile.FailsTakeovers() || s.Crashed || s.Paused || !s.Member || !s.Enabled || !s.Group.Exists || !s.Group.Protection ||
		c.now-c.v.LinkCalmSince(si) <= c.b.Detect || c.now-c.center.UpSince <= c.b.Detect {
		return
	}
	m := c.v.Machine()
	if m == nil {
		return
	}
	ms := memberOf(m.Snapshot(), s.ID)
	if ms == nil {
		return
	}
	backoff := c.set.Failover.FailedStandbyBackoff
	if got := ms.Status(); got != status.StandbyAbnormalProtectionFailed.Label() || ms.RetryAt.Before(history.Abs(c.now).Add(backoff)) {
		c.fail(10, fmt.Sprintf("%s refuses every takeover (%s) and answers its probes, but once given up it shows %q and may be ordered again at %s (backoff %s)",
			s.ID, s.Hostile, got, fmtDur(rel(ms.RetryAt)), backoff))
		return
	}
	c.hostile.held[si] = c.now
}

// memberOf returns snap's entry of server id, or nil.
func memberOf(snap failover.Snapshot, id nvrha.ServerID) *failover.MemberSnapshot {
	for gi := range snap.Groups {
		for mi := range snap.Groups[gi].Members {
			if ms := &snap.Groups[gi].Members[mi]; ms.ID == id {
				return ms
			}
		}
	}
	return nil
}

// refusersStillHeld checks, at a tick, that every standby held since it
// refused still shows "Abnormal, protection failed".
func (c *Checker) refusersStillHeld() bool {
	h := &c.hostile
	for si, since := range h.held {
		if since < 0 {
			continue
		}
		s := c.srv[si]
		if !s.Member || s.AdminAt >= since || s.Group.ChangedAt >= since {
			h.held[si] = -1 // an operator looked at it
			continue
		}
		ms := c.mv.view[si]
		if ms == nil || !ms.Enabled || !s.Group.Protection {
			continue
		}
		if got := ms.Status(); got != status.StandbyAbnormalProtectionFailed.Label() {
			c.fail(10, fmt.Sprintf("%s refused takeovers and was given up at %s, but it shows %q though no takeover by it was confirmed since",
				s.ID, fmtDur(since), got))
			return false
		}
	}
	return true
}

// takeoverOrdersBounded checks a takeover order about to leave: a hostile
// standby gets at most TakeoverAttempts within FailedStandbyBackoff while
// its link is calm and the center up.
func (c *Checker) takeoverOrdersBounded(cmd *failover.Command) {
	if cmd.Kind != failover.CmdTakeover {
		return
	}
	si, ok := c.index(cmd.Server, -1)
	if !ok {
		return
	}
	h := &c.hostile
	s := c.srv[si]
	if s.Hostile == "" {
		h.orders[si] = h.orders[si][:0]
		return
	}
	// The window: the last FailedStandbyBackoff (an order exactly that
	// old is out of it), while the link was calm, the center up and the
	// standby hostile. The orders a Machine restored in this event sends
	// re-send the takeovers it persisted (a confirmed one included): they
	// are the restore's, not a try of the standby.
	if h.restoring {
		return
	}
	fc := &c.set.Failover
	from := max(c.v.LinkCalmSince(si), c.center.UpSince, s.HostileSince)
	os := append(h.orders[si], c.now)
	k := 0
	for k < len(os) && (os[k] < from || os[k] <= c.now-fc.FailedStandbyBackoff) {
		k++
	}
	h.orders[si] = append(os[:0], os[k:]...)
	if n := len(h.orders[si]); n > fc.TakeoverAttempts {
		c.fail(10, fmt.Sprintf("%s (%s) got %d takeover orders within %s (at most %d): %s",
			s.ID, s.Hostile, n, fmtDur(c.now-h.orders[si][0]), fc.TakeoverAttempts, cmd))
	}
}
