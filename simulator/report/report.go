package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/simulator/check"
	"github.com/nvrha/nvrha/simulator/history"
)

// Report is everything a run measured. Durations and offsets are
// time.Duration (nanoseconds in JSON); offsets count from Start. It holds no
// wall-clock figure, so the same seed gives the same Report.
type Report struct {
	Seed     uint64 `json:"seed"`
	Scenario string `json:"scenario,omitempty"`
	Baseline bool   `json:"baseline"`
	// Oracle is set for the oracle center's run (simulator Config.Oracle).
	Oracle   bool          `json:"oracle,omitempty"`
	Detector string        `json:"detector"`
	Duration time.Duration `json:"duration"`
	// Simulated is how far the run got (Duration unless it stopped early).
	Simulated time.Duration     `json:"simulated"`
	World     history.WorldSpec `json:"world"`
	Net       history.NetConfig `json:"net"`

	// TraceHash is the FNV-64a hash of the canonical line of every event:
	// the same seed and Config give the same hash.
	TraceHash  string `json:"trace_hash"`
	Events     uint64 `json:"events"`
	TraceLines uint64 `json:"trace_lines"`
	Messages   uint64 `json:"messages"`
	Lost       uint64 `json:"lost"`
	// Checks counts invariant evaluations.
	Checks uint64 `json:"checks"`

	// Violation is the invariant that stopped the run, if one did.
	Violation *check.Violation `json:"violation,omitempty"`
	// KnownIssues are the tolerated known issues the run ran into.
	KnownIssues []check.KnownIssue `json:"known_issues,omitempty"`
	// Replay runs this world again.
	Replay string `json:"replay"`
	// FaultPlan is the hash of the nemesis's fault plan, which the seed
	// alone decides: the same for every side run in one world.
	FaultPlan string `json:"fault_plan,omitempty"`

	Incidents []Incident `json:"incidents"`
	// Detect, Takeover and GapPerCamera summarise the incidents in which a
	// server in fact lost footage: time to detect and to a confirmed
	// takeover from the fault, and the footage each camera lost.
	Detect       Stats `json:"detect"`
	Takeover     Stats `json:"takeover"`
	GapPerCamera Stats `json:"gap_per_camera"`
	// Gaps summarises every single gap; Failback the time from a server's
	// recovery to its cameras' failback.
	Gaps     Stats `json:"gaps"`
	Failback Stats `json:"failback"`

	TakeoversStarted   int `json:"takeovers_started"`
	TakeoversConfirmed int `json:"takeovers_confirmed"`
	// FalseTakeovers are takeovers of a server that was in fact healthy and
	// recording all its cameras; Unexplained ones had no fault on that
	// server and no trouble on its network (not even a lost message) to
	// explain them.
	FalseTakeovers            int `json:"false_takeovers"`
	UnexplainedFalseTakeovers int `json:"unexplained_false_takeovers"`
	// Flaps are takeovers that began within the flap window of the same
	// server's previous failback.
	Flaps int `json:"flaps"`
	// Availability is the share of camera-time that was recorded.
	Availability float64       `json:"availability"`
	FootageLost  time.Duration `json:"footage_lost"`
	// Scarcity is how well the standbys were spent while failed servers
	// outnumbered those that could cover them.
	Scarcity Scarcity `json:"scarcity"`

	Faults     map[history.FaultKind]int `json:"faults"`
	Recoveries map[history.Recovery]int  `json:"recoveries"`
	Refused    []Refusal                 `json:"refused,omitempty"`
	Admin      []AdminResult             `json:"admin,omitempty"`
	// Expectations are the scenario's expect lines and whether they held.
	Expectations []Expectation `json:"expectations,omitempty"`
	// Settled tells whether the faults stopped long enough before the end
	// for the settle checks of invariant 7 to apply, and from when.
	Settled   bool          `json:"settled"`
	SettledAt time.Duration `json:"settled_at,omitempty"`
	// Orphans are standbys left recording a recording server's cameras
	// after they left every group (see the package documentation).
	Orphans        []nvrha.ServerID `json:"orphans,omitempty"`
	CenterRestarts int              `json:"center_restarts"`
	// Centers is what several centers did (nil with one); every new
	// leader counts as a center restart too.
	Centers *Centers `json:"centers,omitempty"`

	// Timelines, for a report renderer.
	Servers           []ServerTimeline `json:"servers"`
	TakeoverSpans     []TakeoverSpan   `json:"takeover_spans"`
	CenterDown        []Span           `json:"center_down,omitempty"`
	GapSamples        []GapSample      `json:"gap_samples"`
	GapSamplesDropped int              `json:"gap_samples_dropped,omitempty"`
}

// Stats summarises a distribution of durations (nearest-rank percentiles).
type Stats struct {
	N    int           `json:"n"`
	Mean time.Duration `json:"mean"`
	P50  time.Duration `json:"p50"`
	P90  time.Duration `json:"p90"`
	P99  time.Duration `json:"p99"`
	Max  time.Duration `json:"max"`
}

