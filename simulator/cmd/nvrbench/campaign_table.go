package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/nvrha/nvrha/simulator"
	"github.com/nvrha/nvrha/simulator/cmd/internal/compare"
)

func campaignRows(ctx context.Context, cfg campaignConfig, progress io.Writer) ([]row, error) {
	c, err := runCampaign(ctx, cfg, progress)
	if err != nil {
		return nil, err
	}
	reach := fmt.Sprintf("%d worlds of %s, seeds %d-%d, %s; each with nvrha, the baseline and the oracle",
		len(c.cmp.Seeds), cfg.day, cfg.firstSeed, cfg.firstSeed+uint64(max(len(c.cmp.Seeds), 1))-1, c.wall.Round(time.Second))
	if !c.complete {
		reach += " (stopped early: -max-wall or an interrupt)"
	}
	worlds := len(c.cmp.Seeds)
	paired := worlds - len(c.cmp.Unpaired)
	rows := []row{
		{Figure: "noisy LAN: " + reach},
		{Figure: "crash incidents pooled", Target: fmt.Sprintf(">= %d", cfg.incidents), Measured: fmt.Sprint(c.crashes),
			Met: verdict(c.crashes >= cfg.incidents)},
		{Figure: "server-days without a crash pooled", Target: fmt.Sprintf(">= %.0f", cfg.serverDays),
			Measured: fmt.Sprintf("%.0f", c.serverDays), Met: verdict(c.serverDays >= cfg.serverDays)},
		{Figure: "worlds with one plan of faults on all three sides", Target: "all",
			Measured: fmt.Sprintf("%d of %d", paired, worlds), Met: verdict(paired == worlds)},
	}
	rows = append(rows, comparisonRows(c.cmp, c.serverDays, c.falseTakeovers)...)
	if len(c.failures) > 0 {
		for _, r := range c.failures {
			fmt.Fprintf(progress, "nvrbench: seed %d (%s) broke invariant %d: %s\n  replay: %s\n", r.Seed, r.Detector,
				r.Failure.Invariant, r.Failure.Detail, r.Failure.Replay)
		}
		return rows, fmt.Errorf("%d worlds broke an invariant", len(c.failures))
	}
	return rows, nil
}

