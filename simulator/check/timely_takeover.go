package check

import (
	"fmt"
	"github.com/nvrha/nvrha/simulator/history"
	"time"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/status"
)

// Invariant 4, timely takeover: if an eligible, healthy, enabled standby
// exists, a failed recording server is taken over within the detection +
// takeover budget.
//
// A failed (crashed or abnormal) recording server, enabled in a protected
// group and not shown "Abnormal, protected", with a standby of its group
// that is enabled, healthy, not paused, free in both views, with an empty
// recording space and enough license channels (both views), is taken over
// within detection + one try per standby of the group + the release
// budget, counted from the latest of: its failure, the last time it was
// covered, admin changes, the center's restart + detection, the standby's
// calm + detection, fact changes + the inventory interval, the standby's
// last busy moment + the release budget.

// timelyTakeover is what invariant 4 remembers, by server index.
type timelyTakeover struct {
	// lastCovered is when the Machine last showed a recording server
	// "Abnormal, protected"; lastBusy when a standby last covered or was
	// a peer (either view); peeredAt when the Machine last had a standby
	// on a recording server.
	lastCovered []time.Duration
	lastBusy    []time.Duration
	peeredAt    []time.Duration
}

func (t *timelyTakeover) init(n int) {
	t.lastCovered = make([]time.Duration, n)
	t.lastBusy = make([]time.Duration, n)
	t.peeredAt = make([]time.Duration, n)
}

// takenOverInTime checks that a failed recording server with a calm,
// free, fitting standby is taken over in time.
func (c *Checker) takenOverInTime() bool {
	t := &c.timely
	now, centerCalm := c.now, c.center.UpSince
	for ri, r := range c.srv {
		g := r.Group
		if r.Role != failover.RoleRecording || !r.Down() || !r.Member || !r.Enabled || !g.Exists || !g.Protection {
			continue
		}
		rs := c.peer(ri)
		if rs.Peer != "" && rs.Recording == status.RecordingAbnormalProtected {
			t.lastCovered[ri] = now
			continue
		}
		tried := 0
		for _, si := range g.Servers {
			if c.srv[si].Role == failover.RoleStandby {
				tried++
			}
		}
		budget := c.b.Detect + time.Duration(tried+1)*c.b.PerTry + c.b.Fence
		for _, si := range g.Servers {
			s := c.srv[si]
			ss := c.mv.view[si]
			if s.Role != failover.RoleStandby || ss == nil || !s.Member || !s.Enabled || s.Down() || s.Paused ||
				s.Covering != "" || !s.Facts.HasEmptyRecordingSpace() || ss.Peer != "" ||
				s.Facts.LicenseChannels < r.Facts.LicenseChannels || ss.LicenseChannels < rs.LicenseChannels {
				continue
			}
			if !ss.RetryAt.IsZero() && history.Abs(now).Before(ss.RetryAt) {
				continue // in its back-off after failing a takeover while it answered
			}
			from := max(r.FailedSince, t.lastCovered[ri], r.AdminAt, g.ChangedAt, centerCalm+c.b.Detect,
				c.v.CalmSince(si)+c.b.Detect, s.FactsAt+c.b.Inventory+c.b.PerTry, r.FactsAt+c.b.Inventory+c.b.PerTry,
				t.lastBusy[si]+c.b.Fence, rel(ss.RetryAt))
			if now-from > budget {
				c.fail(4, fmt.Sprintf("%s failed at %s and is still not taken over (%q), though %s is free, healthy, enabled and fits (budget %s)",
					r.ID, fmtDur(r.FailedSince), rs.Status(), s.ID, fmtDur(budget)))
				return false
			}
		}
	}
	return true
}

// rememberBusy notes, at the end of a tick's checks, when each standby was
// last busy, in either view, and when each recording server last had a
// standby in the Machine's view.
func (c *Checker) rememberBusy() {
	now := c.now
	for i, s := range c.srv {
		switch {
		case s.Role == failover.RoleStandby && (s.Covering != "" || c.peer(i).Peer != ""):
			c.timely.lastBusy[i] = now
		case s.Role == failover.RoleRecording && c.peer(i).Peer != "":
			c.timely.peeredAt[i] = now
		}
	}
}

// rel is the virtual time of an instant of the Machine's clock; 0 for the
// zero time.
func rel(t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	return t.Sub(history.Start)
}
