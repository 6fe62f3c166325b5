package compare

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nvrha/nvrha/simulator"
	"github.com/nvrha/nvrha/status"
)

// Outside is the class of the footage lost outside every incident (a
// camera's stream starting late after an order, say): with it the classes'
// footage lost adds up to the total.
const Outside = "outside incidents"

// ClassRun is what one run measured of the incidents of one class: those
// whose first fault was of that kind.
type ClassRun struct {
	Class     string `json:"class"`
	Incidents int    `json:"incidents"`
	// Lost is the camera-time lost in them; Gaps the footage each camera
	// lost in each of them that lost footage.
	Lost time.Duration   `json:"lost"`
	Gaps []time.Duration `json:"gaps,omitempty"`
	// Unprotected is camera-time: each incident's cameras times how long
	// the center showed its server "Abnormal, unprotected".
	Unprotected time.Duration `json:"unprotected"`
}

// ClassOf is the class of an incident: its first fault.
func ClassOf(inc simulator.Incident) string {
	if len(inc.Faults) == 0 {
		return "none"
	}
	return string(inc.Faults[0])
}

// classesOf splits r's incidents by class, with the footage lost outside
// them as class Outside.
func classesOf(r *simulator.Report) []ClassRun {
	gaps := incidentCameraGaps(r)
	unprot := unprotectedSpans(r)
	by := map[string]*ClassRun{}
	get := func(c string) *ClassRun {
		if by[c] == nil {
			by[c] = &ClassRun{Class: c}
		}
		return by[c]
	}
	outside := r.FootageLost
	for _, inc := range r.Incidents {
		c := get(ClassOf(inc))
		c.Incidents++
		c.Lost += inc.GapTotal
		outside -= inc.GapTotal
		if inc.LostFootage {
			c.Gaps = append(c.Gaps, gaps[inc.ID]...)
			for range max(0, inc.Cameras-len(gaps[inc.ID])) {
				c.Gaps = append(c.Gaps, 0)
			}
		}
		for _, sp := range unprot[string(inc.Server)] {
			from, to := max(sp.From, inc.Start), min(sp.To, inc.Closed)
			if to > from {
				c.Unprotected += time.Duration(inc.Cameras) * (to - from)
			}
		}
	}
	if outside > 0 {
		get(Outside).Lost = outside
	}
	out := make([]ClassRun, 0, len(by))
	for _, c := range by {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b ClassRun) int { return strings.Compare(a.Class, b.Class) })
	return out
}

// incidentCameraGaps sums the gap samples by incident and camera.
func incidentCameraGaps(r *simulator.Report) map[int][]time.Duration {
	type key struct {
		inc int
		cam string
	}
	sum := map[key]time.Duration{}
	var order []key
	for _, g := range r.GapSamples {
		if g.Incident == 0 {
			continue
		}
		k := key{g.Incident, string(g.Camera)}
		if _, ok := sum[k]; !ok {
			order = append(order, k)
		}
		sum[k] += g.Gap
	}
	out := map[int][]time.Duration{}
	for _, k := range order {
		out[k.inc] = append(out[k.inc], sum[k])
	}
	return out
}

// unprotectedSpans are the spans each server was shown "Abnormal,
// unprotected".
func unprotectedSpans(r *simulator.Report) map[string][]simulator.Span {
	label := status.RecordingAbnormalUnprotected.Label()
	out := map[string][]simulator.Span{}
	for _, s := range r.Servers {
		for _, sp := range s.Statuses {
			if sp.Label == label {
				out[string(s.ID)] = append(out[string(s.ID)], sp)
			}
		}
	}
	return out
}

// classPool pools one class of one side.
type classPool struct {
	incidents   int
	lost        time.Duration
	gaps        []time.Duration
	unprotected time.Duration
}

// ClassSummary is one class of one side, pooled.
type ClassSummary struct {
	Incidents    int             `json:"incidents"`
	FootageLost  time.Duration   `json:"footage_lost"`
	GapPerCamera simulator.Stats `json:"gap_per_camera"`
	Unprotected  time.Duration   `json:"unprotected_camera_time"`
}

