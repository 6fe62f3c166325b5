package compare

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nvrha/nvrha/simulator"
)

// Two worlds: nvrha lost 1 s and 3 s, the baseline 2 s and 4 s. A
// resample of two worlds is one of four, each a quarter of the time:
// {1,1} (sums 2 against 4: ratio 0.5), {1,2} or {2,1} (4 against 6: 2/3)
// and {2,2} (6 against 8: 0.75). Each end of the central 95% falls in a
// quarter of its own, so the ratio's interval is exactly 0.5-0.75. Every
// world lost 1 s less with nvrha, so every resample's difference is -2 s:
// resampling the sides apart would spread it from -6 s to +2 s.
func TestPairedBootstrapHandComputed(t *testing.T) {
	ratio, diff := pairedBootstrap([]float64{1, 3}, []float64{2, 4})
	if ratio != [3]float64{4.0 / 6, 0.5, 0.75} {
		t.Errorf("ratio estimate, low, high %v; want 2/3, 0.5, 0.75", ratio)
	}
	if diff != [3]float64{-2, -2, -2} {
		t.Errorf("difference estimate, low, high %v; want -2, -2, -2", diff)
	}
}

// Swapping the sides turns every resample's ratio into its inverse and
// its difference into its negative, and the percentiles are order
// statistics the same distance from either end: the intervals swap their
// ends, inverted and negated. The same worlds always give the same
// intervals.
func TestPairedBootstrapSwappedSides(t *testing.T) {
	nv := []float64{12, 0, 3.5, 40, 7, 7, 0, 19, 2.25, 31}
	bl := []float64{20, 1, 9, 35, 8, 14, 0, 30, 2.25, 60}
	r, d := pairedBootstrap(nv, bl)
	sr, sd := pairedBootstrap(bl, nv)
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }
	if !near(sr[0], 1/r[0]) || !near(sr[1], 1/r[2]) || !near(sr[2], 1/r[1]) {
		t.Errorf("ratio %v, swapped %v: want the inverse with its ends swapped", r, sr)
	}
	if sd[0] != -d[0] || sd[1] != -d[2] || sd[2] != -d[1] {
		t.Errorf("difference %v, swapped %v: want the negative with its ends swapped", d, sd)
	}
	if !(r[1] < r[0] && r[0] < r[2]) || !(d[1] < d[0] && d[0] < d[2]) {
		t.Errorf("ratio %v, difference %v: want an interval around the estimate", r, d)
	}
	if r2, d2 := pairedBootstrap(nv, bl); r2 != r || d2 != d {
		t.Errorf("the same worlds gave %v %v, then %v %v", r, d, r2, d2)
	}
}

// Worlds in which the baseline lost nothing and nvrha some leave the
// ratio unbounded above; JSON says null for it, and no worlds at all give
// no figure, never a panic.
func TestPairedBootstrapEdges(t *testing.T) {
	p := paired([]float64{5, 2, 0, 7}, []float64{0, 0, 0, 0})
	if !math.IsInf(p.Ratio.Estimate, 1) || !math.IsInf(p.Ratio.High, 1) || p.Difference.Low <= 0 || p.Verdict() != "more" {
		t.Errorf("nvrha lost 5 s where the baseline lost nothing: %+v, %q", p, p.Verdict())
	}
	b, err := json.Marshal(p)
	if err != nil || !strings.Contains(string(b), `"high":null`) {
		t.Errorf("JSON %s, %v", b, err)
	}
	if p := paired([]float64{0, 0}, []float64{0, 0}); p.Verdict() != "none" {
		t.Errorf("nothing lost: %+v, %q", p, p.Verdict())
	}
	if p := paired(nil, nil); !math.IsNaN(p.Ratio.Estimate) || p.Difference != (Difference{}) {
		t.Errorf("no worlds: %+v", p)
	}
	// A difference of a few milliseconds prints as none, without a sign.
	if got := wholeSecs(-8 * time.Millisecond); got != "0s" {
		t.Errorf("-8ms prints as %q, want 0s", got)
	}
}

// The comparison resamples worlds: two worlds added give the hand-computed
// intervals of their classes, a class missing from a world counting as
// nothing lost there.
func TestComparisonClassIntervals(t *testing.T) {
	run := func(baseline, oracle bool, crash, pause time.Duration) Run {
		return Run{Baseline: baseline, Oracle: oracle, FootageLost: crash + pause, Classes: []ClassRun{
			{Class: "crash", Incidents: 1, Lost: crash}, {Class: "pause", Incidents: 1, Lost: pause}}}
	}
	c := New()
	orc := run(false, true, 0, 0)
	// Scarcity: nvrha covered 1 s of 2 s and 3 s of 4 s.
	nv := run(false, false, time.Second, 0)
	nv.Scarcity = simulator.Scarcity{Time: time.Second, Optimal: 2 * time.Second, Covered: time.Second}
	c.AddRuns(nv, run(true, false, 2*time.Second, 0), &orc)
	orc = run(false, true, time.Second, 0)
	nv = run(false, false, 3*time.Second, 0)
	nv.Scarcity = simulator.Scarcity{Time: time.Second, Optimal: 4 * time.Second, Covered: 3 * time.Second}
	c.AddRuns(nv, run(true, false, 2*time.Second, time.Second), &orc)
	p := c.ClassPaired("crash")
	if p.Ratio != (Ratio{1, 0.5, 1.5}) || p.Difference != (Difference{0, -2 * time.Second, 2 * time.Second}) {
		t.Errorf("crash: %+v", p)
	}
	// Pauses: nvrha lost nothing, the baseline 1 s in the second world. A
	// quarter of the resamples hold the first world twice, where neither
	// lost anything: a ratio of 1, which the interval reaches.
	if p := c.ClassPaired("pause"); p.Ratio != (Ratio{0, 0, 1}) || p.Verdict() != "not shown" {
		t.Errorf("pause, 0 s against 1 s: %+v, %q", p, p.Verdict())
	}
	// Avoidable loss: nvrha 1 s and 2 s beyond the oracle, the baseline 2 s
	// and 2 s.
	o := c.Overall()
	if o.Worlds != 2 || o.Avoidable == nil || *o.Avoidable != (Ratio{0.75, 0.5, 1}) {
		t.Errorf("overall %+v, avoidable %+v", o, o.Avoidable)
	}
	// Scarcity efficiency resamples as the hand-computed footage does; the
	// baseline and the oracle never met scarcity.
	if o.Scarcity != [3]Ratio{{4.0 / 6, 0.5, 0.75}, {1, 1, 1}, {1, 1, 1}} {
		t.Errorf("scarcity efficiency %+v", o.Scarcity)
	}
	var b strings.Builder
	c.writePaired(&b)
	for _, want := range []string{"2000 resamples of the 2 worlds", "crash", "1.00x  0.50 to 1.50x", "-2s to 2s", "avoidable",
		"nvrha 0.6667 (0.5000 to 0.7500)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, b.String())
		}
	}
}
