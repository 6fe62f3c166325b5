package simulator

import (
	"fmt"
	"io"
	"time"

	"github.com/nvrha/nvrha/failover/detector"
	"github.com/nvrha/nvrha/simulator/check"
	"github.com/nvrha/nvrha/simulator/report"
)

// What a run reports is package report's, what it checks package check's;
// these are their names in this package, for code written against it.
type (
	Report         = report.Report
	Stats          = report.Stats
	Incident       = report.Incident
	GapSample      = report.GapSample
	Span           = report.Span
	TakeoverSpan   = report.TakeoverSpan
	ServerTimeline = report.ServerTimeline
	Refusal        = report.Refusal
	AdminResult    = report.AdminResult
	Expectation    = report.Expectation
	Scarcity       = report.Scarcity
	Violation      = check.Violation
	KnownIssue     = check.KnownIssue
)

// InvariantNames names the invariants by number (docs/invariants.md).
var InvariantNames = check.Names

// KnownIssues returns the IDs of every known issue with its invariant and
// description.
func KnownIssues() []KnownIssue { return check.KnownIssues() }

// StatsOf summarises ds.
func StatsOf(ds []time.Duration) Stats { return report.StatsOf(ds) }

// WriteHTML writes r as one self-contained HTML page (report.WriteHTML).
func WriteHTML(w io.Writer, r *Report) error { return report.WriteHTML(w, r) }

// Report returns the run's report; it is final once the run is over.
func (w *World) Report() *Report {
	if w.report != nil && w.finished {
		return w.report
	}
	r := w.buildReport()
	if w.finished {
		w.report = r
	}
	return r
}

// buildReport puts together what the world, its checker and its measures
// hold now.
func (w *World) buildReport() *Report {
	fc := w.cfg.Center.Failover
	settled, settledAt := w.chk.Settled()
	r := &Report{
		Seed: w.cfg.Seed, Baseline: w.cfg.Baseline, Oracle: w.cfg.Oracle, Duration: w.cfg.Duration, Simulated: w.now,
		World: w.cfg.World, Net: w.cfg.Net, TraceHash: w.tr.sum(), Events: w.events, TraceLines: w.tr.lines,
		Messages: w.stats.messages, Lost: w.stats.lost, Checks: w.chk.Checks(), Violation: w.violation,
		Replay: w.cfg.ReplayCommand(), KnownIssues: w.chk.Known(), Settled: settled, CenterRestarts: w.c.t.Restarts,
	}
	w.meas.Fill(r, w.finished)
	r.Detector = fc.Detector.Kind.String()
	if fc.Detector.Kind == detector.KindConsecutiveMiss {
		r.Detector += fmt.Sprintf(" (probe %v, %d misses, pause %v)", fc.Detector.ProbeInterval, fc.Detector.Misses, fc.Detector.AcceptablePause)
	} else {
		r.Detector += fmt.Sprintf(" (probe %v, pause %v, threshold %g)", fc.Detector.ProbeInterval, fc.Detector.AcceptablePause, fc.Detector.Threshold)
	}
	if w.cfg.Oracle {
		r.Detector = "oracle: " + r.Detector
	}
	if w.cfg.Scenario != nil {
		r.Scenario = w.cfg.Scenario.Name
	}
	if len(w.plan) > 0 {
		r.FaultPlan = planHash(w.plan)
	}
	if settled {
		r.SettledAt = settledAt
	}
	r.Orphans = append(r.Orphans, w.chk.Orphans()...)
	for _, e := range w.expects {
		r.Expectations = append(r.Expectations, e.Expectation)
	}
	return r
}
