package report

import (
	"errors"
	"time"

	"github.com/nvrha/nvrha/eligibility"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/check"
	"github.com/nvrha/nvrha/simulator/history"
	"github.com/nvrha/nvrha/status"
	"github.com/nvrha/nvrha/transport"
)

// Centers is what several centers that stand by for each other did in a
// run (Report.Centers; nil with one center). A failover starts when the
// leader is lost (it crashes, or stops leading for want of a renewed lease
// or because an agent obeyed a newer term) and ends when protection
// resumes: the next leader's first probe leaves. A failover is clean when
// at its start the store is available and another center could be
// elected, and until its end that stays so and no other action strikes a
// center or the store; the targets are about clean failovers (a store
// outage or a second crash during one adds its own length).
type Centers struct {
	Centers int           `json:"centers"`
	Lease   time.Duration `json:"lease"`
	// Elections counts the terms granted, the first included; LeaderCrashes
	// the leaders that crashed while leading, StepDowns those that stopped
	// leading.
	Elections     int `json:"elections"`
	LeaderCrashes int `json:"leader_crashes"`
	StepDowns     int `json:"step_downs"`
	// Resume is, for each leader that crashed in a clean failover, the
	// time from its crash to the next leader's first probe; ResumeTarget
	// is lease + 1 s. ResumeCompound is the same for the other leader
	// crashes.
	Resume                Stats           `json:"resume"`
	ResumeSamples         []time.Duration `json:"resume_samples,omitempty"`
	ResumeTarget          time.Duration   `json:"resume_target"`
	ResumeCompound        Stats           `json:"resume_compound"`
	ResumeCompoundSamples []time.Duration `json:"resume_compound_samples,omitempty"`
	// Covered is, for each recording server that crashed during a clean
	// failover while its group had a free standby that fits and no other
	// failed recording server, the time from its crash until a standby
	// recorded its cameras; NotCovered counts those no standby covered
	// before they came back (or the run ended), Contended the crashes
	// during a failover that was not clean, without a free standby to
	// themselves, or whose wait another fault or an admin operation of
	// their group, a burst on every link or a fault of a center joined
	// before a standby recorded their cameras. CoveredTarget
	// is lease + the detection budget (docs/invariants.md) + 2 s.
	Covered        Stats           `json:"covered"`
	CoveredSamples []time.Duration `json:"covered_samples,omitempty"`
	NotCovered     int             `json:"not_covered"`
	Contended      int             `json:"contended"`
	CoveredTarget  time.Duration   `json:"covered_target"`
	// StaleTermRefused counts the orders agents refused for a stale center
	// term: the fence at work.
	StaleTermRefused int `json:"stale_term_refused"`
}

// centers takes the measures of several centers.
type centers struct {
	Centers
	// lostAt is when the leader was lost, -1 outside a failover; crashed
	// tells whether it crashed, compound whether the failover is not
	// clean.
	lostAt            time.Duration
	crashed, compound bool
	// waiting maps the recording servers that crashed during a clean
	// failover with a standby to themselves to when they crashed, until a
	// standby records their cameras.
	waiting map[int]time.Duration
}

func newCenters(set *history.Settings) *centers {
	c := &centers{lostAt: -1, waiting: map[int]time.Duration{}}
	c.Centers.Centers, c.Lease = set.Centers, set.Lease
	c.ResumeTarget = set.Lease + time.Second
	c.CoveredTarget = set.Lease + check.BudgetsOf(set).Detect + 2*time.Second
	return c
}