// StatsOf summarises ds.
func StatsOf(ds []time.Duration) Stats {
	if len(ds) == 0 {
		return Stats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return Stats{N: len(s), Mean: sum / time.Duration(len(s)), P50: rank(0.5), P90: rank(0.9), P99: rank(0.99), Max: s[len(s)-1]}
}

// Refusal is a server a group refused, with every rule it failed.
type Refusal struct {
	At      time.Duration  `json:"at"`
	Server  nvrha.ServerID `json:"server"`
	Group   string         `json:"group"`
	Role    string         `json:"role"`
	Reasons []string       `json:"reasons"`
}

// AdminResult is one admin operation and its outcome.
type AdminResult struct {
	At  time.Duration `json:"at"`
	Op  string        `json:"op"`
	Err string        `json:"err,omitempty"`
}

// Expectation is an expect line of a scenario and whether it held.
type Expectation struct {
	Line   int    `json:"line"`
	Text   string `json:"text"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// OK reports whether the run had no violation and every expectation held.
func (r *Report) OK() bool {
	if r.Violation != nil {
		return false
	}
	for _, e := range r.Expectations {
		if !e.OK {
			return false
		}
	}
	return true
}

// WriteText writes the summary table.
func (r *Report) WriteText(out io.Writer) error {
	var b strings.Builder
	kv := func(k, format string, args ...any) { fmt.Fprintf(&b, "%-21s %s\n", k, fmt.Sprintf(format, args...)) }
	servers, cams := 0, 0
	for _, s := range r.World.Servers() {
		servers++
		cams += s.Cameras
	}
	name := r.Scenario
	if name == "" {
		name = "nemesis"
	}
	kv("run", "seed %d, %s, %s simulated of %s", r.Seed, name, fmtDur(r.Simulated), fmtDur(r.Duration))
	kv("world", "%d groups, %d servers, %d cameras", len(r.World.Groups), servers, cams)
	kv("center", "%s%s", r.Detector, map[bool]string{true: ", baseline", false: ""}[r.Baseline])
	kv("network", "latency %v, jitter %v, loss %g, duplication %g", r.Net.Latency, r.Net.Jitter, r.Net.Loss, r.Net.Duplicate)
	kv("trace", "%s (%d events, %d messages, %d lost, %d checks)", r.TraceHash, r.Events, r.Messages, r.Lost, r.Checks)
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "measure\tn\tp50\tp90\tp99\tmax\t\n")
	row := func(label string, s Stats) {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t\n", label, s.N, sec(s.P50), sec(s.P90), sec(s.P99), sec(s.Max))
	}
	row("time to detect", r.Detect)
	row("time to takeover", r.Takeover)
	row("gap per camera", r.GapPerCamera)
	row("every gap", r.Gaps)
	row("failback time", r.Failback)
	if err := tw.Flush(); err != nil {
		return err
	}
	b.WriteString("\n")
	kv("incidents", "%d (takeovers: %d started, %d confirmed)", len(r.Incidents), r.TakeoversStarted, r.TakeoversConfirmed)
	kv("false takeovers", "%d (unexplained %d)", r.FalseTakeovers, r.UnexplainedFalseTakeovers)
	kv("flaps", "%d", r.Flaps)
	kv("camera availability", "%.6f%% (%s camera-seconds of footage lost)", 100*r.Availability, sec(r.FootageLost))
	if r.Scarcity.Time > 0 {
		kv("scarcity", "%s with more failures than standbys; %.4f of the best cover recorded", sec(r.Scarcity.Time),
			r.Scarcity.Efficiency())
	}
	kv("center restarts", "%d", r.CenterRestarts)
	if c := r.Centers; c != nil {
		kv("centers", "%d, lease %v: %d elections, %d leader crashes, %d step-downs, %d orders refused for a stale term",
			c.Centers, c.Lease, c.Elections, c.LeaderCrashes, c.StepDowns, c.StaleTermRefused)
		kv("protection resumed", "after a leader crash, clean failover: n %d, p50 %s, p99 %s, max %s (target %s); with other center faults: n %d, max %s",
			c.Resume.N, sec(c.Resume.P50), sec(c.Resume.P99), sec(c.Resume.Max), sec(c.ResumeTarget), c.ResumeCompound.N, sec(c.ResumeCompound.Max))
		kv("covered in failover", "crashed during a clean one: n %d, p50 %s, p99 %s, max %s, %d never covered (target %s); %d contended",
			c.Covered.N, sec(c.Covered.P50), sec(c.Covered.P99), sec(c.Covered.Max), c.NotCovered, sec(c.CoveredTarget), c.Contended)
	}
	if len(r.Faults) > 0 {
		kv("faults", "%s", countList(r.Faults))
	}
	if len(r.Recoveries) > 0 {
		kv("recoveries", "%s", countList(r.Recoveries))
	}
	for _, rf := range r.Refused {
		kv("refused", "%s as %s server of %s: %s", rf.Server, rf.Role, rf.Group, strings.Join(rf.Reasons, " "))
	}
	if len(r.Orphans) > 0 {
		kv("orphans", "%v", r.Orphans)
	}
	if r.Settled {
		kv("settled", "from %s", fmtDur(r.SettledAt))
	}
	for _, e := range r.Expectations {
		mark := "ok (" + e.Detail + ")"
		if !e.OK {
			mark = "FAILED: " + e.Detail
		}
		kv("expect", "line %d: %s: %s", e.Line, e.Text, mark)
	}
	for _, k := range r.KnownIssues {
		kv("known issue", "%s x%d, first at %s: %s", k.ID, k.Count, fmtDur(k.First), k.Detail)
	}
	if v := r.Violation; v != nil {
		b.WriteString("\n" + v.Error())
	} else {
		kv("invariants", "all held")
		kv("replay", "%s", r.Replay)
	}
	_, err := io.WriteString(out, b.String())
	return err
}

func sec(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }

func countList[K ~string](m map[K]int) string {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// fmtDur renders a simulated offset: "12.345s".
func fmtDur(d time.Duration) string { return d.Round(time.Millisecond).String() }
