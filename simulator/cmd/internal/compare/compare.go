package compare

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/nvrha/nvrha/simulator"
)

// Pair returns the two runs of one world: cfg with nvrha's failover
// configuration (cfg.Center.Failover, the library's defaults where it is
// zero) and cfg with the baseline's detector and first-fit standby choice
// (Config.Baseline). Everything else, the failback policy included, stays
// the same. Both keep every gap sample, so that the gap per camera pools
// exactly, and neither writes a trace.
func Pair(cfg simulator.Config) (nvrha, baseline simulator.Config) {
	cfg.Trace = nil
	cfg.MaxGapSamples = math.MaxInt32
	nvrha, baseline = cfg, cfg
	nvrha.Baseline, nvrha.Oracle = false, false
	baseline.Baseline, baseline.Oracle = true, false
	return nvrha, baseline
}

// Oracle returns the oracle's run of the world of cfg: nvrha's failover
// configuration on a center that knows when a server really stopped
// (Config.Oracle), keeping every gap sample and writing no trace, as Pair.
func Oracle(cfg simulator.Config) simulator.Config {
	nv, _ := Pair(cfg)
	nv.Oracle = true
	return nv
}

// Side pools the reports of one failover configuration.
type Side struct {
	Name string
	// Detector is the detector of the first report added.
	Detector string
	Runs     int

	detect, takeover, gap []time.Duration

	incidents, lostIncidents    int
	falseTakeovers, unexplained int
	takeovers                   int
	lost                        time.Duration
	// cameraSeconds is the camera-time pooled, in seconds: a campaign of
	// many worlds overflows a time.Duration (292 years).
	cameraSeconds float64
	incomplete    bool
	failedRuns    int
	classes       map[string]*classPool
	// Scarcity pooled, in seconds (camera-seconds for the last two).
	scarceTime, scarceOptimal, scarceCovered float64
	// Failed are the reports added with Comparison.Add of runs that broke
	// an invariant or an expectation (AddRun counts them, in
	// Summary.Failed).
	Failed []*simulator.Report
}

// Summary is a Side's pooled measures.
type Summary struct {
	Name     string `json:"name"`
	Detector string `json:"detector"`
	Runs     int    `json:"runs"`
	// Incidents counts every incident; LostFootage those in which a server
	// lost footage, which Detect, Takeover and GapPerCamera summarise.
	Incidents                 int             `json:"incidents"`
	LostFootage               int             `json:"incidents_lost_footage"`
	Detect                    simulator.Stats `json:"detect"`
	Takeover                  simulator.Stats `json:"takeover"`
	GapPerCamera              simulator.Stats `json:"gap_per_camera"`
	TakeoversStarted          int             `json:"takeovers_started"`
	FalseTakeovers            int             `json:"false_takeovers"`
	UnexplainedFalseTakeovers int             `json:"unexplained_false_takeovers"`
	FootageLost               time.Duration   `json:"footage_lost"`
	CameraTime                time.Duration   `json:"camera_time"`
	Availability              float64         `json:"availability"`
	// GapSamplesIncomplete is set when a run dropped gap samples: the gap
	// per camera then misses some footage lost.
	GapSamplesIncomplete bool `json:"gap_samples_incomplete,omitempty"`
	Failed               int  `json:"failed_runs"`
	// ScarceTime is how long failed servers outnumbered the standbys that
	// fit them; ScarcityEfficiency the camera-time covered then over the
	// most the best choice of standbys could cover (1 without scarcity).
	ScarceTime         time.Duration `json:"scarce_time"`
	ScarcityEfficiency float64       `json:"scarcity_efficiency"`
}

// Summary returns the pooled measures.
func (s *Side) Summary() Summary {
	out := Summary{
		Name: s.Name, Detector: s.Detector, Runs: s.Runs, Incidents: s.incidents, LostFootage: s.lostIncidents,
		Detect: simulator.StatsOf(s.detect), Takeover: simulator.StatsOf(s.takeover), GapPerCamera: simulator.StatsOf(s.gap),
		TakeoversStarted: s.takeovers, FalseTakeovers: s.falseTakeovers, UnexplainedFalseTakeovers: s.unexplained,
		FootageLost: s.lost, CameraTime: durationOf(s.cameraSeconds), GapSamplesIncomplete: s.incomplete, Failed: s.failedRuns,
	}
	if s.cameraSeconds > 0 {
		out.Availability = 1 - s.lost.Seconds()/s.cameraSeconds
	}
	out.ScarceTime, out.ScarcityEfficiency = durationOf(s.scarceTime), 1
	if s.scarceOptimal > 0 {
		out.ScarcityEfficiency = s.scarceCovered / s.scarceOptimal
	}
	return out
}