func (p *classPool) summary() ClassSummary {
	if p == nil {
		return ClassSummary{}
	}
	return ClassSummary{Incidents: p.incidents, FootageLost: p.lost, GapPerCamera: simulator.StatsOf(p.gaps),
		Unprotected: p.unprotected}
}

// ClassRow is one class on the three sides, with the ratios baseline ÷
// nvrha (null in JSON where a ratio has no meaning).
type ClassRow struct {
	Class    string             `json:"class"`
	NVRHA    ClassSummary       `json:"nvrha"`
	Baseline ClassSummary       `json:"baseline"`
	Oracle   ClassSummary       `json:"oracle"`
	Ratios   map[string]float64 `json:"-"`
	// Paired is the paired bootstrap of the footage nvrha and the
	// baseline lost in the class, world by world.
	Paired Paired `json:"paired_bootstrap"`
}

// Classes returns a row for every class any side saw, sorted by class,
// Outside last.
func (c *Comparison) Classes() []ClassRow {
	var names []string
	for _, s := range []*Side{&c.NVRHA, &c.Baseline, &c.Oracle} {
		for k := range s.classes {
			if !slices.Contains(names, k) {
				names = append(names, k)
			}
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		if (a == Outside) != (b == Outside) {
			if a == Outside {
				return 1
			}
			return -1
		}
		return strings.Compare(a, b)
	})
	var rows []ClassRow
	for _, k := range names {
		r := ClassRow{Class: k, NVRHA: c.NVRHA.classes[k].summary(), Baseline: c.Baseline.classes[k].summary(),
			Oracle: c.Oracle.classes[k].summary(), Paired: c.ClassPaired(k)}
		n, b := r.NVRHA, r.Baseline
		r.Ratios = map[string]float64{
			"footage_lost": ratio(n.FootageLost.Seconds(), b.FootageLost.Seconds()),
			"gap_p50":      statRatio(n.GapPerCamera, b.GapPerCamera, func(s simulator.Stats) time.Duration { return s.P50 }),
			"gap_p99":      statRatio(n.GapPerCamera, b.GapPerCamera, func(s simulator.Stats) time.Duration { return s.P99 }),
			"unprotected":  ratio(n.Unprotected.Seconds(), b.Unprotected.Seconds()),
		}
		rows = append(rows, r)
	}
	return rows
}

func statRatio(n, b simulator.Stats, p func(simulator.Stats) time.Duration) float64 {
	if n.N == 0 || b.N == 0 {
		return math.NaN()
	}
	return ratio(p(n).Seconds(), p(b).Seconds())
}

// writeClasses prints the table by class: a line per side and one of
// ratios, within 100 columns.
func (c *Comparison) writeClasses(sb *strings.Builder) {
	rows := c.Classes()
	if len(rows) == 0 {
		return
	}
	sb.WriteString("by first fault of the incident (camera-time; gap = footage lost per camera)\n")
	cells := [][]string{{"class", "side", "incidents", "footage lost", "gap p50", "gap p99", "unprotected"}}
	stat := func(s simulator.Stats, p func(simulator.Stats) time.Duration) string {
		if s.N == 0 {
			return "-"
		}
		return secs(p(s))
	}
	p50 := func(s simulator.Stats) time.Duration { return s.P50 }
	p99 := func(s simulator.Stats) time.Duration { return s.P99 }
	for _, r := range rows {
		for i, x := range []struct {
			name string
			s    ClassSummary
		}{{"nvrha", r.NVRHA}, {"baseline", r.Baseline}, {"oracle", r.Oracle}} {
			class := ""
			if i == 0 {
				class = r.Class
			}
			if x.name == "oracle" && c.Oracle.Runs == 0 {
				continue
			}
			cells = append(cells, []string{class, x.name, fmt.Sprint(x.s.Incidents), secs(x.s.FootageLost),
				stat(x.s.GapPerCamera, p50), stat(x.s.GapPerCamera, p99), secs(x.s.Unprotected)})
		}
		cells = append(cells, []string{"", "base ÷ nvrha", "", ratioText(r.Ratios["footage_lost"]),
			ratioText(r.Ratios["gap_p50"]), ratioText(r.Ratios["gap_p99"]), ratioText(r.Ratios["unprotected"])})
	}
	writeCells(sb, cells)
}

