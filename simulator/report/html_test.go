package report_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/simulator"
	"github.com/nvrha/nvrha/simulator/check"
	"github.com/nvrha/nvrha/simulator/report"
	"github.com/nvrha/nvrha/status"
)

// htmlRunConfig is a short run with faults in two groups.
func htmlRunConfig() simulator.Config {
	cfg := simulator.Config{
		Seed: 11, Duration: 6 * time.Minute, World: simulator.UniformWorld(2, 4, 2, 4, 0, 0),
		Nemesis: simulator.NemesisConfig{Enabled: true, Rate: 6, QuietTail: 90 * time.Second},
	}
	cfg.Center.Failover.Failback.HoldDown = 10 * time.Second
	for _, k := range simulator.KnownIssues() {
		cfg.Tolerate = append(cfg.Tolerate, k.ID)
	}
	return cfg
}

func htmlRun(t *testing.T) *report.Report {
	t.Helper()
	w, err := simulator.New(htmlRunConfig())
	if err != nil {
		t.Fatal(err)
	}
	return w.Run()
}

func renderHTML(t *testing.T, r *report.Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := report.WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// checkHTMLStructure tokenizes page and checks that every element is
// closed in order (void elements aside) and that nothing leaves the page.
func checkHTMLStructure(t *testing.T, page string) {
	t.Helper()
	if !strings.HasPrefix(page, "<!DOCTYPE html>\n<html") {
		t.Errorf("page does not start with the doctype: %.40q", page)
	}
	void := map[string]bool{"meta": true, "br": true, "hr": true, "img": true, "input": true, "link": true}
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict = false
	d.Entity = xml.HTMLEntity
	var stack []string
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("line %d: %v", func() int { l, _ := d.InputPos(); return l }(), err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if !void[tok.Name.Local] {
				stack = append(stack, tok.Name.Local)
			}
		case xml.EndElement:
			if void[tok.Name.Local] {
				continue
			}
			if len(stack) == 0 || stack[len(stack)-1] != tok.Name.Local {
				l, _ := d.InputPos()
				t.Fatalf("line %d: </%s> closes %v", l, tok.Name.Local, stack)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		t.Errorf("unclosed elements %v", stack)
	}
	for _, bad := range []string{"<script", "<link", "<img", "<iframe", "@import", "url(", "http:", "https:", "NaN", "Inf"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
}

// htmlSection returns the section with the given id.
func htmlSection(t *testing.T, page, id string) string {
	t.Helper()
	_, rest, ok := strings.Cut(page, `<section id="`+id+`">`)
	if !ok {
		t.Fatalf("no section %q", id)
	}
	sec, _, _ := strings.Cut(rest, "</section>")
	return sec
}

func TestWriteHTMLRealRun(t *testing.T) {
	r := htmlRun(t)
	if len(r.Incidents) == 0 || len(r.TakeoverSpans) == 0 || len(r.GapSamples) == 0 {
		t.Fatalf("the run should have incidents, takeovers and gaps: %d, %d, %d", len(r.Incidents), len(r.TakeoverSpans), len(r.GapSamples))
	}
	page := renderHTML(t, r)
	checkHTMLStructure(t, page)
	for _, id := range []string{"summary", "timeline", "gaps", "incidents"} {
		if sec := htmlSection(t, page, id); !strings.Contains(sec, "<svg") {
			t.Errorf("section %s has no SVG", id)
		}
	}
	tl := htmlSection(t, page, "timeline")
	for _, s := range r.Servers {
		if !strings.Contains(tl, ">"+string(s.ID)+"</text>") {
			t.Errorf("the timeline has no row for %s", s.ID)
		}
	}
	for _, s := range status.RecordingStatuses() {
		if !strings.Contains(tl, ">"+s.Label()+"</span>") {
			t.Errorf("the legend lacks %q", s.Label())
		}
	}
	for _, s := range status.StandbyStatuses() {
		if !strings.Contains(tl, ">"+s.Label()+"</span>") {
			t.Errorf("the legend lacks %q", s.Label())
		}
	}
	// Every status the run published is drawn, with its label.
	for _, s := range r.Servers {
		for _, sp := range s.Statuses {
			if sp.To > sp.From && !strings.Contains(tl, "<title>"+string(s.ID)+": "+sp.Label+", ") {
				t.Fatalf("no band for %s %q", s.ID, sp.Label)
			}
		}
	}
	verdict := "Every invariant held"
	if r.Violation != nil {
		verdict = "violated at"
	}
	for _, want := range []string{r.TraceHash, r.Replay, "seed 11", verdict, "p50 ", "p99 ",
		"takeover of " + string(r.TakeoverSpans[0].Recording) + " by " + string(r.TakeoverSpans[0].Standby)} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	inc := htmlSection(t, page, "incidents")
	if got := strings.Count(inc, "<tr"); got != len(r.Incidents)+1 {
		t.Errorf("%d incident rows for %d incidents", got-1, len(r.Incidents))
	}
}

func TestWriteHTMLDeterministic(t *testing.T) {
	r := htmlRun(t)
	a, b := renderHTML(t, r), renderHTML(t, r)
	if a != b {
		t.Fatal("the same report renders to different pages")
	}
	if c := renderHTML(t, htmlRun(t)); c != a {
		t.Fatal("the same seed renders to a different page")
	}
}

func TestWriteHTMLEscapes(t *testing.T) {
	r := htmlRun(t)
	const hostile = `<script>alert("x")</script>`
	victim := r.Servers[0].ID
	rename := func(id *nvrha.ServerID) {
		if *id == victim {
			*id = hostile
		}
	}
	rename(&r.Servers[0].ID)
	for i := range r.TakeoverSpans {
		rename(&r.TakeoverSpans[i].Recording)
	}
	for i := range r.Incidents {
		rename(&r.Incidents[i].Server)
	}
	for i := range r.GapSamples {
		rename(&r.GapSamples[i].Server)
	}
	r.Scenario = `"><img src=x onerror=alert(1)>`
	r.Replay = "go run </title><script>"
	r.Admin = append(r.Admin, report.AdminResult{At: time.Minute, Op: "disable " + hostile, Err: "<b>no</b>"})
	r.Violation = &check.Violation{Invariant: 5, Name: "statuses", Seed: r.Seed, At: time.Minute, Detail: "<script>x</script>",
		LastEvents: []string{"<script>y</script>"}, Replay: r.Replay}
	page := renderHTML(t, r)
	checkHTMLStructure(t, page)
	for _, bad := range []string{"<script", "<img", "<b>no</b>"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q unescaped", bad)
		}
	}
	if !strings.Contains(page, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Error("the hostile server ID is not shown escaped")
	}
	if !strings.Contains(page, "Invariant 5 violated at 1m0s") {
		t.Error("the violation is not shown")
	}
}

func TestWriteHTMLEmptyReport(t *testing.T) {
	page := renderHTML(t, &report.Report{})
	checkHTMLStructure(t, page)
	for _, want := range []string{"No footage was lost.", "No incident"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestWriteHTMLScenarioRun(t *testing.T) {
	sc, err := simulator.ParseScenarioFile("../scenarios/standby-dies-mid-takeover.nvrsim")
	if err != nil {
		t.Fatal(err)
	}
	cfg := simulator.Config{Seed: 1}
	cfg.ApplyScenario(sc)
	cfg.ScenarioPath = "simulator/scenarios/standby-dies-mid-takeover.nvrsim"
	w, err := simulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := w.Run()
	page := renderHTML(t, r)
	checkHTMLStructure(t, page)
	for _, want := range []string{"standby dies mid-takeover", "Scenario expectations", "expect takeover rec-1 by sb-2",
		"Close-ups", status.StandbyAbnormalProtectionFailed.Label()} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestCameraGapsMatchReport checks that the per-camera gaps derived from
// the gap samples are those Report.GapPerCamera summarises.
func TestCameraGapsMatchReport(t *testing.T) {
	long := simulator.Config{Seed: 2, Duration: 20 * time.Minute, Nemesis: simulator.NemesisConfig{Enabled: true, Rate: 2}}
	long.Tolerate = htmlRunConfig().Tolerate
	for _, cfg := range []simulator.Config{htmlRunConfig(), long} {
		w, err := simulator.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		r := w.Run()
		gaps, complete := r.CameraGaps()
		if !complete {
			t.Fatalf("seed %d dropped gap samples", cfg.Seed)
		}
		if got := report.StatsOf(gaps); got != r.GapPerCamera {
			t.Errorf("seed %d: derived %+v, report %+v", cfg.Seed, got, r.GapPerCamera)
		}
	}
}
