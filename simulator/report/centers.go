package report

import (
	"errors"
	"time"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/check"
	"github.com/nvrha/nvrha/simulator/history"
	"github.com/nvrha/nvrha/transport"
)

// Centers is what several centers that stand by for each other did in a
// run (Report.Centers; nil with one center). A failover starts when the
// leader is lost (it crashes, or stops leading for want of a renewed lease
// or because an agent obeyed a newer term) and ends when protection
// resumes: the next leader's first probe leaves.
type Centers struct {
	Centers int           `json:"centers"`
	Lease   time.Duration `json:"lease"`
	// Elections counts the terms granted, the first included; LeaderCrashes
	// the leaders that crashed while leading, StepDowns those that stopped
	// leading.
	Elections     int `json:"elections"`
	LeaderCrashes int `json:"leader_crashes"`
	StepDowns     int `json:"step_downs"`
	// Resume is, for each leader that crashed, the time from its crash to
	// the next leader's first probe; ResumeTarget is lease + 1 s.
	Resume        Stats           `json:"resume"`
	ResumeSamples []time.Duration `json:"resume_samples,omitempty"`
	ResumeTarget  time.Duration   `json:"resume_target"`
	// Covered is, for each recording server that crashed during a
	// failover, the time from its crash until a standby recorded its
	// cameras; NotCovered counts those no standby covered before they came
	// back (or the run ended). CoveredTarget is lease + the detection
	// budget (docs/invariants.md) + 2 s.
	Covered        Stats           `json:"covered"`
	CoveredSamples []time.Duration `json:"covered_samples,omitempty"`
	NotCovered     int             `json:"not_covered"`
	CoveredTarget  time.Duration   `json:"covered_target"`
	// StaleTermRefused counts the orders agents refused for a stale center
	// term: the fence at work.
	StaleTermRefused int `json:"stale_term_refused"`
}

// centers takes the measures of several centers.
type centers struct {
	Centers
	// lostAt is when the leader was lost, -1 outside a failover; crashed
	// tells whether it crashed.
	lostAt  time.Duration
	crashed bool
	// waiting maps the recording servers that crashed during a failover
	// to when they crashed, until a standby records their cameras.
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
		}
	case history.CommandSent:
		if c.lostAt >= 0 && e.Command.Kind == failover.CmdProbe && m.center.Up {
			if c.crashed {
				c.ResumeSamples = append(c.ResumeSamples, m.now-c.lostAt)
			}
			c.lostAt = -1
		}
	case history.FaultStarted:
		if s := m.srv[e.Server]; c.lostAt >= 0 && s.Role == failover.RoleRecording && s.Crashed {
			if _, ok := c.waiting[e.Server]; !ok {
				c.waiting[e.Server] = m.now
			}
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

// fill puts the measures on r.
func (c *centers) fill(r *Report, t *history.CenterTruth) {
	out := c.Centers
	out.Elections = t.Elections
	out.Resume, out.Covered = StatsOf(out.ResumeSamples), StatsOf(out.CoveredSamples)
	r.Centers = &out
}
