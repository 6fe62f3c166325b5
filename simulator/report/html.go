package report

import (
	"bytes"
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/simulator/history"
	"github.com/nvrha/nvrha/status"
)

//go:embed report.html.tmpl
var htmlReportText string

var htmlReport = template.Must(template.New("report").Parse(htmlReportText))

// WriteHTML writes r as one self-contained HTML page: inline CSS and SVG,
// no script, no font or image to fetch. It shows the run (seed, world,
// trace hash, verdict), the summary figures, a per-server timeline of
// Failover Statuses with takeovers, faults and center outages, close-ups of
// the incidents that lost the most footage, the distribution of recording
// gaps and the incidents. Every text from the report is escaped, and the
// same Report always gives the same bytes.
func WriteHTML(w io.Writer, r *Report) error {
	var b bytes.Buffer
	if err := htmlReport.Execute(&b, newHTMLView(r)); err != nil {
		return err
	}
	_, err := b.WriteTo(w)
	return err
}

// CameraGaps returns the footage each camera lost in each incident in
// which its server lost footage, zeros included: the samples that
// Report.GapPerCamera summarises, derived from GapSamples. complete is
// false when samples were dropped (Config.MaxGapSamples), and the result
// then misses some of the footage lost.
func (r *Report) CameraGaps() (gaps []time.Duration, complete bool) {
	type key struct {
		inc int
		cam nvrha.CameraID
	}
	sum := map[key]time.Duration{}
	cams := map[int]int{} // incident -> cameras with a gap
	for _, g := range r.GapSamples {
		if g.Incident == 0 {
			continue
		}
		k := key{g.Incident, g.Camera}
		if _, ok := sum[k]; !ok {
			cams[g.Incident]++
		}
		sum[k] += g.Gap
	}
	byInc := map[int][]time.Duration{}
	for k, d := range sum {
		byInc[k.inc] = append(byInc[k.inc], d)
	}
	for _, inc := range r.Incidents {
		if !inc.LostFootage {
			continue
		}
		ds := byInc[inc.ID]
		slices.Sort(ds)
		gaps = append(gaps, ds...)
		for range max(0, inc.Cameras-cams[inc.ID]) {
			gaps = append(gaps, 0)
		}
	}
	slices.Sort(gaps)
	return gaps, r.GapSamplesDropped == 0
}

// hvPx is an SVG coordinate, printed with one decimal.
type hvPx float64

func (p hvPx) String() string { return strconv.FormatFloat(float64(p), 'f', 1, 64) }

type hvView struct {
	Title      string
	Seed       uint64
	Run        string
	Simulated  string
	Duration   string
	World      string
	Center     string
	Baseline   bool
	Oracle     bool
	Network    string
	TraceHash  string
	Trace      string
	Replay     string
	Verdict    hvVerdict
	Violation  *hvViolation
	Cards      []hvCard
	Stats      []hvStatsRow
	Faults     hvBars
	Recoveries hvBars
	Timeline   hvTimeline
	Legend     []hvLegendGroup
	CloseUps   []hvCloseUp
	CameraGaps hvHist
	EveryGap   hvHist
	Incidents  []hvIncident
	Takeovers  []hvTakeover
	Expects    []Expectation
	Known      []hvKnown
	Refused    []hvRefused
	Admin      []hvAdmin
	AdminErrs  int
	Orphans    string
	Settled    string
}

type hvVerdict struct {
	Class, Title, Detail string
}

type hvViolation struct {
	Invariant  int
	Name, At   string
	Detail     string
	LastEvents string
	Scenario   string
}

type hvCard struct {
	Label, Value, Sub, Class string
}

type hvStatsRow struct {
	Label, Help              string
	N                        int
	Mean, P50, P90, P99, Max string
	None                     bool
	HasBar                   bool
	BarWidth, MaxW           hvPx
	P50X, P99X               hvPx
	BarTitle                 string
}

type hvBars struct {
	Title  string
	Width  hvPx
	Height hvPx
	Bars   []hvBar
	Empty  bool
	Absent string
}

type hvBar struct {
	Label, Value string
	Y, TextY, W  hvPx
	ValueX       hvPx
}

type hvRect struct {
	X, Y, W, H hvPx
	Class      string
	Title      string
}

type hvLine struct {
	X1, Y1, X2, Y2 hvPx
	Class          string
	Title          string
}

type hvText struct {
	X, Y   hvPx
	Text   string
	Class  string
	Anchor string
}

type hvTimeline struct {
	Width, Height hvPx
	PlotX, PlotW  hvPx
	Ticks         []hvLine
	TickLabels    []hvText
	Shades        []hvRect
	ShadeLabels   []hvText
	Groups        []hvText
	Rows          []hvRow
	Outlines      []hvRect
	OutlineLabels []hvText
	Links         []hvLine
	Dots          []hvRect
	Marks         []hvLine
	MarkLabels    []hvText
}

type hvRow struct {
	Back    hvRect
	Label   hvText
	Sub     hvText
	Bands   []hvRect
	Footage []hvRect
	Faults  []hvRect
	Admin   []hvRect
}

type hvLegendGroup struct {
	Title string
	Items []hvLegendItem
}

type hvLegendItem struct {
	Class, Label, Title string
}

type hvCloseUp struct {
	Title    string
	Sub      string
	Timeline hvTimeline
}

type hvHist struct {
	Title         string
	Sub           string
	Width, Height hvPx
	PlotX, PlotY  hvPx
	PlotW, PlotH  hvPx
	Base          hvPx
	Bars          []hvRect
	XTicks        []hvLine
	XLabels       []hvText
	YTicks        []hvLine
	YLabels       []hvText
	Marks         []hvLine
	MarkLabels    []hvText
	Legend        []hvLegendItem
	Empty         bool
	Note          string
}

type hvIncident struct {
	ID                           int
	Server, Group, Faults        string
	Start, End, Detect, Takeover string
	Standby, Failback            string
	GapMax, GapMean, GapTotal    string
	Notes                        []string
	Class                        string
	BarW, MeanX                  hvPx
	BarTitle                     string
	Lost                         bool
}

type hvTakeover struct {
	Recording, Standby, Epoch, From, Confirmed, To, Length, Outcome, Class string
}

type hvKnown struct {
	ID, First, Detail, Description string
	Invariant, Count               int
}

type hvRefused struct {
	At, Server, Group, Role, Reasons string
}

type hvAdmin struct {
	At, Op, Err string
}