// durationOf converts seconds to a Duration, saturating where it would
// overflow.
func durationOf(sec float64) time.Duration {
	if sec >= float64(math.MaxInt64)/float64(time.Second) {
		return math.MaxInt64
	}
	return time.Duration(sec * float64(time.Second))
}

// Comparison pools runs of the same worlds under nvrha, the baseline and
// the oracle.
type Comparison struct {
	Seeds    []uint64
	NVRHA    Side
	Baseline Side
	// Oracle has no runs when the comparison pooled none (a campaign
	// without the oracle).
	Oracle Side
	// Unpaired are the seeds whose runs faced different fault plans
	// (Report.FaultPlan): none, since the nemesis plans from the seed
	// alone.
	Unpaired []uint64

	// worlds are the footage each world lost on each side, in the order
	// added: what the paired bootstrap resamples.
	worlds []worldLoss
}

// New returns an empty Comparison.
func New() *Comparison {
	return &Comparison{NVRHA: Side{Name: "nvrha"}, Baseline: Side{Name: "baseline"}, Oracle: Side{Name: "oracle"}}
}

// Add pools the runs of one world; oracle may be nil.
func (c *Comparison) Add(nvrha, baseline, oracle *simulator.Report) {
	var orc *Run
	if oracle != nil {
		r := RunOf(oracle)
		orc = &r
	}
	c.AddRuns(RunOf(nvrha), RunOf(baseline), orc)
	for _, x := range []struct {
		s *Side
		r *simulator.Report
	}{{&c.NVRHA, nvrha}, {&c.Baseline, baseline}, {&c.Oracle, oracle}} {
		if x.r != nil && !x.r.OK() {
			x.s.Failed = append(x.s.Failed, x.r)
		}
	}
}

// Failed returns the runs that broke an invariant or an expectation.
func (c *Comparison) Failed() []*simulator.Report {
	return slices.Concat(c.NVRHA.Failed, c.Baseline.Failed, c.Oracle.Failed)
}

// Row is one measure side by side. Ratio is baseline ÷ nvrha, NaN when
// it has no meaning (a zero nvrha figure). Oracle is "-" without oracle
// runs.
type Row struct {
	Measure  string  `json:"measure"`
	NVRHA    string  `json:"nvrha"`
	Baseline string  `json:"baseline"`
	Oracle   string  `json:"oracle"`
	Ratio    float64 `json:"-"`
}

// Avoidable is the footage each side lost beyond the oracle's, and the
// share nvrha ÷ baseline of it: the part of the baseline's avoidable loss
// nvrha still loses. Ratio is NaN without oracle runs or when the baseline
// lost no more than the oracle.
type Avoidable struct {
	NVRHA    time.Duration `json:"nvrha"`
	Baseline time.Duration `json:"baseline"`
	Ratio    float64       `json:"-"`
}

// Avoidable returns the avoidable loss of nvrha and the baseline.
func (c *Comparison) Avoidable() Avoidable {
	if c.Oracle.Runs == 0 {
		return Avoidable{Ratio: math.NaN()}
	}
	o := c.Oracle.lost
	a := Avoidable{NVRHA: c.NVRHA.lost - o, Baseline: c.Baseline.lost - o, Ratio: math.NaN()}
	if a.Baseline > 0 {
		a.Ratio = a.NVRHA.Seconds() / a.Baseline.Seconds()
	}
	return a
}

func ratio(x, y float64) float64 {
	if x == 0 {
		if y == 0 {
			return 1
		}
		return math.NaN()
	}
	return y / x
}

