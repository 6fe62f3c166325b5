// Package compare runs the same worlds with nvrha's failover defaults and
// with the baseline (simulator.BaselineFailover: a poll every 0.5 s, a
// server down after 5 s) and sets their measures side by side, with the
// ratio of baseline to nvrha.
//
//	c := compare.New()
//	for seed := range seeds {
//		cfg.Seed = seed
//		nv, base := compare.Pair(cfg)
//		c.Add(run(nv), run(base))
//	}
//	c.WriteText(os.Stdout)
//
// The measures of several seeds are pooled: the percentiles are those of
// every incident of every run, not averages of per-run percentiles.
package compare

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode/utf8"

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
	nvrha.Baseline = false
	baseline.Baseline = true
	return nvrha, baseline
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
	// Failed are the reports added with Add of runs that broke an
	// invariant or an expectation (AddRun counts them, in Summary.Failed).
	Failed []*simulator.Report
}

// Add pools one report.
func (s *Side) Add(r *simulator.Report) {
	s.AddRun(RunOf(r))
	if !r.OK() {
		s.Failed = append(s.Failed, r)
	}
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

// Comparison pools runs of the same worlds under nvrha and the baseline.
type Comparison struct {
	Seeds    []uint64
	NVRHA    Side
	Baseline Side
	// Unpaired are the seeds whose two runs faced different fault plans
	// (Report.FaultPlan): none, since the nemesis plans from the seed
	// alone.
	Unpaired []uint64
}

// New returns an empty Comparison.
func New() *Comparison {
	return &Comparison{NVRHA: Side{Name: "nvrha"}, Baseline: Side{Name: "baseline"}}
}

// Add pools the two runs of one world.
func (c *Comparison) Add(nvrha, baseline *simulator.Report) {
	c.Seeds = append(c.Seeds, nvrha.Seed)
	if nvrha.FaultPlan != baseline.FaultPlan {
		c.Unpaired = append(c.Unpaired, nvrha.Seed)
	}
	c.NVRHA.Add(nvrha)
	c.Baseline.Add(baseline)
}

// Failed returns the runs that broke an invariant or an expectation.
func (c *Comparison) Failed() []*simulator.Report {
	return append(append([]*simulator.Report(nil), c.NVRHA.Failed...), c.Baseline.Failed...)
}

// Row is one measure side by side. Ratio is baseline ÷ nvrha, NaN when
// it has no meaning (a zero nvrha figure).
type Row struct {
	Measure  string  `json:"measure"`
	NVRHA    string  `json:"nvrha"`
	Baseline string  `json:"baseline"`
	Ratio    float64 `json:"-"`
}

// Rows returns the measures side by side: incidents, detection, takeover
// and gap per camera (p50 and p99), false takeovers, availability (whose
// ratio is that of the camera-time lost) and footage lost.
func (c *Comparison) Rows() []Row {
	n, b := c.NVRHA.Summary(), c.Baseline.Summary()
	ratio := func(x, y float64) float64 {
		if x == 0 {
			if y == 0 {
				return 1
			}
			return math.NaN()
		}
		return y / x
	}
	dur := func(label string, ns, bs simulator.Stats, p func(simulator.Stats) time.Duration) Row {
		r := Row{Measure: label, NVRHA: "-", Baseline: "-", Ratio: math.NaN()}
		if ns.N > 0 {
			r.NVRHA = secs(p(ns))
		}
		if bs.N > 0 {
			r.Baseline = secs(p(bs))
		}
		if ns.N > 0 && bs.N > 0 {
			r.Ratio = ratio(p(ns).Seconds(), p(bs).Seconds())
		}
		return r
	}
	p50 := func(s simulator.Stats) time.Duration { return s.P50 }
	p99 := func(s simulator.Stats) time.Duration { return s.P99 }
	count := func(label string, x, y int) Row {
		return Row{Measure: label, NVRHA: fmt.Sprint(x), Baseline: fmt.Sprint(y), Ratio: ratio(float64(x), float64(y))}
	}
	return []Row{
		count("incidents that lost footage", n.LostFootage, b.LostFootage),
		dur("time to detect p50", n.Detect, b.Detect, p50),
		dur("time to detect p99", n.Detect, b.Detect, p99),
		dur("time to takeover p50", n.Takeover, b.Takeover, p50),
		dur("time to takeover p99", n.Takeover, b.Takeover, p99),
		dur("gap per camera p50", n.GapPerCamera, b.GapPerCamera, p50),
		dur("gap per camera p99", n.GapPerCamera, b.GapPerCamera, p99),
		count("false takeovers", n.FalseTakeovers, b.FalseTakeovers),
		count("  unexplained", n.UnexplainedFalseTakeovers, b.UnexplainedFalseTakeovers),
		{Measure: "camera availability", NVRHA: pct(n.Availability), Baseline: pct(b.Availability),
			Ratio: ratio(1-n.Availability, 1-b.Availability)},
		{Measure: "footage lost (camera-time)", NVRHA: secs(n.FootageLost), Baseline: secs(b.FootageLost),
			Ratio: ratio(n.FootageLost.Seconds(), b.FootageLost.Seconds())},
	}
}

// WriteText prints the comparison as a table.
func (c *Comparison) WriteText(w io.Writer) error {
	var sb strings.Builder
	n, b := c.NVRHA.Summary(), c.Baseline.Summary()
	kv := func(k, format string, args ...any) { fmt.Fprintf(&sb, "%-21s %s\n", k, fmt.Sprintf(format, args...)) }
	kv("compare", "%s, each run with nvrha and with the baseline", seedList(c.Seeds))
	kv("nvrha", "%s", n.Detector)
	kv("baseline", "%s", b.Detector)
	sb.WriteString("\n")
	cells := [][]string{{"measure", "nvrha", "baseline", "baseline ÷ nvrha"}}
	for _, r := range c.Rows() {
		cells = append(cells, []string{r.Measure, r.NVRHA, r.Baseline, ratioText(r.Ratio)})
	}
	width := make([]int, 4)
	for _, row := range cells {
		for i, cell := range row {
			width[i] = max(width[i], utf8.RuneCountInString(cell))
		}
	}
	for _, row := range cells {
		fmt.Fprintf(&sb, "%s%s", row[0], strings.Repeat(" ", width[0]-utf8.RuneCountInString(row[0])))
		for i, cell := range row[1:] {
			fmt.Fprintf(&sb, "  %s%s", strings.Repeat(" ", width[i+1]-utf8.RuneCountInString(cell)), cell)
		}
		sb.WriteString("\n")
	}
	sb.WriteString("\n")
	if len(c.Unpaired) == 0 {
		kv("faults", "the same plan on both sides of every world")
	} else {
		kv("faults", "DIFFERENT plans on the two sides of %s", seedList(c.Unpaired))
	}
	kv("invariants", "nvrha %s, baseline %s", verdict(n), verdict(b))
	if n.GapSamplesIncomplete || b.GapSamplesIncomplete {
		kv("note", "gap samples were dropped: the gap per camera misses some footage lost")
	}
	sb.WriteString("(availability's ratio is that of the camera-time lost; a ratio above 1 means the baseline did worse)\n")
	_, err := io.WriteString(w, sb.String())
	return err
}

// MarshalJSON encodes the seeds, both summaries and the rows with their
// ratios (null where a ratio has no meaning).
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
	return json.Marshal(struct {
		Seeds    []uint64 `json:"seeds"`
		NVRHA    Summary  `json:"nvrha"`
		Baseline Summary  `json:"baseline"`
		Rows     []row    `json:"rows"`
		Unpaired []uint64 `json:"unpaired,omitempty"`
	}{c.Seeds, c.NVRHA.Summary(), c.Baseline.Summary(), rows, c.Unpaired})
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

func ratioText(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "-"
	}
	return fmt.Sprintf("%.2fx", r)
}