// Geometry of the timelines and charts, in SVG user units.
const (
	hvWidth    = 1200.0
	hvLabelW   = 112.0
	hvRightPad = 14.0
	hvAxisH    = 26.0
	hvRowH     = 24.0
	hvGroupH   = 20.0
	hvBandY    = 5.0
	hvBandH    = 13.0
	hvFootY    = 19.5
	hvFootH    = 3.0
	hvFaultY   = 0.5
	hvFaultH   = 3.5
)

func newHTMLView(r *Report) *hvView {
	v := &hvView{
		Seed: r.Seed, Simulated: htmlDur(r.Simulated), Duration: htmlDur(r.Duration),
		Center: r.Detector, Baseline: r.Baseline, Oracle: r.Oracle, TraceHash: r.TraceHash, Replay: r.Replay,
		Network: htmlNet(r.Net),
	}
	v.Run = "random faults (nemesis)"
	if r.Scenario != "" {
		v.Run = "scenario “" + r.Scenario + "”"
	}
	v.Title = "nvrsim seed " + strconv.FormatUint(r.Seed, 10)
	if r.Scenario != "" {
		v.Title += " · " + r.Scenario
	}
	v.World = htmlWorld(r.World)
	v.Trace = fmt.Sprintf("%s events · %s messages (%s lost) · %s invariant checks",
		htmlInt(int64(r.Events)), htmlInt(int64(r.Messages)), htmlInt(int64(r.Lost)), htmlInt(int64(r.Checks)))
	v.Verdict = htmlVerdict(r)
	if x := r.Violation; x != nil {
		v.Violation = &hvViolation{Invariant: x.Invariant, Name: x.Name, At: htmlDur(x.At), Detail: x.Detail,
			LastEvents: strings.Join(x.LastEvents, "\n"), Scenario: x.Scenario}
	}
	v.Cards = htmlCards(r)
	v.Stats = htmlStats(r)
	v.Faults = htmlCountBars("faults injected", r.Faults, history.FaultKinds())
	v.Recoveries = htmlCountBars("recovery paths taken", r.Recoveries, history.Recoveries())
	span := r.Simulated
	if span <= 0 {
		span = max(r.Duration, time.Second)
	}
	all := make([]int, len(r.Servers))
	for i := range all {
		all[i] = i
	}
	var marks []hvInstant
	if x := r.Violation; x != nil {
		marks = append(marks, hvInstant{At: x.At, Label: fmt.Sprintf("invariant %d violated", x.Invariant), Class: "m-detect"})
	}
	v.Timeline = htmlTimeline(r, all, 0, span, marks)
	v.Legend = htmlLegend()
	v.CloseUps = htmlCloseUps(r)
	gaps, complete := r.CameraGaps()
	v.CameraGaps = htmlHistogram("Footage lost per camera per incident",
		"every camera of every incident in which its server lost footage; a camera the standby kept recording counts 0",
		[]hvSeries{{Class: "ph-takeover", Label: "per camera", Values: gaps}}, r.GapPerCamera)
	if !complete {
		v.CameraGaps.Note = fmt.Sprintf("%d gap samples were dropped (Config.MaxGapSamples): the bars miss them, the marks do not", r.GapSamplesDropped)
	}
	var phase [3][]time.Duration
	for _, g := range r.GapSamples {
		switch g.Phase {
		case "takeover":
			phase[0] = append(phase[0], g.Gap)
		case "failback":
			phase[1] = append(phase[1], g.Gap)
		default:
			phase[2] = append(phase[2], g.Gap)
		}
	}
	v.EveryGap = htmlHistogram("Every gap, by phase",
		"each stretch of time in which nobody recorded a camera",
		[]hvSeries{
			{Class: "ph-takeover", Label: "during the outage", Values: phase[0]},
			{Class: "ph-failback", Label: "at failback", Values: phase[1]},
			{Class: "ph-other", Label: "outside incidents", Values: phase[2]},
		}, r.Gaps)
	if r.GapSamplesDropped > 0 {
		v.EveryGap.Note = fmt.Sprintf("%d gap samples were dropped (Config.MaxGapSamples): the bars miss them, the marks do not", r.GapSamplesDropped)
	}
	v.Incidents = htmlIncidents(r)
	for _, t := range r.TakeoverSpans {
		h := hvTakeover{Recording: string(t.Recording), Standby: string(t.Standby), Epoch: strconv.FormatUint(uint64(t.Epoch), 10),
			From: htmlDur(t.From), To: htmlDur(t.To), Length: htmlDur(t.To - t.From), Outcome: t.Outcome, Confirmed: "never",
			Class: htmlOutcomeClass(t.Outcome)}
		if t.Confirmed >= 0 {
			h.Confirmed = "+" + htmlSec(t.Confirmed-t.From)
		}
		v.Takeovers = append(v.Takeovers, h)
	}
	v.Expects = r.Expectations
	for _, k := range r.KnownIssues {
		v.Known = append(v.Known, hvKnown{ID: k.ID, First: htmlDur(k.First), Detail: k.Detail, Description: k.Description,
			Invariant: k.Invariant, Count: k.Count})
	}
	for _, rf := range r.Refused {
		v.Refused = append(v.Refused, hvRefused{At: htmlDur(rf.At), Server: string(rf.Server), Group: rf.Group, Role: rf.Role,
			Reasons: strings.Join(rf.Reasons, " ")})
	}
	for _, a := range r.Admin {
		if a.At == 0 && strings.HasPrefix(a.Op, "add ") && a.Err == "" {
			continue // the world's setup
		}
		v.Admin = append(v.Admin, hvAdmin{At: htmlDur(a.At), Op: a.Op, Err: a.Err})
		if a.Err != "" {
			v.AdminErrs++
		}
	}
	if len(r.Orphans) > 0 {
		ids := make([]string, len(r.Orphans))
		for i, o := range r.Orphans {
			ids[i] = string(o)
		}
		v.Orphans = strings.Join(ids, ", ")
	}
	if r.Settled {
		v.Settled = htmlDur(r.SettledAt)
	}
	return v
}