// Rows returns the measures side by side: incidents, detection, takeover
// and gap per camera (p50 and p99), false takeovers, availability (whose
// ratio is that of the camera-time lost) and footage lost.
func (c *Comparison) Rows() []Row {
	n, b, o := c.NVRHA.Summary(), c.Baseline.Summary(), c.Oracle.Summary()
	hasOracle := o.Runs > 0
	orc := func(s string) string {
		if !hasOracle {
			return "-"
		}
		return s
	}
	dur := func(label string, ns, bs simulator.Stats, p func(simulator.Stats) time.Duration) Row {
		r := Row{Measure: label, NVRHA: "-", Baseline: "-", Oracle: "-", Ratio: math.NaN()}
		if ns.N > 0 {
			r.NVRHA = secs(p(ns))
		}
		if bs.N > 0 {
			r.Baseline = secs(p(bs))
		}
		if os := statsOf(label, o); os.N > 0 && hasOracle {
			r.Oracle = secs(p(os))
		}
		if ns.N > 0 && bs.N > 0 {
			r.Ratio = ratio(p(ns).Seconds(), p(bs).Seconds())
		}
		return r
	}
	p50 := func(s simulator.Stats) time.Duration { return s.P50 }
	p99 := func(s simulator.Stats) time.Duration { return s.P99 }
	count := func(label string, x, y, z int) Row {
		return Row{Measure: label, NVRHA: fmt.Sprint(x), Baseline: fmt.Sprint(y), Oracle: orc(fmt.Sprint(z)),
			Ratio: ratio(float64(x), float64(y))}
	}
	av := c.Avoidable()
	avoid := Row{Measure: "avoidable loss (lost - oracle's)", NVRHA: "-", Baseline: "-", Oracle: "-", Ratio: math.NaN()}
	if hasOracle {
		avoid = Row{Measure: avoid.Measure, NVRHA: secs(av.NVRHA), Baseline: secs(av.Baseline), Oracle: secs(0),
			Ratio: ratio(av.NVRHA.Seconds(), av.Baseline.Seconds())}
	}
	return []Row{
		count("incidents that lost footage", n.LostFootage, b.LostFootage, o.LostFootage),
		dur("time to detect p50", n.Detect, b.Detect, p50),
		dur("time to detect p99", n.Detect, b.Detect, p99),
		dur("time to takeover p50", n.Takeover, b.Takeover, p50),
		dur("time to takeover p99", n.Takeover, b.Takeover, p99),
		dur("gap per camera p50", n.GapPerCamera, b.GapPerCamera, p50),
		dur("gap per camera p99", n.GapPerCamera, b.GapPerCamera, p99),
		count("false takeovers", n.FalseTakeovers, b.FalseTakeovers, o.FalseTakeovers),
		count("  unexplained", n.UnexplainedFalseTakeovers, b.UnexplainedFalseTakeovers, o.UnexplainedFalseTakeovers),
		{Measure: "camera availability", NVRHA: pct(n.Availability), Baseline: pct(b.Availability),
			Oracle: orc(pct(o.Availability)), Ratio: ratio(1-n.Availability, 1-b.Availability)},
		{Measure: "footage lost (camera-time)", NVRHA: secs(n.FootageLost), Baseline: secs(b.FootageLost),
			Oracle: orc(secs(o.FootageLost)), Ratio: ratio(n.FootageLost.Seconds(), b.FootageLost.Seconds())},
		avoid,
		{Measure: "time failures outnumber standbys", NVRHA: secs(n.ScarceTime), Baseline: secs(b.ScarceTime),
			Oracle: orc(secs(o.ScarceTime)), Ratio: math.NaN()},
		{Measure: "scarcity efficiency", NVRHA: frac(n.ScarcityEfficiency), Baseline: frac(b.ScarcityEfficiency),
			Oracle: orc(frac(o.ScarcityEfficiency)), Ratio: ratio(1-n.ScarcityEfficiency, 1-b.ScarcityEfficiency)},
	}
}

// statsOf picks the statistic of s that a row labelled label shows.
func statsOf(label string, s Summary) simulator.Stats {
	switch {
	case strings.HasPrefix(label, "time to detect"):
		return s.Detect
	case strings.HasPrefix(label, "time to takeover"):
		return s.Takeover
	}
	return s.GapPerCamera
}

