package check

import (
	"fmt"
	"slices"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/eligibility"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
)

// Invariant 2, license and eligibility: a standby never covers a server
// whose license channels exceed its own; every eligibility rule holds for
// every member.
//
//   - At every takeover start (takeoverStarts, Machine view): the standby
//     has at least the recording server's license channels (in the
//     snapshot and in the persisted facts), and is enabled, protected, up,
//     with an empty recording space and no failed takeover.
//   - At every join the Machine accepts (eligibleJoin), package
//     eligibility, asked independently on the group as persisted, finds no
//     failed rule.
//   - Ground truth (overLicense): a standby records no more cameras than
//     its license channels (a license lowered under a running takeover
//     excepted).

// licenseRule is what invariant 2 remembers.
type licenseRule struct {
	// started are the takeovers started in the current event.
	started []failover.Event
	// joining is the group the server being joined was in before, by the
	// Machine's snapshot.
	joining string
	// recs is the memory eligibleJoin lists a group's recording servers
	// in.
	recs []nvrha.Facts
}

// takeoverStarts checks the license rule and the standby's readiness at
// every takeover started in this event, on the Machine's own facts.
func (c *Checker) takeoverStarts(pf *persisted) bool {
	mem := c.mv.mem
	for _, e := range c.lic.started {
		ri, ok1 := c.index(e.Server, -1)
		si, ok2 := c.index(e.Peer, -1)
		if !ok1 || !ok2 || !mem[ri].in || !mem[si].in {
			continue
		}
		r, s := &mem[ri], &mem[si]
		barred := pf.barred(si, history.Abs(c.now))
		switch {
		case s.LicenseChannels < r.LicenseChannels:
			c.fail(2, fmt.Sprintf("takeover of %s (%d channels) by %s (%d channels)", r.ID, r.LicenseChannels, s.ID, s.LicenseChannels))
			return false
		case !eligibility.CanCover(pf.facts[si], pf.facts[ri]):
			c.fail(2, fmt.Sprintf("takeover of %s by %s breaks the license rule on the persisted facts", r.ID, s.ID))
			return false
		case !s.Enabled || !s.group.Protection || s.Health != nvrha.HealthUp || !s.EmptyRecordingSpace || barred:
			c.fail(2, fmt.Sprintf("takeover of %s by %s, which is not ready (enabled=%v protection=%v health=%v space=%v failed=%v)",
				r.ID, s.ID, s.Enabled, s.group.Protection, s.Health, s.EmptyRecordingSpace, barred))
			return false
		case !r.Enabled:
			c.fail(2, fmt.Sprintf("takeover of %s, which is disabled", r.ID))
			return false
		}
	}
	c.lic.started = c.lic.started[:0]
	return true
}

// overLicense fails invariant 2 if standby s records more cameras than its
// license channels.
func (c *Checker) overLicense(s *history.ServerTruth) bool {
	if n := len(s.CoverCameras); n > s.Facts.LicenseChannels && s.Cover.On {
		// A license lowered under a running takeover is the one case a
		// server keeps more cameras than its channels; it started legal.
		if len(s.LicenseBefore) == 0 {
			c.fail(2, fmt.Sprintf("%s records %d cameras of %s with %d license channels", s.ID, n, s.Covering, s.Facts.LicenseChannels))
			return true
		}
	}
	return false
}

// memberLookup is a Machine that finds one member without a snapshot of
// all (failover.Machine.Member).
type memberLookup interface {
	Member(id nvrha.ServerID) (failover.MemberSnapshot, bool)
}

// joinRequested notes, before the world asks the Machine to add server
// i, which group the Machine has it in (an eligibility rule's input).
func (l *licenseRule) joinRequested(c *Checker, i int) {
	l.joining = ""
	id := c.srv[i].ID
	m := c.v.Machine()
	if mm, ok := m.(memberLookup); ok {
		if _, in := mm.Member(id); !in {
			// In no group: the snapshot would find none. Every server of
			// the world joins once as it starts, and a snapshot per join
			// made starting 1,024 servers quadratic.
			return
		}
	}
	for _, gs := range m.Snapshot().Groups {
		if slices.ContainsFunc(gs.Members, func(m failover.MemberSnapshot) bool { return m.ID == id }) {
			l.joining = gs.Name
		}
	}
}

// eligibleJoin checks, when the Machine accepted server i into group gi,
// that every eligibility rule holds for it, judged independently with
// package eligibility on the group as the Machine persisted it.
func (c *Checker) eligibleJoin(i, gi int) {
	s, g := c.srv[i], c.v.Groups()[gi]
	fc := &c.set.Failover
	tg := eligibility.Group{Name: g.Name, Platform: fc.Platform}
	if pre := c.center.Persisted; pre != nil {
		for _, gs := range pre.Groups {
			if gs.ID != g.ID {
				continue
			}
			tg.Members = len(gs.Members)
			// In memory kept from one join to the next (1,024 at the
			// start).
			recs := c.lic.recs[:0]
			for _, ms := range gs.Members {
				if ms.Role == failover.RoleRecording {
					recs = append(recs, ms.Facts)
				}
			}
			tg.RecordingServers, c.lic.recs = recs, recs
		}
	}
	cand := eligibility.Candidate{Facts: s.Facts, CurrentGroup: c.lic.joining}
	var rs eligibility.Reasons
	if s.Role == failover.RoleRecording {
		rs = fc.Rules.CheckRecording(cand, tg)
	} else {
		rs = fc.Rules.CheckStandby(cand, tg)
	}
	clear(tg.RecordingServers)
	if len(rs) > 0 {
		c.fail(2, fmt.Sprintf("the Machine accepted %s as a %s server of %s, but it fails: %v", s.ID, s.Role, history.GroupRef(g.Index), rs.Codes()))
	}
}