func htmlVerdict(r *Report) hvVerdict {
	if x := r.Violation; x != nil {
		return hvVerdict{Class: "bad", Title: fmt.Sprintf("Invariant %d violated at %s", x.Invariant, htmlDur(x.At)), Detail: x.Name}
	}
	failed := 0
	for _, e := range r.Expectations {
		if !e.OK {
			failed++
		}
	}
	if failed > 0 {
		return hvVerdict{Class: "bad", Title: fmt.Sprintf("%d of %d expectations failed", failed, len(r.Expectations)),
			Detail: "every invariant held"}
	}
	d := "after " + htmlInt(int64(r.Checks)) + " checks"
	if len(r.Expectations) > 0 {
		d += fmt.Sprintf(", and all %d expectations", len(r.Expectations))
	}
	if n := len(r.KnownIssues); n > 0 {
		return hvVerdict{Class: "warn", Title: "Every invariant held, known issues tolerated",
			Detail: fmt.Sprintf("%d known issue(s) recorded instead of failing the run", n)}
	}
	if r.Simulated < r.Duration {
		return hvVerdict{Class: "warn", Title: "The run stopped early", Detail: d}
	}
	return hvVerdict{Class: "good", Title: "Every invariant held", Detail: d}
}

func htmlCards(r *Report) []hvCard {
	lost := 0
	for _, inc := range r.Incidents {
		if inc.LostFootage {
			lost++
		}
	}
	pct := func(s Stats) string {
		if s.N == 0 {
			return "no samples"
		}
		return "p99 " + htmlSec(s.P99) + " · max " + htmlSec(s.Max)
	}
	val := func(s Stats) string {
		if s.N == 0 {
			return "–"
		}
		return htmlSec(s.P50)
	}
	avail := hvCard{Label: "camera availability", Value: strconv.FormatFloat(100*r.Availability, 'f', 4, 64) + "%",
		Sub: htmlSec(r.FootageLost) + " camera-time lost", Class: "good"}
	if r.Availability < 0.999 {
		avail.Class = "warn"
	}
	fals := hvCard{Label: "false takeovers", Value: strconv.Itoa(r.FalseTakeovers),
		Sub: fmt.Sprintf("%d unexplained", r.UnexplainedFalseTakeovers)}
	if r.UnexplainedFalseTakeovers > 0 {
		fals.Class = "bad"
	}
	return []hvCard{
		avail,
		{Label: "time to detect (p50)", Value: val(r.Detect), Sub: pct(r.Detect)},
		{Label: "time to takeover (p50)", Value: val(r.Takeover), Sub: pct(r.Takeover)},
		{Label: "gap per camera (p50)", Value: val(r.GapPerCamera), Sub: pct(r.GapPerCamera)},
		{Label: "incidents", Value: strconv.Itoa(len(r.Incidents)), Sub: fmt.Sprintf("%d lost footage", lost)},
		{Label: "takeovers", Value: strconv.Itoa(r.TakeoversStarted), Sub: fmt.Sprintf("%d confirmed", r.TakeoversConfirmed)},
		fals,
		{Label: "flaps", Value: strconv.Itoa(r.Flaps), Sub: htmlCount(r.CenterRestarts, "center restart", "center restarts")},
	}
}

func htmlStats(r *Report) []hvStatsRow {
	rows := []struct {
		label, help string
		s           Stats
	}{
		{"time to detect", "from the fault to the Machine declaring the server down, in incidents that lost footage", r.Detect},
		{"time to takeover", "from the fault to a standby confirming the takeover", r.Takeover},
		{"gap per camera", "footage each camera lost in an incident", r.GapPerCamera},
		{"every gap", "each single stretch without footage", r.Gaps},
		{"failback time", "from the end of the fault to the cameras' return", r.Failback},
	}
	var top time.Duration
	for _, x := range rows {
		top = max(top, x.s.Max)
	}
	const barW = 260.0
	out := make([]hvStatsRow, 0, len(rows))
	for _, x := range rows {
		s := x.s
		row := hvStatsRow{Label: x.label, Help: x.help, N: s.N, None: s.N == 0, BarWidth: barW}
		if s.N > 0 {
			row.Mean, row.P50, row.P90, row.P99, row.Max = htmlSec(s.Mean), htmlSec(s.P50), htmlSec(s.P90), htmlSec(s.P99), htmlSec(s.Max)
		}
		if s.N > 0 && top > 0 {
			scale := func(d time.Duration) hvPx { return hvPx(htmlLogPos(d, top) * barW) }
			row.HasBar = true
			row.MaxW = scale(s.Max)
			row.P50X = scale(s.P50)
			row.P99X = scale(s.P99)
			row.BarTitle = fmt.Sprintf("%s: p50 %s, p99 %s, max %s (log scale, 10 ms to %s)", x.label, htmlSec(s.P50), htmlSec(s.P99), htmlSec(s.Max), htmlSec(top))
		}
		out = append(out, row)
	}
	return out
}

// htmlLogPos places d on a log scale from 10 ms to top, in [0, 1].
func htmlLogPos(d, top time.Duration) float64 {
	lo := math.Log10(0.01)
	hi := math.Log10(max(top.Seconds(), 0.1))
	x := math.Log10(max(d.Seconds(), 0.01))
	return math.Min(1, math.Max(0, (x-lo)/(hi-lo)))
}

func htmlCountBars[K ~string](title string, counts map[K]int, order []K) hvBars {
	b := hvBars{Title: title, Width: 520}
	top := 0
	for _, k := range order {
		top = max(top, counts[k])
	}
	keys := slices.Clone(order)
	for k := range counts {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys[len(order):])
	y := 4.0
	var absent []string
	for _, k := range keys {
		n := counts[k]
		if n == 0 {
			absent = append(absent, string(k))
			continue
		}
		w := 0.0
		if top > 0 {
			w = 250 * float64(n) / float64(top)
		}
		b.Bars = append(b.Bars, hvBar{Label: string(k), Value: strconv.Itoa(n), Y: hvPx(y), TextY: hvPx(y + 11), W: hvPx(math.Max(w, 0)),
			ValueX: hvPx(214 + w + 6)})
		y += 17
	}
	b.Height = hvPx(y + 4)
	b.Empty = top == 0
	b.Absent = strings.Join(absent, ", ")
	return b
}

// htmlTimeline draws servers rows of r from from to to. marks, when set,
// are labelled instants drawn across the rows.
func htmlTimeline(r *Report, rows []int, from, to time.Duration, marks []hvInstant) hvTimeline {
	if to <= from {
		to = from + time.Second
	}
	b := &timelineBuilder{r: r, from: from, to: to, rowY: map[nvrha.ServerID]float64{}}
	b.t = hvTimeline{Width: hvWidth, PlotX: hvLabelW, PlotW: hvWidth - hvLabelW - hvRightPad}
	b.top = hvAxisH
	if len(marks) > 0 {
		b.top += 24
	}
	b.rows(rows)
	b.adminMarks()
	b.takeovers()
	marks = b.centerOutages(slices.Clone(marks))
	b.axis()
	b.marks(marks)
	htmlSpreadMarks(&b.t, b.top)
	b.t.Height = hvPx(b.bottom + 4)
	return b.t
}