// WriteText prints the comparison as a table.
func (c *Comparison) WriteText(w io.Writer) error {
	var sb strings.Builder
	n, b, o := c.NVRHA.Summary(), c.Baseline.Summary(), c.Oracle.Summary()
	kv := func(k, format string, args ...any) { fmt.Fprintf(&sb, "%-21s %s\n", k, fmt.Sprintf(format, args...)) }
	if o.Runs > 0 {
		kv("compare", "%s, each run with nvrha, the baseline and the oracle", seedList(c.Seeds))
	} else {
		kv("compare", "%s, each run with nvrha and with the baseline", seedList(c.Seeds))
	}
	kv("nvrha", "%s", n.Detector)
	kv("baseline", "%s", b.Detector)
	if o.Runs > 0 {
		kv("oracle", "%s", o.Detector)
	}
	sb.WriteString("\n")
	cells := [][]string{{"measure", "nvrha", "baseline", "oracle", "baseline ÷ nvrha"}}
	for _, r := range c.Rows() {
		cells = append(cells, []string{r.Measure, r.NVRHA, r.Baseline, r.Oracle, ratioText(r.Ratio)})
	}
	writeCells(&sb, cells)
	sb.WriteString("\n")
	if av := c.Avoidable(); o.Runs > 0 {
		kv("avoidable loss", "nvrha %s, baseline %s: nvrha ÷ baseline %s", secs(av.NVRHA), secs(av.Baseline), ratioText(av.Ratio))
		sb.WriteString("\n")
	}
	c.writeClasses(&sb)
	sb.WriteString("\n")
	c.writePaired(&sb)
	sb.WriteString("\n")
	if len(c.Unpaired) == 0 {
		kv("faults", "the same plan on every side of every world")
	} else {
		kv("faults", "DIFFERENT plans on the sides of %s", seedList(c.Unpaired))
	}
	if o.Runs > 0 {
		kv("invariants", "nvrha %s, baseline %s, oracle %s", verdict(n), verdict(b), verdict(o))
	} else {
		kv("invariants", "nvrha %s, baseline %s", verdict(n), verdict(b))
	}
	if n.GapSamplesIncomplete || b.GapSamplesIncomplete || o.GapSamplesIncomplete {
		kv("note", "gap samples were dropped: the gap per camera misses some footage lost")
	}
	sb.WriteString("(availability's and scarcity efficiency's ratios are those of what was lost;\n" +
		" a ratio above 1 means the baseline did worse)\n")
	_, err := io.WriteString(w, sb.String())
	return err
}

// MarshalJSON encodes the seeds, the summaries, the rows with their ratios
// (null where a ratio has no meaning), the classes and the paired
// bootstrap of the footage lost.
func (c *Comparison) MarshalJSON() ([]byte, error) {
	type row struct {
		Row
		Ratio *float64 `json:"ratio"`
	}
	var rows []row
	for _, r := range c.Rows() {
		x := row{Row: r}
		if !math.IsNaN(r.Ratio) && !math.IsInf(r.Ratio, 0) {
			v := r.Ratio
			x.Ratio = &v
		}
		rows = append(rows, x)
	}
	type classRow struct {
		ClassRow
		Ratios map[string]*float64 `json:"ratios"`
	}
	var classes []classRow
	for _, r := range c.Classes() {
		x := classRow{ClassRow: r, Ratios: map[string]*float64{}}
		for k, v := range r.Ratios {
			x.Ratios[k] = finite(v)
		}
		classes = append(classes, x)
	}
	av := c.Avoidable()
	var avoidable any
	if c.Oracle.Runs > 0 {
		avoidable = struct {
			Avoidable
			Ratio *float64 `json:"nvrha_over_baseline"`
		}{av, finite(av.Ratio)}
	}
	var oracle *Summary
	if c.Oracle.Runs > 0 {
		s := c.Oracle.Summary()
		oracle = &s
	}
	return json.Marshal(struct {
		Seeds     []uint64   `json:"seeds"`
		NVRHA     Summary    `json:"nvrha"`
		Baseline  Summary    `json:"baseline"`
		Oracle    *Summary   `json:"oracle,omitempty"`
		Rows      []row      `json:"rows"`
		Avoidable any        `json:"avoidable_loss,omitempty"`
		Classes   []classRow `json:"classes"`
		Bootstrap Overall    `json:"paired_bootstrap"`
		Unpaired  []uint64   `json:"unpaired,omitempty"`
	}{c.Seeds, c.NVRHA.Summary(), c.Baseline.Summary(), oracle, rows, avoidable, classes, c.Overall(), c.Unpaired})
}

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func verdict(s Summary) string {
	if s.Failed == 0 {
		return "all held"
	}
	return fmt.Sprintf("%d of %d runs FAILED", s.Failed, s.Runs)
}

func seedList(seeds []uint64) string {
	switch {
	case len(seeds) == 0:
		return "no seed"
	case len(seeds) == 1:
		return fmt.Sprintf("seed %d", seeds[0])
	}
	consecutive := true
	for i := 1; i < len(seeds); i++ {
		consecutive = consecutive && seeds[i] == seeds[i-1]+1
	}
	if consecutive {
		return fmt.Sprintf("seeds %d-%d (%d worlds)", seeds[0], seeds[len(seeds)-1], len(seeds))
	}
	return fmt.Sprintf("%d seeds", len(seeds))
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }

func pct(a float64) string { return fmt.Sprintf("%.4f%%", 100*a) }

func frac(a float64) string { return fmt.Sprintf("%.4f", a) }

func ratioText(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "-"
	}
	return fmt.Sprintf("%.2fx", r)
}
