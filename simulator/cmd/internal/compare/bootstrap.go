package compare

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/nvrha/nvrha/simulator"
)

// The bootstrap's settings. Its random source is seeded from constants, so
// that the same worlds always give the same intervals; 2,000 resamples put
// the 2.5th and 97.5th percentiles on the 51st value from either end.
const (
	// Resamples is how many resamples of the worlds each interval draws.
	Resamples = 2000
	// Confidence is the share of the resamples inside an interval.
	Confidence = 0.95
	// bootstrapSeed seeds the resampling: "nvrha-bs".
	bootstrapSeed = 0x6e767268612d6273
)

// Ratio is nvrha's footage lost over the baseline's, with its interval.
// Low or High is +Inf where resamples in which the baseline lost nothing
// and nvrha lost some reach past the percentile: the interval is then
// unbounded above (null in JSON).
type Ratio struct {
	Estimate float64 `json:"estimate"`
	Low      float64 `json:"low"`
	High     float64 `json:"high"`
}

// MarshalJSON writes null for a bound that is not finite.
func (r Ratio) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Estimate *float64 `json:"estimate"`
		Low      *float64 `json:"low"`
		High     *float64 `json:"high"`
	}{finite(r.Estimate), finite(r.Low), finite(r.High)})
}

// Difference is nvrha's footage lost minus the baseline's, summed over the
// worlds, with its interval: negative when nvrha lost less.
type Difference struct {
	Estimate time.Duration `json:"estimate"`
	Low      time.Duration `json:"low"`
	High     time.Duration `json:"high"`
}

// Paired is what a paired bootstrap says of the footage two sides lost in
// the same worlds.
type Paired struct {
	Ratio      Ratio      `json:"nvrha_over_baseline"`
	Difference Difference `json:"nvrha_minus_baseline"`
}

// Verdict says what the interval shows at Confidence: "less" when nvrha
// lost less than the baseline (the ratio's interval lies below 1), "more"
// when it lost more, "none" when neither side lost anything in any world,
// and "not shown" when the interval holds 1.
func (p Paired) Verdict() string {
	switch {
	case p.Difference.Low == 0 && p.Difference.High == 0 && p.Ratio.Low == 1 && p.Ratio.High == 1:
		return "none"
	case p.Ratio.High < 1:
		return "less"
	case p.Ratio.Low > 1:
		return "more"
	}
	return "not shown"
}

// pairedBootstrap resamples the worlds (the same index in nv and bl is one
// world, run on both sides) with replacement, Resamples times, and returns
// the percentile intervals of sum(nv) ÷ sum(bl) and of sum(nv) - sum(bl),
// in seconds. Every call with as many worlds draws the same resamples, so
// that the intervals of several measures of the same worlds come from one
// resampling. Without worlds every figure is NaN.
func pairedBootstrap(nv, bl []float64) (ratio, diff [3]float64) {
	n := len(nv)
	if n == 0 || len(bl) != n {
		nan := math.NaN()
		return [3]float64{nan, nan, nan}, [3]float64{nan, nan, nan}
	}
	sum := func(x []float64) float64 {
		s := 0.0
		for _, v := range x {
			s += v
		}
		return s
	}
	sn, sb := sum(nv), sum(bl)
	ratio[0], diff[0] = lostRatio(sn, sb), sn-sb
	rng := rand.New(rand.NewPCG(bootstrapSeed, uint64(n)))
	ratios, diffs := make([]float64, Resamples), make([]float64, Resamples)
	for k := range Resamples {
		a, b := 0.0, 0.0
		for range n {
			i := rng.IntN(n)
			a += nv[i]
			b += bl[i]
		}
		ratios[k], diffs[k] = lostRatio(a, b), a-b
	}
	ratio[1], ratio[2] = percentiles(ratios)
	diff[1], diff[2] = percentiles(diffs)
	return ratio, diff
}

// lostRatio is a ÷ b, 1 when both lost nothing, +Inf when only a did.
func lostRatio(a, b float64) float64 {
	if b == 0 {
		if a == 0 {
			return 1
		}
		return math.Inf(1)
	}
	return a / b
}

// percentiles returns the bounds of the central Confidence share of xs,
// as order statistics the same distance from either end (xs is sorted in
// place).
func percentiles(xs []float64) (low, high float64) {
	slices.Sort(xs)
	k := int(math.Floor((1 - Confidence) / 2 * float64(len(xs))))
	return xs[k], xs[len(xs)-1-k]
}