// timelineBuilder draws one timeline, step by step: the rows, the admin
// operations on them, the takeovers, the center's outages, the time axis
// and the marks.
type timelineBuilder struct {
	t        hvTimeline
	r        *Report
	from, to time.Duration
	// top and bottom bound the rows; rowY is each server's row.
	top, bottom float64
	rowY        map[nvrha.ServerID]float64
}

// x is the horizontal position of offset d, clamped to the plot.
func (b *timelineBuilder) x(d time.Duration) float64 {
	d = min(max(d, b.from), b.to)
	return float64(b.t.PlotX) + float64(b.t.PlotW)*float64(d-b.from)/float64(b.to-b.from)
}

// visible reports whether a span shows between from and to.
func (b *timelineBuilder) visible(s Span) bool {
	return s.To > b.from && s.From < b.to && s.To > s.From
}

// rows draws a row per server, with a header per group: its statuses,
// footage and faults.
func (b *timelineBuilder) rows(rows []int) {
	r, t := b.r, &b.t
	y := b.top
	group := ""
	multi := len(r.World.Groups) > 1
	for n, i := range rows {
		tl := r.Servers[i]
		if tl.Group != group && (multi || n == 0) && len(rows) == len(r.Servers) {
			group = tl.Group
			t.Groups = append(t.Groups, hvText{X: 4, Y: hvPx(y + 14), Text: htmlGroupName(tl.Group), Class: "grp"})
			y += hvGroupH
		}
		row := hvRow{
			Back:  hvRect{X: 0, Y: hvPx(y), W: hvPx(hvWidth), H: hvRowH, Class: map[bool]string{true: "row-a", false: "row-b"}[n%2 == 0]},
			Label: hvText{X: 6, Y: hvPx(y + 12), Text: string(tl.ID), Class: "sid"},
		}
		sub := tl.Role
		if tl.Role == "recording" {
			sub = fmt.Sprintf("rec · %d cams · %d ch", tl.Cameras, tl.Channels)
		} else if tl.Role == "standby" {
			sub = fmt.Sprintf("standby · %d ch", tl.Channels)
		}
		row.Sub = hvText{X: 6, Y: hvPx(y + 21.5), Text: sub, Class: "ssub"}
		b.rowY[tl.ID] = y
		b.statusBands(&row, &tl, y)
		b.footage(&row, &tl, y)
		b.faults(&row, &tl, y)
		t.Rows = append(t.Rows, row)
		y += hvRowH
	}
	b.bottom = y
}

// statusBands draws a row's Failover Statuses.
func (b *timelineBuilder) statusBands(row *hvRow, tl *ServerTimeline, y float64) {
	for _, s := range tl.Statuses {
		if !b.visible(s) {
			continue
		}
		x0, x1 := b.x(s.From), b.x(s.To)
		label := s.Label
		if label == "" {
			label = "(no status)"
		}
		row.Bands = append(row.Bands, hvRect{X: hvPx(x0), Y: hvPx(y + hvBandY), W: hvPx(math.Max(x1-x0, 0.3)), H: hvBandH,
			Class: htmlStatusClass(s.Label), Title: fmt.Sprintf("%s: %s, %s – %s (%s)", tl.ID, label, htmlDur(s.From), htmlDur(s.To), htmlDur(s.To-s.From))})
	}
}

// footage draws what a row's server in fact recorded.
func (b *timelineBuilder) footage(row *hvRow, tl *ServerTimeline, y float64) {
	for _, s := range tl.Footage {
		if !b.visible(s) {
			continue
		}
		x0, x1 := b.x(s.From), b.x(s.To)
		cls, what := "ft-own", "records its own cameras"
		if s.Label != "own" {
			cls, what = "ft-cover", "records the cameras of "+strings.TrimPrefix(s.Label, "covering ")
		}
		row.Footage = append(row.Footage, hvRect{X: hvPx(x0), Y: hvPx(y + hvFootY), W: hvPx(math.Max(x1-x0, 0.5)), H: hvFootH,
			Class: cls, Title: fmt.Sprintf("%s %s, %s – %s", tl.ID, what, htmlDur(s.From), htmlDur(s.To))})
	}
}

// faults draws the faults on a row's server.
func (b *timelineBuilder) faults(row *hvRow, tl *ServerTimeline, y float64) {
	for _, s := range tl.Faults {
		if s.To < b.from || s.From > b.to {
			continue
		}
		x0, x1 := b.x(s.From), b.x(s.To)
		row.Faults = append(row.Faults, hvRect{X: hvPx(x0), Y: hvPx(y + hvFaultY), W: hvPx(math.Max(x1-x0, 2)), H: hvFaultH,
			Class: "fault", Title: fmt.Sprintf("fault on %s: %s, %s – %s (%s)", tl.ID, s.Label, htmlDur(s.From), htmlDur(s.To), htmlDur(s.To-s.From))})
	}
}

// adminMarks marks the admin operations on a server of a row.
func (b *timelineBuilder) adminMarks() {
	t := &b.t
	for _, a := range b.r.Admin {
		if a.At == 0 || a.At < b.from || a.At > b.to {
			continue
		}
		f := strings.Fields(a.Op)
		if len(f) < 2 {
			continue
		}
		ry, ok := b.rowY[nvrha.ServerID(f[1])]
		if !ok {
			continue
		}
		cls := "admin"
		title := "admin at " + htmlDur(a.At) + ": " + a.Op
		if a.Err != "" {
			cls = "admin-err"
			title += " (refused: " + a.Err + ")"
		}
		for k := range t.Rows {
			if float64(t.Rows[k].Back.Y) == ry {
				t.Rows[k].Admin = append(t.Rows[k].Admin, hvRect{X: hvPx(b.x(a.At) - 3), Y: hvPx(ry + hvBandY + hvBandH/2 - 3), W: 6, H: 6, Class: cls, Title: title})
			}
		}
	}
}

