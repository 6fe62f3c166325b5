package compare

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nvrha/nvrha/simulator"
)

func runCfg(t *testing.T, cfg simulator.Config) *simulator.Report {
	t.Helper()
	w, err := simulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w.Run()
}

func TestPair(t *testing.T) {
	cfg := simulator.Config{Seed: 4, Baseline: true}
	cfg.Center.Failover.Failback.HoldDown = 7 * time.Second
	nv, base := Pair(cfg)
	if nv.Baseline || !base.Baseline {
		t.Fatalf("Baseline: nvrha %v, baseline %v", nv.Baseline, base.Baseline)
	}
	if nv.Seed != 4 || base.Seed != 4 || nv.Center.Failover.Failback.HoldDown != 7*time.Second ||
		base.Center.Failover.Failback.HoldDown != 7*time.Second {
		t.Error("the pair is not the same world")
	}
}

// TestOneRunPoolsToItsReport: a Side of one report has that report's
// figures.
func TestOneRunPoolsToItsReport(t *testing.T) {
	cfg := simulator.Config{Seed: 9, Duration: 15 * time.Minute, World: simulator.UniformWorld(1, 6, 2, 8, 0, 0),
		Nemesis: simulator.NemesisConfig{Enabled: true, Rate: 3}}
	for _, k := range simulator.KnownIssues() {
		cfg.Tolerate = append(cfg.Tolerate, k.ID)
	}
	nv, base := Pair(cfg)
	rn, rb, ro := runCfg(t, nv), runCfg(t, base), runCfg(t, Oracle(cfg))
	c := New()
	c.Add(rn, rb, ro)
	if !ro.Oracle || ro.FaultPlan != rn.FaultPlan || len(c.Unpaired) != 0 {
		t.Errorf("oracle run: Oracle %v, plan %s against nvrha's %s", ro.Oracle, ro.FaultPlan, rn.FaultPlan)
	}
	// The classes add up to the totals: every incident in one class, and
	// the footage lost in them and outside them is all the footage lost.
	rows := c.Classes()
	for _, x := range []struct {
		name string
		s    Summary
		of   func(ClassRow) ClassSummary
	}{
		{"nvrha", c.NVRHA.Summary(), func(r ClassRow) ClassSummary { return r.NVRHA }},
		{"baseline", c.Baseline.Summary(), func(r ClassRow) ClassSummary { return r.Baseline }},
		{"oracle", c.Oracle.Summary(), func(r ClassRow) ClassSummary { return r.Oracle }},
	} {
		incidents, lost, gaps := 0, time.Duration(0), 0
		for _, r := range rows {
			incidents += x.of(r).Incidents
			lost += x.of(r).FootageLost
			gaps += x.of(r).GapPerCamera.N
		}
		if incidents != x.s.Incidents || lost != x.s.FootageLost || gaps != x.s.GapPerCamera.N || incidents == 0 {
			t.Errorf("%s: classes add up to %d incidents, %v lost, %d camera gaps; totals %d, %v, %d", x.name,
				incidents, lost, gaps, x.s.Incidents, x.s.FootageLost, x.s.GapPerCamera.N)
		}
	}
	if av := c.Avoidable(); av.NVRHA != rn.FootageLost-ro.FootageLost || av.Baseline != rb.FootageLost-ro.FootageLost {
		t.Errorf("avoidable loss %+v; lost %v, %v, oracle %v", av, rn.FootageLost, rb.FootageLost, ro.FootageLost)
	}
	for _, x := range []struct {
		s Summary
		r *simulator.Report
	}{{c.NVRHA.Summary(), rn}, {c.Baseline.Summary(), rb}} {
		if x.s.Detect != x.r.Detect || x.s.Takeover != x.r.Takeover || x.s.GapPerCamera != x.r.GapPerCamera {
			t.Errorf("%s: pooled %+v %+v %+v, report %+v %+v %+v", x.s.Name, x.s.Detect, x.s.Takeover, x.s.GapPerCamera,
				x.r.Detect, x.r.Takeover, x.r.GapPerCamera)
		}
		if math.Abs(x.s.Availability-x.r.Availability) > 1e-12 || x.s.FalseTakeovers != x.r.FalseTakeovers {
			t.Errorf("%s: availability %v / %v, false takeovers %d / %d", x.s.Name, x.s.Availability, x.r.Availability,
				x.s.FalseTakeovers, x.r.FalseTakeovers)
		}
	}
	if !strings.HasPrefix(c.Baseline.Detector, "consecutive-miss") || strings.HasPrefix(c.NVRHA.Detector, "consecutive-miss") {
		t.Errorf("detectors %q, %q", c.NVRHA.Detector, c.Baseline.Detector)
	}
	var b strings.Builder
	if err := c.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "seed 9,") || !strings.Contains(b.String(), "time to detect p50") ||
		!strings.Contains(b.String(), "avoidable loss") || !strings.Contains(b.String(), "by first fault") ||
		!strings.Contains(b.String(), "95% intervals of a paired bootstrap") {
		t.Errorf("text:\n%s", b.String())
	}
	for _, line := range strings.Split(b.String(), "\n") {
		if n := utf8.RuneCountInString(line); n > 100 {
			t.Errorf("a line of %d columns: %q", n, line)
		}
	}
}