// observe takes one event of the kinds Measures wants.
func (c *centers) observe(m *Measures, e *history.Event) {
	switch e.Kind {
	case history.CenterCrash:
		if e.Detail == "crash" {
			c.LeaderCrashes++
		} else {
			c.StepDowns++
		}
		if c.lostAt < 0 {
			c.lostAt, c.crashed = m.now, e.Detail == "crash"
			c.compound = m.center.StoreDown || m.center.Followers == 0
		}
	case history.ActionTaken:
		a := e.Action
		switch {
		case history.IsCenterVerb(a.Verb) || a.Verb == "store-down" || a.Verb == "store-up":
			c.compound = c.compound || c.lostAt >= 0
			c.contend(func(int) bool { return true })
		case e.Fault == "":
		case (a.Verb == "loss" || a.Verb == "delay") && len(a.Targets) == 0:
			c.contend(func(int) bool { return true })
		default:
			// A fault or an admin operation on the group of a server that
			// waits, or on one of its servers.
			c.contend(func(i int) bool {
				g := m.srv[i].Group
				if history.IsGroupVerb(a.Verb) {
					return len(a.Targets) > 0 && a.Targets[0] == history.GroupRef(g.Index)
				}
				for _, j := range e.Servers {
					if m.srv[j].Group == g {
						return true
					}
				}
				return false
			})
		}
	case history.Tick:
		if c.lostAt >= 0 && !m.center.Up && (m.center.StoreDown || m.center.Followers == 0) {
			c.compound = true
		}
	case history.CommandSent:
		if c.lostAt >= 0 && e.Command.Kind == failover.CmdProbe && m.center.Up {
			switch {
			case c.crashed && c.compound:
				c.ResumeCompoundSamples = append(c.ResumeCompoundSamples, m.now-c.lostAt)
			case c.crashed:
				c.ResumeSamples = append(c.ResumeSamples, m.now-c.lostAt)
			}
			c.lostAt = -1
		}
	case history.FaultStarted:
		g := m.srv[e.Server].Group
		c.contend(func(i int) bool { return i != e.Server && m.srv[i].Group == g })
		if s := m.srv[e.Server]; c.lostAt >= 0 && s.Role == failover.RoleRecording && s.Crashed {
			if _, ok := c.waiting[e.Server]; ok {
				return
			}
			if c.compound || !standbyFor(m, e.Server) {
				c.Contended++
				return
			}
			c.waiting[e.Server] = m.now
		}
	case history.FaultEnded:
		if _, ok := c.waiting[e.Server]; ok && !m.srv[e.Server].Crashed {
			c.NotCovered++
			delete(c.waiting, e.Server)
		}
	case history.FootageChanged:
		if !e.Cover || !e.On {
			return
		}
		if i, ok := m.byID[e.Of]; ok {
			if at, ok := c.waiting[i]; ok {
				c.CoveredSamples = append(c.CoveredSamples, m.now-at)
				delete(c.waiting, i)
			}
		}
	case history.Delivered:
		if errors.Is(e.Result.Err, transport.ErrStaleTerm) {
			c.StaleTermRefused++
		}
	case history.Finish:
		c.NotCovered += len(c.waiting)
		clear(c.waiting)
	}
}

// contend moves the waiting servers that match to Contended: another
// fault of their group, or of a center, has its share in their wait.
func (c *centers) contend(match func(i int) bool) {
	for i := range c.waiting {
		if match(i) {
			c.Contended++
			delete(c.waiting, i)
		}
	}
}

// standbyFor reports whether recording server i, enabled in a protected
// group, has a standby of its group to itself: free, sound, fitting, on a
// calm link, shown "Normal, protection ready" when a center last showed
// it, with no other recording server of the group failed.
func standbyFor(m *Measures, i int) bool {
	r := m.srv[i]
	g := r.Group
	if !r.Member || !r.Enabled || !g.Exists || !g.Protection {
		return false
	}
	free := false
	for _, j := range g.Servers {
		s := m.srv[j]
		switch {
		case j == i || !s.Member || s.Group != g:
		case s.Role == failover.RoleRecording && s.Down():
			return false
		case s.Role == failover.RoleStandby && s.Enabled && !s.Down() && !s.Paused && s.Hostile == "" && s.Covering == "" &&
			s.Facts.HasEmptyRecordingSpace() && eligibility.CanCover(s.Facts, r.Facts) && m.v.CalmSince(j) < m.now &&
			lastStatus(m, j) == status.StandbyNormalProtectionReady.Label():
			free = true
		}
	}
	return free
}

// fill puts the measures on r.
func (c *centers) fill(r *Report, t *history.CenterTruth) {
	out := c.Centers
	out.Elections = t.Elections
	out.Resume, out.Covered = StatsOf(out.ResumeSamples), StatsOf(out.CoveredSamples)
	out.ResumeCompound = StatsOf(out.ResumeCompoundSamples)
	r.Centers = &out
}

// lastStatus is the status a center last showed for server i, "" if none.
func lastStatus(m *Measures, i int) string {
	st := m.timelines[i].Statuses
	if len(st) == 0 {
		return ""
	}
	return st[len(st)-1].Label
}