// takeovers draws each takeover: an outline on both rows and a link
// between them.
func (b *timelineBuilder) takeovers() {
	t := &b.t
	for _, tk := range b.r.TakeoverSpans {
		ry, ok1 := b.rowY[tk.Recording]
		sy, ok2 := b.rowY[tk.Standby]
		if tk.To < b.from || tk.From > b.to || (!ok1 && !ok2) {
			continue
		}
		cls := htmlOutcomeClass(tk.Outcome)
		conf := "never confirmed"
		if tk.Confirmed >= 0 {
			conf = "confirmed after " + htmlSec(tk.Confirmed-tk.From)
		}
		title := fmt.Sprintf("takeover of %s by %s (epoch %d), %s – %s, %s, %s", tk.Recording, tk.Standby, tk.Epoch,
			htmlDur(tk.From), htmlDur(tk.To), conf, tk.Outcome)
		x0, x1 := b.x(tk.From), b.x(tk.To)
		w := math.Max(x1-x0, 1.5)
		for _, yy := range []struct {
			y     float64
			ok    bool
			label string
		}{{ry, ok1, "taken over by " + string(tk.Standby)}, {sy, ok2, "covers " + string(tk.Recording)}} {
			if !yy.ok {
				continue
			}
			t.Outlines = append(t.Outlines, hvRect{X: hvPx(x0), Y: hvPx(yy.y + hvBandY - 1), W: hvPx(w), H: hvBandH + 2, Class: "tk " + cls, Title: title})
			if lx0, lx1 := math.Max(x0, float64(t.PlotX)), math.Min(x1, float64(t.PlotX+t.PlotW)); lx1-lx0 > 6.2*float64(len(yy.label))+10 {
				t.OutlineLabels = append(t.OutlineLabels, hvText{X: hvPx(lx0 + 5), Y: hvPx(yy.y + hvBandY + hvBandH - 3.5), Text: yy.label, Class: "tk-l"})
			}
		}
		if ok1 && ok2 && tk.From >= b.from {
			y1, y2 := ry+hvBandY+hvBandH/2, sy+hvBandY+hvBandH/2
			t.Links = append(t.Links, hvLine{X1: hvPx(x0), Y1: hvPx(y1), X2: hvPx(x0), Y2: hvPx(y2), Class: "link " + cls, Title: title})
			t.Dots = append(t.Dots, hvRect{X: hvPx(x0 - 2.5), Y: hvPx(y1 - 2.5), W: 5, H: 5, Class: "dot " + cls, Title: title})
			t.Dots = append(t.Dots, hvRect{X: hvPx(x0 - 2.5), Y: hvPx(y2 - 2.5), W: 5, H: 5, Class: "dot " + cls, Title: title})
		}
	}
}

// centerOutages shades every row while the center was down. With marks,
// their labels go with the marks' so that none runs into another: it
// returns the marks with them.
func (b *timelineBuilder) centerOutages(marks []hvInstant) []hvInstant {
	t := &b.t
	lastLabel := -1e9
	for _, c := range b.r.CenterDown {
		if c.To < b.from || c.From > b.to {
			continue
		}
		x0, x1 := b.x(c.From), b.x(c.To)
		t.Shades = append(t.Shades, hvRect{X: hvPx(x0), Y: hvPx(b.top), W: hvPx(math.Max(x1-x0, 2)), H: hvPx(b.bottom - b.top), Class: "cdown",
			Title: fmt.Sprintf("center down %s – %s (%s): no status, no decision", htmlDur(c.From), htmlDur(c.To), htmlDur(c.To-c.From))})
		if len(marks) > 0 {
			if c.From >= b.from {
				marks = append(marks, hvInstant{At: c.From, Label: "center down", Class: "m-cdown"})
			}
		} else if mid := (x0 + x1) / 2; mid-lastLabel > 80 {
			t.ShadeLabels = append(t.ShadeLabels, hvText{X: hvPx(mid), Y: hvPx(b.top - 3), Text: "center down", Class: "cdown-l", Anchor: "middle"})
			lastLabel = mid
		}
	}
	return marks
}

// axis draws the time axis: ticks and their labels.
func (b *timelineBuilder) axis() {
	t := &b.t
	step := htmlTickStep(b.to - b.from)
	first := (b.from + step - 1) / step * step
	for d := first; d <= b.to; d += step {
		xx := hvPx(b.x(d))
		t.Ticks = append(t.Ticks, hvLine{X1: xx, Y1: hvPx(hvAxisH - 6), X2: xx, Y2: hvPx(b.bottom), Class: "tick"})
		anchor := "middle"
		if float64(xx) > float64(t.Width)-30 {
			anchor = "end"
		}
		if d == b.from {
			anchor = "start"
		}
		t.TickLabels = append(t.TickLabels, hvText{X: xx, Y: hvPx(hvAxisH - 10), Text: htmlTick(d, step), Class: "tl", Anchor: anchor})
	}
}

// marks draws the marked instants, in time order; labels that would run
// into each other are joined.
func (b *timelineBuilder) marks(marks []hvInstant) {
	t := &b.t
	slices.SortStableFunc(marks, func(a, b hvInstant) int { return cmp.Compare(a.At, b.At) })
	lastMark := -1e9
	for _, m := range marks {
		if m.At < b.from || m.At > b.to {
			continue
		}
		xx := b.x(m.At)
		t.Marks = append(t.Marks, hvLine{X1: hvPx(xx), Y1: hvPx(b.top - 22), X2: hvPx(xx), Y2: hvPx(b.bottom), Class: "mark " + m.Class, Title: m.Label + " at " + htmlDur(m.At)})
		if n := len(t.MarkLabels); n > 0 && xx-lastMark < 6 {
			t.MarkLabels[n-1].Text += " · " + m.Label
			continue
		}
		t.MarkLabels = append(t.MarkLabels, hvText{X: hvPx(xx), Y: hvPx(b.top - 14), Text: m.Label, Class: "mark-l " + m.Class, Anchor: "start"})
		lastMark = xx
	}
}

type hvInstant struct {
	At    time.Duration
	Label string
	Class string
}