// comparisonRows are the figures of nvrha, the baseline and the oracle in
// the same worlds: detection, takeover and the gap per camera against
// their targets, false takeovers (falseTakeovers, by side, over
// serverDays), the footage lost and the avoidable loss, with the 95%
// interval of nvrha's over the baseline's from a paired bootstrap, and the
// footage lost by first fault of the incident. Ratios are nvrha's figure
// over the baseline's.
func comparisonRows(cmp *compare.Comparison, serverDays float64, falseTakeovers [3]int) []row {
	n, b, o := cmp.NVRHA.Summary(), cmp.Baseline.Summary(), cmp.Oracle.Summary()
	dur := func(name, target string, limit time.Duration, of func(compare.Summary) simulator.Stats,
		p func(simulator.Stats) time.Duration) row {
		nv, bl, or := of(n), of(b), of(o)
		r := row{Figure: name, Target: target, Measured: statText(nv, p), Baseline: statText(bl, p), Oracle: statText(or, p)}
		if nv.N > 0 && bl.N > 0 && p(bl) > 0 {
			r.Ratio = fmt.Sprintf("%.2f", p(nv).Seconds()/p(bl).Seconds())
		}
		if limit > 0 {
			r.Met = verdict(nv.N > 0 && p(nv) <= limit)
		}
		return r
	}
	detect := func(s compare.Summary) simulator.Stats { return s.Detect }
	takeover := func(s compare.Summary) simulator.Stats { return s.Takeover }
	gap := func(s compare.Summary) simulator.Stats { return s.GapPerCamera }
	p50 := func(s simulator.Stats) time.Duration { return s.P50 }
	p99 := func(s simulator.Stats) time.Duration { return s.P99 }
	per10k := func(k int) string {
		if serverDays == 0 {
			return "0.00"
		}
		return fmt.Sprintf("%.2f", float64(k)/serverDays*10000)
	}
	overall := cmp.Overall()
	av := cmp.Avoidable()
	rows := []row{
		dur("time to detect p50", "", 0, detect, p50),
		dur("time to detect p99", "<= 2s", 2*time.Second, detect, p99),
		dur("time to a confirmed takeover p99", "", 0, takeover, p99),
		dur("recording gap per camera p50", "<= 2.5s", 2500*time.Millisecond, gap, p50),
		dur("recording gap per camera p99", "<= 3.5s", 3500*time.Millisecond, gap, p99),
		{Figure: "takeovers of a server that only paused (< acceptable pause) or lost messages", Target: "0",
			Measured: fmt.Sprint(falseTakeovers[0]), Baseline: fmt.Sprint(falseTakeovers[1]),
			Oracle: fmt.Sprint(falseTakeovers[2]), Met: verdict(falseTakeovers[0] == 0)},
		{Figure: "false takeovers per 10,000 server-days", Target: "<= 1", Measured: per10k(falseTakeovers[0]),
			Baseline: per10k(falseTakeovers[1]), Oracle: per10k(falseTakeovers[2]),
			Met: verdict(float64(falseTakeovers[0]) <= serverDays/10000)},
		{Figure: "camera availability", Measured: fmt.Sprintf("%.5f%%", 100*n.Availability),
			Baseline: fmt.Sprintf("%.5f%%", 100*b.Availability), Oracle: fmt.Sprintf("%.5f%%", 100*o.Availability)},
		{Figure: "footage lost (camera-time)", Measured: lostText(n.FootageLost), Baseline: lostText(b.FootageLost),
			Oracle: lostText(o.FootageLost), Ratio: ratioCell(overall.Lost.Ratio.Estimate)},
		{Figure: "  95% interval of nvrha ÷ base", Measured: intervalText(overall.Lost.Ratio)},
		{Figure: "avoidable loss (lost beyond the oracle's)", Measured: lostText(av.NVRHA), Baseline: lostText(av.Baseline),
			Oracle: lostText(0), Ratio: ratioCell(av.Ratio)},
	}
	if a := overall.Avoidable; a != nil {
		rows = append(rows, row{Figure: "  95% interval of nvrha ÷ base", Measured: intervalText(*a)})
	}
	rows = append(rows,
		row{Figure: "time failures outnumber the standbys that fit", Measured: secs(n.ScarceTime), Baseline: secs(b.ScarceTime),
			Oracle: secs(o.ScarceTime)},
		row{Figure: "scarcity efficiency", Measured: fmt.Sprintf("%.4f", n.ScarcityEfficiency),
			Baseline: fmt.Sprintf("%.4f", b.ScarcityEfficiency), Oracle: fmt.Sprintf("%.4f", o.ScarcityEfficiency)},
		row{Figure: "  95% interval", Measured: intervalText(overall.Scarcity[0]), Baseline: intervalText(overall.Scarcity[1]),
			Oracle: intervalText(overall.Scarcity[2])},
		row{Figure: fmt.Sprintf("footage lost by the first fault of the incident: nvrha against the baseline in the same "+
			"worlds, %.0f%% intervals of a paired bootstrap (%d resamples of the %d worlds); below 1 shows nvrha lost less",
			100*compare.Confidence, compare.Resamples, overall.Worlds)},
	)
	for _, c := range cmp.Classes() {
		v := c.Paired.Verdict()
		rows = append(rows,
			row{Figure: c.Class + ": footage lost", Measured: lostText(c.NVRHA.FootageLost), Baseline: lostText(c.Baseline.FootageLost),
				Oracle: lostText(c.Oracle.FootageLost), Ratio: ratioCell(c.Paired.Ratio.Estimate)},
			row{Figure: "  95% interval of nvrha ÷ base", Target: "below 1", Measured: intervalText(c.Paired.Ratio),
				Met: verdict(v == "less" || v == "none")},
			row{Figure: "  95% interval of nvrha - base", Measured: fmt.Sprintf("%s to %s",
				lostText(c.Paired.Difference.Low), lostText(c.Paired.Difference.High))},
		)
	}
	return rows
}

func statText(s simulator.Stats, p func(simulator.Stats) time.Duration) string {
	if s.N == 0 {
		return "-"
	}
	return secs(p(s))
}

// lostText prints camera-time lost to the second: campaign totals run to
// millions of seconds.
func lostText(d time.Duration) string {
	s := math.Round(d.Seconds())
	if s == 0 {
		s = 0 // drops the sign of a negative zero
	}
	return fmt.Sprintf("%.0fs", s)
}

func ratioCell(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return ""
	}
	return fmt.Sprintf("%.2f", r)
}

// intervalText prints a ratio's interval; ∞ for an end without bound.
func intervalText(r compare.Ratio) string {
	if math.IsNaN(r.Low) || math.IsNaN(r.High) {
		return "-"
	}
	end := func(v float64) string {
		if math.IsInf(v, 1) {
			return "∞"
		}
		return fmt.Sprintf("%.2f", v)
	}
	return end(r.Low) + " to " + end(r.High)
}