// paired runs the bootstrap over the footage lost in seconds and returns
// it as a Paired.
func paired(nv, bl []float64) Paired {
	r, d := pairedBootstrap(nv, bl)
	dur := func(s float64) time.Duration {
		if math.IsNaN(s) {
			return 0
		}
		return time.Duration(math.Round(s * float64(time.Second)))
	}
	return Paired{Ratio: Ratio{r[0], r[1], r[2]}, Difference: Difference{dur(d[0]), dur(d[1]), dur(d[2])}}
}

// worldLoss is the footage one world lost on each side (nvrha, baseline,
// oracle) by class, and in all: what the bootstrap resamples.
type worldLoss struct {
	classes map[string][3]time.Duration
	total   [3]time.Duration
	oracle  bool
	// scarcity is each side's Scarcity.
	scarcity [3]simulator.Scarcity
}

func worldLossOf(nv, bl Run, oracle *Run) worldLoss {
	w := worldLoss{classes: map[string][3]time.Duration{}, total: [3]time.Duration{nv.FootageLost, bl.FootageLost},
		scarcity: [3]simulator.Scarcity{nv.Scarcity, bl.Scarcity}}
	runs := []*Run{&nv, &bl, oracle}
	for side, r := range runs {
		if r == nil {
			continue
		}
		for _, c := range r.Classes {
			x := w.classes[c.Class]
			x[side] += c.Lost
			w.classes[c.Class] = x
		}
	}
	if oracle != nil {
		w.total[2], w.scarcity[2], w.oracle = oracle.FootageLost, oracle.Scarcity, true
	}
	return w
}

// lossSeries returns, world by world, the footage two sides lost in
// seconds; of picks it from a world.
func (c *Comparison) lossSeries(of func(worldLoss) (nv, bl time.Duration)) (nv, bl []float64) {
	nv, bl = make([]float64, len(c.worlds)), make([]float64, len(c.worlds))
	for i, w := range c.worlds {
		a, b := of(w)
		nv[i], bl[i] = a.Seconds(), b.Seconds()
	}
	return nv, bl
}

// ClassPaired returns the paired bootstrap of the footage nvrha and the
// baseline lost in the incidents of class, world by world (a world without
// such an incident lost nothing in it).
func (c *Comparison) ClassPaired(class string) Paired {
	return paired(c.lossSeries(func(w worldLoss) (time.Duration, time.Duration) {
		x := w.classes[class]
		return x[0], x[1]
	}))
}

// Overall is the paired bootstrap of all the footage lost and, with the
// oracle in every world, of the avoidable loss (footage lost beyond the
// oracle's in the same world), whose difference is that of all the
// footage lost; and, by the same resampling of the worlds, the interval of
// each side's scarcity efficiency (the camera-time covered while failures
// outnumbered the standbys over the most the best choice could cover).
type Overall struct {
	Worlds     int     `json:"worlds"`
	Resamples  int     `json:"resamples"`
	Confidence float64 `json:"confidence"`
	Lost       Paired  `json:"footage_lost"`
	// Avoidable is nil when a world ran without the oracle.
	Avoidable *Ratio `json:"avoidable_loss_nvrha_over_baseline,omitempty"`
	// Scarcity is the scarcity efficiency of nvrha, the baseline and the
	// oracle (NaN, null in JSON, without oracle runs); a resample without
	// scarcity counts as 1.
	Scarcity [3]Ratio `json:"scarcity_efficiency"`
}

// Overall returns the bootstrap of the totals.
func (c *Comparison) Overall() Overall {
	o := Overall{Worlds: len(c.worlds), Resamples: Resamples, Confidence: Confidence,
		Lost: paired(c.lossSeries(func(w worldLoss) (time.Duration, time.Duration) { return w.total[0], w.total[1] }))}
	withOracle := len(c.worlds) > 0 && !slices.ContainsFunc(c.worlds, func(w worldLoss) bool { return !w.oracle })
	nan := math.NaN()
	o.Scarcity[2] = Ratio{nan, nan, nan}
	sides := 2
	if withOracle {
		sides = 3
	}
	for side := range sides {
		// Covered over optimal, resampled as footage lost is: a world
		// without scarcity adds nothing to either.
		o.Scarcity[side] = paired(c.lossSeries(func(w worldLoss) (time.Duration, time.Duration) {
			return w.scarcity[side].Covered, w.scarcity[side].Optimal
		})).Ratio
	}
	if !withOracle {
		return o
	}
	av := paired(c.lossSeries(func(w worldLoss) (time.Duration, time.Duration) {
		return w.total[0] - w.total[2], w.total[1] - w.total[2]
	}))
	o.Avoidable = &av.Ratio
	return o
}