// htmlCloseUps picks up to three incidents to show up close: the one that
// lost the most footage, a typical takeover (the one whose gap is nearest
// the median gap per camera) and the next worst of another kind.
func htmlCloseUps(r *Report) []hvCloseUp {
	type pick struct {
		inc Incident
		why string
	}
	var picks []pick
	taken := map[int]bool{}
	var worst []Incident
	for _, inc := range r.Incidents {
		if inc.LostFootage {
			worst = append(worst, inc)
		}
	}
	slices.SortStableFunc(worst, func(a, b Incident) int {
		switch {
		case a.GapMax > b.GapMax:
			return -1
		case a.GapMax < b.GapMax:
			return 1
		}
		return a.ID - b.ID
	})
	if len(worst) > 0 {
		picks = append(picks, pick{worst[0], "the incident that lost the most footage"})
		taken[worst[0].ID] = true
	}
	best := -1
	for k, inc := range r.Incidents {
		if taken[inc.ID] || !inc.LostFootage || !inc.TakenOver {
			continue
		}
		if best < 0 || htmlAbs(inc.GapMax-r.GapPerCamera.P50) < htmlAbs(r.Incidents[best].GapMax-r.GapPerCamera.P50) {
			best = k
		}
	}
	if best >= 0 {
		picks = append(picks, pick{r.Incidents[best], "a typical takeover"})
		taken[r.Incidents[best].ID] = true
	}
	for pass := range 2 {
		for _, inc := range worst {
			if len(picks) == 3 {
				break
			}
			if taken[inc.ID] {
				continue
			}
			if pass == 0 && slices.ContainsFunc(picks, func(p pick) bool { return slices.Equal(p.inc.Faults, inc.Faults) }) {
				continue
			}
			picks = append(picks, pick{inc, "the next worst"})
			taken[inc.ID] = true
		}
	}
	idx := map[nvrha.ServerID]int{}
	for i, s := range r.Servers {
		idx[s.ID] = i
	}
	var out []hvCloseUp
	for _, p := range picks {
		inc := p.inc
		from := inc.Start - 5*time.Second
		to := inc.Closed + 5*time.Second
		if inc.Closed-inc.Start > 10*time.Minute {
			to = inc.Start + 10*time.Minute
		}
		from, to = max(from, 0), min(to, max(r.Simulated, inc.Closed))
		rows := []int{}
		if i, ok := idx[inc.Server]; ok {
			rows = append(rows, i)
		}
		for i, s := range r.Servers {
			if s.Group == inc.Group && s.Role == "standby" && !slices.Contains(rows, i) {
				rows = append(rows, i)
			}
		}
		for _, tk := range r.TakeoverSpans {
			if tk.Recording == inc.Server && tk.To >= inc.Start && tk.From <= inc.Closed {
				if i, ok := idx[tk.Standby]; ok && !slices.Contains(rows, i) {
					rows = append(rows, i)
				}
			}
		}
		marks := []hvInstant{{At: inc.Start, Label: "fault", Class: "m-fault"}}
		if inc.Detected {
			marks = append(marks, hvInstant{At: inc.Start + inc.Detect, Label: "detected +" + htmlSec(inc.Detect), Class: "m-detect"})
		}
		if inc.TakenOver {
			marks = append(marks, hvInstant{At: inc.Start + inc.Takeover, Label: "taken over +" + htmlSec(inc.Takeover), Class: "m-take"})
		}
		if inc.Ended {
			marks = append(marks, hvInstant{At: inc.End, Label: "fault over", Class: "m-end"})
		}
		if inc.FailedBack {
			marks = append(marks, hvInstant{At: inc.End + inc.Failback, Label: "failed back +" + htmlSec(inc.Failback), Class: "m-back"})
		}
		faults := make([]string, len(inc.Faults))
		for i, f := range inc.Faults {
			faults[i] = string(f)
		}
		c := hvCloseUp{
			Title: fmt.Sprintf("Incident %d, %s: %s, %s at %s", inc.ID, p.why, inc.Server, strings.Join(faults, " + "), htmlDur(inc.Start)),
			Sub: fmt.Sprintf("%s of footage lost per camera at most (%s on average); showing %s – %s",
				htmlSec(inc.GapMax), htmlSec(inc.GapMean), htmlDur(from), htmlDur(to)),
			Timeline: htmlTimeline(r, rows, from, to, marks),
		}
		out = append(out, c)
	}
	return out
}

// htmlSpreadMarks places the mark labels, each at its mark's x, to the
// right of it or else to the left, on the first of two lines where it does
// not run into the label before it.
func htmlSpreadMarks(t *hvTimeline, top float64) {
	const charW = 5.9
	lastEnd := []float64{-1e9, -1e9}
	for k := range t.MarkLabels {
		l := &t.MarkLabels[k]
		x := float64(l.X)
		w := charW * float64(len([]rune(l.Text)))
		placed := false
		for line := 0; line < 2 && !placed; line++ {
			for _, side := range []string{"start", "end"} {
				x0 := x + 3
				if side == "end" {
					x0 = x - 3 - w
				}
				if x0 < lastEnd[line]+6 || x0+w > float64(t.Width) || x0 < 4 {
					continue
				}
				l.Anchor, l.X = side, hvPx(x+3)
				if side == "end" {
					l.X = hvPx(x - 3)
				}
				l.Y = hvPx(top - 14 + 11*float64(line))
				lastEnd[line] = x0 + w
				placed = true
				break
			}
		}
		if !placed {
			l.Anchor, l.X, l.Y = "start", hvPx(x+3), hvPx(top-3)
			lastEnd[1] = x + 3 + w
		}
	}
}

type hvSeries struct {
	Class, Label string
	Values       []time.Duration
}