// writePaired prints the intervals of the footage lost by class, and of
// the totals, within 100 columns.
func (c *Comparison) writePaired(sb *strings.Builder) {
	o := c.Overall()
	if o.Worlds == 0 {
		return
	}
	fmt.Fprintf(sb, "footage lost, nvrha against the baseline: %.0f%% intervals of a paired bootstrap\n"+
		"(%d resamples of the %d worlds)\n", 100*Confidence, Resamples, o.Worlds)
	cells := [][]string{{"class", "nvrha ÷ base", "interval", "nvrha - base", "interval", "nvrha lost"}}
	row := func(class string, p Paired) []string {
		return []string{class, ratioText(p.Ratio.Estimate), intervalText(p.Ratio, "%.2f", "x"), wholeSecs(p.Difference.Estimate),
			wholeSecs(p.Difference.Low) + " to " + wholeSecs(p.Difference.High), p.Verdict()}
	}
	for _, r := range c.Classes() {
		cells = append(cells, row(r.Class, r.Paired))
	}
	cells = append(cells, row("all footage", o.Lost))
	if a := o.Avoidable; a != nil {
		cells = append(cells, []string{"avoidable", ratioText(a.Estimate), intervalText(*a, "%.2f", "x"), "", "", ""})
	}
	writeCells(sb, cells)
	fmt.Fprintf(sb, "(less or more: the ratio's interval lies below or above 1; not shown: it holds 1)\n")
	eff := func(r Ratio) string { return fmt.Sprintf("%.4f (%s)", r.Estimate, intervalText(r, "%.4f", "")) }
	fmt.Fprintf(sb, "scarcity efficiency   nvrha %s, baseline %s", eff(o.Scarcity[0]), eff(o.Scarcity[1]))
	if !math.IsNaN(o.Scarcity[2].Estimate) {
		fmt.Fprintf(sb, ",\n                      oracle %s", eff(o.Scarcity[2]))
	}
	sb.WriteString("\n")
}

// wholeSecs prints d to the second, a loss that rounds to none as 0s (not
// -0s).
func wholeSecs(d time.Duration) string {
	s := math.Round(d.Seconds())
	if s == 0 {
		s = 0 // drops the sign of a negative zero
	}
	return fmt.Sprintf("%.0fs", s)
}

// intervalText prints a ratio's interval, each end in format and the
// whole followed by unit; ∞ for an unbounded end.
func intervalText(r Ratio, format, unit string) string {
	end := func(v float64) string {
		if math.IsInf(v, 1) {
			return "∞"
		}
		return fmt.Sprintf(format, v)
	}
	if math.IsNaN(r.Low) || math.IsNaN(r.High) {
		return "-"
	}
	return end(r.Low) + " to " + end(r.High) + unit
}

// writeCells prints a table, the first column left-aligned and the others
// right-aligned.
func writeCells(sb *strings.Builder, cells [][]string) {
	width := make([]int, len(cells[0]))
	for _, row := range cells {
		for i, cell := range row {
			width[i] = max(width[i], utf8.RuneCountInString(cell))
		}
	}
	for _, row := range cells {
		var line strings.Builder
		fmt.Fprintf(&line, "%s%s", row[0], strings.Repeat(" ", width[0]-utf8.RuneCountInString(row[0])))
		for i, cell := range row[1:] {
			fmt.Fprintf(&line, "  %s%s", strings.Repeat(" ", width[i+1]-utf8.RuneCountInString(cell)), cell)
		}
		sb.WriteString(strings.TrimRight(line.String(), " "))
		sb.WriteString("\n")
	}
}
