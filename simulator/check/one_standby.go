package check

import (
	"fmt"
	"slices"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
	"github.com/nvrha/nvrha/status"
)

// Invariant 1, one standby per recording server: a recording server is
// taken over by at most one standby at a time; a standby covers at most
// one recording server.
//
//   - Machine view, strictly (peers): a member's Peer is a member of the
//     same group with the other role whose Peer is it.
//   - Ground truth, safety (sameCover): no two standbys record one
//     recording server's cameras under the same epoch.
//   - Ground truth, liveness (unwantedReleased): a standby that records a
//     recording server's cameras while the Machine does not have it as that
//     server's peer (given up, interrupted, fenced off) stops within the
//     release budget of being calm with the center up.
//   - Liveness (degradedStoodDown): a degraded recording server (abnormal,
//     still recording) that the Machine shows "Abnormal, protected" stops
//     recording within the release budget of its link being calm: it is
//     stood down rather than left to fight the standby for its cameras.

// oneStandby is what invariant 1 remembers.
type oneStandby struct {
	// orphans are standbys seen recording outside any group.
	orphans map[nvrha.ServerID]bool
	// By server index, -1 for none: since when a standby records
	// unwanted, since when a recording server records beside its standby.
	unwanted []time.Duration
	fighting []time.Duration
	// coverers are the servers whose ground truth records another's
	// cameras (Covering set), in the world's order, as the ground checks
	// last saw them: a server's cover changes only by an order it carries
	// out, in an event that touches it (checkGroundAt notes it), or the
	// event may have changed any server (checkGround lists them again).
	coverers []int
}

// noteCover keeps server i in coverers exactly when it covers.
func (o *oneStandby) noteCover(i int, covers bool) {
	k, in := slices.BinarySearch(o.coverers, i)
	switch {
	case covers && !in:
		o.coverers = slices.Insert(o.coverers, k, i)
	case !covers && in:
		o.coverers = slices.Delete(o.coverers, k, k+1)
	}
}

func (o *oneStandby) init(n int) {
	o.orphans = map[nvrha.ServerID]bool{}
	o.unwanted = make([]time.Duration, n)
	o.fighting = make([]time.Duration, n)
	for i := range n {
		o.unwanted[i], o.fighting[i] = -1, -1
	}
}

// peers checks that the Machine pairs a recording server with one standby
// of its group, both ways.
func (c *Checker) peers() bool {
	mem := c.mv.mem
	for i := range mem {
		ms := &mem[i]
		if !ms.in || ms.Peer == "" {
			continue
		}
		j, ok := c.index(ms.Peer, 0)
		if !ok || !mem[j].in {
			c.fail(1, fmt.Sprintf("%s's peer %s is not a member", ms.ID, ms.Peer))
			return false
		}
		p := &mem[j]
		switch {
		case p.Peer != ms.ID:
			c.fail(1, fmt.Sprintf("%s's peer is %s, whose peer is %q", ms.ID, ms.Peer, p.Peer))
			return false
		case p.Role == ms.Role:
			c.fail(1, fmt.Sprintf("%s and its peer %s are both %s servers", ms.ID, ms.Peer, ms.Role))
			return false
		case p.group.ID != ms.group.ID:
			c.fail(1, fmt.Sprintf("%s and its peer %s are in different groups", ms.ID, ms.Peer))
			return false
		}
	}
	return true
}

// sameCover fails invariant 1 if o, after s (covering, up) in the world's
// order, is up and records the same recording server under the same epoch.
func (c *Checker) sameCover(s, o *history.ServerTruth) bool {
	if o.Covering == s.Covering && !o.Crashed && o.CoverEpoch == s.CoverEpoch {
		c.fail(1, fmt.Sprintf("%s and %s both record %s's cameras under epoch %d", s.ID, o.ID, s.Covering, s.CoverEpoch))
		return true
	}
	return false
}

// unwantedReleased checks that a standby the center no longer counts as a
// peer stops recording once it can be told to.
func (c *Checker) unwantedReleased() bool {
	o := &c.one
	now, centerCalm := c.now, c.center.UpSince
	for i, s := range c.srv {
		if s.Role != failover.RoleStandby || s.Covering == "" || s.Crashed {
			o.unwanted[i] = -1
			continue
		}
		if ms := c.mv.view[i]; ms != nil && ms.Peer == s.Covering {
			o.unwanted[i] = -1
			continue
		}
		if !s.Member && !o.orphans[s.ID] {
			o.orphans[s.ID] = true
			c.sink.Note("orphan: " + string(s.ID) + " records " + string(s.Covering) + "'s cameras outside any group")
		}
		since := o.unwanted[i]
		if since < 0 {
			since = now
			o.unwanted[i] = since
		}
		from := max(since, c.v.CalmSince(i), centerCalm)
		if now-from > c.b.Fence {
			c.fail(1, fmt.Sprintf("%s still records %s's cameras (epoch %d) %s after the center stopped counting it as %s's standby",
				s.ID, s.Covering, s.CoverEpoch, fmtDur(now-from), s.Covering))
			return false
		}
	}
	return true
}

// degradedStoodDown checks that an abnormal recording server that still
// records (degraded) while a standby has taken its cameras over is stood
// down once it can be told to, so that it does not fight the standby for
// them. A server whose agent is hostile cannot be told anything (it may
// refuse every order): the time counts from when its agent is sound.
func (c *Checker) degradedStoodDown() bool {
	o := &c.one
	now, centerCalm := c.now, c.center.UpSince
	for i, r := range c.srv {
		if r.Role != failover.RoleRecording || !r.Abnormal || r.Crashed || !r.Own.On || r.Hostile != "" ||
			c.peer(i).Recording != status.RecordingAbnormalProtected {
			o.fighting[i] = -1
			continue
		}
		since := o.fighting[i]
		if since < 0 {
			since = now
			o.fighting[i] = since
		}
		from := max(since, c.v.LinkCalmSince(i), centerCalm)
		if now-from > c.b.Fence {
			c.fail(1, fmt.Sprintf("%s answers abnormal and still records its cameras %s after %s took them over: it was never stood down",
				r.ID, fmtDur(now-from), c.peer(i).Peer))
			return false
		}
	}
	return true
}