// htmlHistogram draws the series stacked, on log-spaced bins (ten per
// decade) with a separate bar for zero, and marks p50 and p99 of s.
func htmlHistogram(title, sub string, series []hvSeries, s Stats) hvHist {
	h := hvHist{Title: title, Sub: sub, Width: 580, Height: 250, PlotX: 48, PlotY: 30, PlotW: 510, PlotH: 170}
	h.Base = h.PlotY + h.PlotH
	var lo, hi float64 = math.Inf(1), math.Inf(-1)
	total := 0
	for _, se := range series {
		for _, d := range se.Values {
			total++
			if d > 0 {
				lo = math.Min(lo, d.Seconds())
				hi = math.Max(hi, d.Seconds())
			}
		}
		if len(series) > 1 {
			h.Legend = append(h.Legend, hvLegendItem{Class: se.Class, Label: fmt.Sprintf("%s (%d)", se.Label, len(se.Values))})
		}
	}
	if total == 0 {
		h.Empty = true
		return h
	}
	if math.IsInf(lo, 1) {
		lo, hi = 1, 1
	}
	for _, d := range []time.Duration{s.P50, s.P99} {
		if d > 0 {
			lo, hi = math.Min(lo, d.Seconds()), math.Max(hi, d.Seconds())
		}
	}
	const perDecade = 10
	d0 := math.Floor(math.Log10(lo))
	d1 := math.Ceil(math.Log10(hi) + 1e-9)
	if d1-d0 < 2 {
		d1 = d0 + 2
	}
	bins := int(d1-d0) * perDecade
	zeroW := 14.0
	plotX := float64(h.PlotX) + zeroW + 18
	plotW := float64(h.PlotW) - zeroW - 18
	bw := plotW / float64(bins)
	pos := func(sec float64) float64 {
		return plotX + plotW*(math.Log10(sec)-d0)/(d1-d0)
	}
	counts := make([][]int, len(series))
	zero := make([]int, len(series))
	maxCount := 0
	stack := make([]int, bins)
	stackZero := 0
	for k, se := range series {
		counts[k] = make([]int, bins)
		for _, d := range se.Values {
			if d <= 0 {
				zero[k]++
				continue
			}
			b := int(math.Floor((math.Log10(d.Seconds()) - d0) * perDecade))
			b = min(max(b, 0), bins-1)
			counts[k][b]++
		}
		for b := range bins {
			stack[b] += counts[k][b]
			maxCount = max(maxCount, stack[b])
		}
		stackZero += zero[k]
		maxCount = max(maxCount, stackZero)
	}
	yTop := htmlNiceCeil(maxCount)
	yy := func(n int) float64 { return float64(h.Base) - float64(h.PlotH)*float64(n)/float64(yTop) }
	under := make([]int, bins)
	underZero := 0
	for k, se := range series {
		if zero[k] > 0 {
			y0, y1 := yy(underZero+zero[k]), yy(underZero)
			h.Bars = append(h.Bars, hvRect{X: h.PlotX, Y: hvPx(y0), W: hvPx(zeroW), H: hvPx(y1 - y0), Class: se.Class,
				Title: fmt.Sprintf("%s: %d with no gap", se.Label, zero[k])})
			underZero += zero[k]
		}
		for b := range bins {
			n := counts[k][b]
			if n == 0 {
				continue
			}
			a, z := math.Pow(10, d0+float64(b)/perDecade), math.Pow(10, d0+float64(b+1)/perDecade)
			y0, y1 := yy(under[b]+n), yy(under[b])
			h.Bars = append(h.Bars, hvRect{X: hvPx(plotX + float64(b)*bw + 0.5), Y: hvPx(y0), W: hvPx(math.Max(bw-1, 0.5)), H: hvPx(y1 - y0),
				Class: se.Class, Title: fmt.Sprintf("%s: %d between %s and %s", se.Label, n, htmlSecF(a), htmlSecF(z))})
			under[b] += n
		}
	}
	// Axes.
	h.XLabels = append(h.XLabels, hvText{X: hvPx(float64(h.PlotX) + zeroW/2), Y: hvPx(float64(h.Base) + 14), Text: "0", Class: "tl", Anchor: "middle"})
	for dec := d0; dec <= d1; dec++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, dec)
			if dec == d1 && m > 1 {
				continue
			}
			xx := hvPx(pos(v))
			h.XTicks = append(h.XTicks, hvLine{X1: xx, Y1: h.PlotY, X2: xx, Y2: hvPx(float64(h.Base) + 4), Class: map[bool]string{true: "tick", false: "tick minor"}[m == 1]})
			h.XLabels = append(h.XLabels, hvText{X: xx, Y: hvPx(float64(h.Base) + 14), Text: htmlSecF(v), Class: "tl", Anchor: "middle"})
		}
	}
	step := max(1, yTop/4)
	for n := 0; n <= yTop; n += step {
		y := hvPx(yy(n))
		h.YTicks = append(h.YTicks, hvLine{X1: hvPx(float64(h.PlotX) - 4), Y1: y, X2: hvPx(float64(h.PlotX) + float64(h.PlotW)), Y2: y, Class: "tick"})
		h.YLabels = append(h.YLabels, hvText{X: hvPx(float64(h.PlotX) - 7), Y: hvPx(float64(y) + 3.5), Text: strconv.Itoa(n), Class: "tl", Anchor: "end"})
	}
	// p50 and p99.
	if s.N > 0 {
		at := func(d time.Duration) float64 {
			if d <= 0 {
				return float64(h.PlotX) + zeroW/2
			}
			return pos(d.Seconds())
		}
		x50, x99 := at(s.P50), at(s.P99)
		h.Marks = append(h.Marks,
			hvLine{X1: hvPx(x50), Y1: hvPx(float64(h.PlotY) - 8), X2: hvPx(x50), Y2: h.Base, Class: "pmark p50", Title: "p50 " + htmlSec(s.P50)},
			hvLine{X1: hvPx(x99), Y1: hvPx(float64(h.PlotY) - 8), X2: hvPx(x99), Y2: h.Base, Class: "pmark p99", Title: "p99 " + htmlSec(s.P99)})
		l50 := hvText{X: hvPx(x50 - 3), Y: hvPx(float64(h.PlotY) - 12), Text: "p50 " + htmlSec(s.P50), Class: "pmark-l", Anchor: "end"}
		l99 := hvText{X: hvPx(x99 + 3), Y: hvPx(float64(h.PlotY) - 12), Text: "p99 " + htmlSec(s.P99), Class: "pmark-l", Anchor: "start"}
		if x99-x50 < 4 {
			l99.Y = hvPx(float64(h.PlotY) - 1)
		}
		if x50-float64(h.PlotX) < 70 {
			l50.Anchor, l50.X = "start", hvPx(x50+3)
			if x99-x50 < 90 {
				l99.Y = hvPx(float64(h.PlotY) + 1)
			}
		}
		if float64(h.Width)-x99 < 80 {
			l99.Anchor, l99.X = "end", hvPx(x99-3)
			l99.Y = hvPx(float64(h.PlotY) + 1)
		}
		h.MarkLabels = append(h.MarkLabels, l50, l99)
	}
	return h
}

func htmlNiceCeil(n int) int {
	if n <= 4 {
		return 4
	}
	p := 1
	for p*10 < n {
		p *= 10
	}
	for _, m := range []int{1, 2, 4, 5, 8, 10} {
		if m*p >= n {
			return m * p
		}
	}
	return 10 * p
}