func TestRatios(t *testing.T) {
	c := New()
	c.NVRHA.falseTakeovers, c.Baseline.falseTakeovers = 0, 3
	c.NVRHA.detect = []time.Duration{time.Second}
	c.Baseline.detect = []time.Duration{5 * time.Second}
	rows := map[string]Row{}
	for _, r := range c.Rows() {
		rows[r.Measure] = r
	}
	if r := rows["time to detect p50"]; r.Ratio != 5 || r.NVRHA != "1.000s" || r.Baseline != "5.000s" {
		t.Errorf("detect row %+v", r)
	}
	if r := rows["false takeovers"]; !math.IsNaN(r.Ratio) {
		t.Errorf("0 against 3 false takeovers: ratio %v, want none", r.Ratio)
	}
	if r := rows["time to takeover p50"]; r.NVRHA != "-" || !math.IsNaN(r.Ratio) {
		t.Errorf("no samples: %+v", r)
	}
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"measure":"false takeovers","nvrha":"0","baseline":"3","oracle":"-","ratio":null`) ||
		!strings.Contains(string(out), `"measure":"time to detect p50","nvrha":"1.000s","baseline":"5.000s","oracle":"-","ratio":5`) {
		t.Errorf("JSON %s", out)
	}
}

// TestRunsFilePoolsLikeReports: runs written and read back pool to the
// same figures as the reports they came from, and a line cut short at the
// end is dropped while a bad line before it is an error.
func TestRunsFilePoolsLikeReports(t *testing.T) {
	direct, viaFile := New(), New()
	var buf bytes.Buffer
	for seed := uint64(1); seed <= 3; seed++ {
		cfg := simulator.Config{Seed: seed, Duration: 10 * time.Minute, World: simulator.UniformWorld(1, 6, 2, 8, 0, 0),
			Nemesis: simulator.NemesisConfig{Enabled: true, Rate: 3}}
		nv, base := Pair(cfg)
		rn, rb, ro := runCfg(t, nv), runCfg(t, base), runCfg(t, Oracle(cfg))
		direct.Add(rn, rb, ro)
		for _, r := range []*simulator.Report{rn, rb, ro} {
			if err := WriteRun(&buf, RunOf(r)); err != nil {
				t.Fatal(err)
			}
		}
	}
	whole := buf.Len()
	buf.WriteString(`{"seed": 4, "base`) // a writer killed mid-line
	runs, good, err := ReadRuns(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 9 || good != int64(whole) {
		t.Fatalf("read %d runs, %d good bytes; want 9 runs, %d bytes", len(runs), good, whole)
	}
	for i := 0; i < len(runs); i += 3 {
		viaFile.AddRuns(runs[i], runs[i+1], &runs[i+2])
	}
	// %+v, not DeepEqual: a ratio with no meaning is NaN on both.
	if fmt.Sprintf("%+v", direct.Classes()) != fmt.Sprintf("%+v", viaFile.Classes()) {
		t.Errorf("classes pooled from reports %+v\nfrom the file %+v", direct.Classes(), viaFile.Classes())
	}
	for _, x := range []struct{ a, b Summary }{{direct.NVRHA.Summary(), viaFile.NVRHA.Summary()},
		{direct.Baseline.Summary(), viaFile.Baseline.Summary()}, {direct.Oracle.Summary(), viaFile.Oracle.Summary()}} {
		if x.a != x.b {
			t.Errorf("pooled from reports %+v\npooled from the file %+v", x.a, x.b)
		}
	}
	if direct.NVRHA.Summary().Incidents == 0 {
		t.Fatal("no incidents: the comparison compares nothing")
	}

	bad := bytes.Replace(buf.Bytes()[:whole], []byte(`"seed":2`), []byte(`"seed":"two"`), 1)
	if _, _, err := ReadRuns(bytes.NewReader(bad)); !errors.Is(err, ErrBadRuns) || !strings.Contains(err.Error(), "line 4") {
		t.Errorf("a bad line 4: error %v, want ErrBadRuns naming line 4", err)
	}
}