func htmlIncidents(r *Report) []hvIncident {
	var top time.Duration
	for _, inc := range r.Incidents {
		top = max(top, inc.GapMax)
	}
	out := make([]hvIncident, 0, len(r.Incidents))
	for _, inc := range r.Incidents {
		faults := make([]string, len(inc.Faults))
		for i, f := range inc.Faults {
			faults[i] = string(f)
		}
		h := hvIncident{ID: inc.ID, Server: string(inc.Server), Group: inc.Group, Faults: strings.Join(faults, ", "),
			Start: htmlDur(inc.Start), Detect: "–", Takeover: "–", Failback: "–", Lost: inc.LostFootage}
		if inc.Ended {
			h.End = htmlDur(inc.End - inc.Start)
		} else {
			h.End = "never"
		}
		if inc.Detected {
			h.Detect = htmlSec(inc.Detect)
		}
		if inc.TakenOver {
			h.Takeover = htmlSec(inc.Takeover)
			h.Standby = string(inc.Standby)
		}
		if inc.FailedBack {
			h.Failback = htmlSec(inc.Failback)
		}
		if inc.LostFootage {
			h.GapMax, h.GapMean, h.GapTotal = htmlSec(inc.GapMax), htmlSec(inc.GapMean), htmlSec(inc.GapTotal)
		}
		if inc.FalseTakeover {
			h.Notes = append(h.Notes, "false takeover")
			h.Class = "false"
		}
		if inc.Unprotected {
			h.Notes = append(h.Notes, "unprotected")
			h.Class = "unprot"
		}
		if inc.Takeovers > 1 {
			h.Notes = append(h.Notes, fmt.Sprintf("%d takeovers", inc.Takeovers))
		}
		if inc.Flaps > 0 {
			h.Notes = append(h.Notes, htmlCount(inc.Flaps, "flap", "flaps"))
		}
		if !inc.LostFootage {
			h.Notes = append(h.Notes, "kept recording")
		}
		if top > 0 && inc.LostFootage {
			h.BarW = hvPx(math.Max(1, 150*float64(inc.GapMax)/float64(top)))
			h.MeanX = hvPx(150 * float64(inc.GapMean) / float64(top))
			h.BarTitle = fmt.Sprintf("incident %d: at most %s, on average %s per camera", inc.ID, htmlSec(inc.GapMax), htmlSec(inc.GapMean))
		}
		out = append(out, h)
	}
	return out
}

func htmlLegend() []hvLegendGroup {
	rec := hvLegendGroup{Title: "recording server"}
	for _, s := range status.RecordingStatuses() {
		rec.Items = append(rec.Items, hvLegendItem{Class: "st-" + s.Code(), Label: s.Label(), Title: s.Description()})
	}
	sb := hvLegendGroup{Title: "standby server"}
	for _, s := range status.StandbyStatuses() {
		sb.Items = append(sb.Items, hvLegendItem{Class: "st-" + s.Code(), Label: s.Label(), Title: s.Description()})
	}
	marks := hvLegendGroup{Title: "on the rows", Items: []hvLegendItem{
		{Class: "lg-fault", Label: "fault", Title: "a fault that hit the server (hover for its kind)"},
		{Class: "lg-own", Label: "records own cameras", Title: "ground truth: the server writes its own cameras' footage"},
		{Class: "lg-cover", Label: "records a taken-over server's cameras", Title: "ground truth: the standby writes another server's cameras"},
		{Class: "lg-tk", Label: "takeover (linked to its standby)", Title: "a takeover as the Machine ran it, from its start to its end"},
		{Class: "lg-tk-failed", Label: "takeover failed or interrupted", Title: "the standby failed, or an admin operation interrupted it"},
		{Class: "lg-admin", Label: "admin operation", Title: "disable, remove, add, failback..."},
		{Class: "lg-cdown", Label: "center down", Title: "the center crashed: no status, no decision until it restarts from its store"},
	}}
	return []hvLegendGroup{rec, sb, marks}
}

func htmlStatusClass(label string) string {
	for _, s := range status.RecordingStatuses() {
		if s.Label() == label {
			return "st-" + s.Code()
		}
	}
	for _, s := range status.StandbyStatuses() {
		if s.Label() == label {
			return "st-" + s.Code()
		}
	}
	return "st-unknown"
}

func htmlOutcomeClass(outcome string) string {
	switch {
	case outcome == "failback", outcome == "running":
		return "tk-ok"
	case strings.HasPrefix(outcome, "failed"):
		return "tk-failed"
	default:
		return "tk-other"
	}
}

func htmlGroupName(ref string) string {
	if n, err := strconv.Atoi(strings.TrimPrefix(ref, "g")); err == nil && strings.HasPrefix(ref, "g") {
		return ref + " · " + history.GroupName(n)
	}
	return ref
}

func htmlWorld(w history.WorldSpec) string {
	rec, sb, cams := 0, 0, 0
	for _, g := range w.Groups {
		rec += len(g.Recording)
		sb += len(g.Standby)
		for _, s := range g.Recording {
			cams += s.Cameras
		}
	}
	groups := "1 Failover Group"
	if len(w.Groups) != 1 {
		groups = strconv.Itoa(len(w.Groups)) + " Failover Groups"
	}
	return fmt.Sprintf("%s · %d recording + %d standby servers · %s cameras", groups, rec, sb, htmlInt(int64(cams)))
}

func htmlNet(n history.NetConfig) string {
	name := ""
	switch n {
	case history.QuietLAN():
		name = "quiet LAN: "
	case history.NoisyLAN():
		name = "noisy LAN: "
	}
	return fmt.Sprintf("%slatency %v, jitter 0–%v, loss %g%%, duplication %g%%", name, n.Latency, n.Jitter, 100*n.Loss, 100*n.Duplicate)
}

func htmlTickStep(span time.Duration) time.Duration {
	for _, s := range []time.Duration{
		time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
		time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
		time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
	} {
		if span/s <= 12 {
			return s
		}
	}
	return 24 * time.Hour * (span/(24*time.Hour)/12 + 1)
}

func htmlTick(d, step time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case step < time.Minute:
		return htmlDur(d)
	}
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case h == 0:
		return strconv.Itoa(m) + "m"
	case m == 0:
		return strconv.Itoa(h) + "h"
	}
	return fmt.Sprintf("%dh%02dm", h, m)
}

// htmlDur prints an offset or a length rounded to 0.1 s.
func htmlDur(d time.Duration) string {
	if d < time.Second && d > -time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

func htmlSec(d time.Duration) string {
	switch {
	case d >= 100*time.Second:
		return htmlDur(d)
	case d >= 10*time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
}

func htmlSecF(s float64) string {
	switch {
	case s >= 3600:
		return strconv.FormatFloat(s/3600, 'g', 3, 64) + "h"
	case s >= 120:
		return strconv.FormatFloat(s/60, 'g', 3, 64) + "m"
	}
	return strconv.FormatFloat(s, 'g', 3, 64) + "s"
}

func htmlInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func htmlAbs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func htmlCount(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
