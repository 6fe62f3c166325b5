package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/failover/detector"
	"github.com/nvrha/nvrha/simulator"
	"github.com/nvrha/nvrha/simulator/cmd/internal/compare"
	"github.com/nvrha/nvrha/status"
)

// replayArgs turns a replay command into nvrsim's arguments.
func replayArgs(t *testing.T, cmd string) []string {
	t.Helper()
	cmd, _, _ = strings.Cut(cmd, "  #")
	fields := strings.Fields(cmd)
	if len(fields) < 3 || fields[0] != "go" || fields[2] != "./simulator/cmd/nvrsim" {
		t.Fatalf("not a replay command: %q", cmd)
	}
	return fields[3:]
}

// TestReplayReproduces runs a world from a Config, then runs the command
// its report prints, and compares the trace hashes.
func TestReplayReproduces(t *testing.T) {
	for _, cfg := range []simulator.Config{
		{Seed: 5, Duration: 3 * time.Minute, RandomWorld: true,
			Nemesis: simulator.NemesisConfig{Enabled: true, Rate: 4, QuietTail: time.Minute}},
		{Seed: 6, Duration: 2 * time.Minute, World: simulator.UniformWorld(2, 3, 1, 8, 0, 0), Net: simulator.NoisyLAN(),
			Nemesis: simulator.NemesisConfig{Enabled: true, Kinds: []simulator.FaultKind{simulator.FaultCrash, simulator.FaultPartition}, Rate: 3}},
		{Seed: 7, Duration: 3 * time.Minute, RandomWorld: true, Centers: 3, Center: simulator.CenterConfig{Lease: 4 * time.Second},
			Nemesis: simulator.NemesisConfig{Enabled: true, Rate: 4, QuietTail: time.Minute}},
		// The baseline's detector replaces nvrha's, whose acceptable pause
		// still sizes the nemesis's pauses: the command must carry that
		// one, not the baseline's.
		{Seed: 8, Duration: 3 * time.Minute, RandomWorld: true, Baseline: true,
			Nemesis: simulator.NemesisConfig{Enabled: true, Rate: 4, QuietTail: time.Minute}},
		{Seed: 9, Duration: 3 * time.Minute, RandomWorld: true, Baseline: true,
			Center:  simulator.CenterConfig{Failover: failover.Config{Detector: detector.Config{AcceptablePause: 2 * time.Second}}},
			Nemesis: simulator.NemesisConfig{Enabled: true, Rate: 4, QuietTail: time.Minute}},
	} {
		cfg.Center.Failover.Failback.HoldDown = 10 * time.Second
		cfg.Center.Failover.Failback.FlapWindow = time.Minute
		for _, k := range simulator.KnownIssues() {
			cfg.Tolerate = append(cfg.Tolerate, k.ID)
		}
		w, err := simulator.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		want := w.Run()
		var out, errOut bytes.Buffer
		args := append(replayArgs(t, want.Replay), "-json")
		if _, err := run(args, &out, &errOut); err != nil {
			t.Fatalf("%v: %v %s", args, err, errOut.String())
		}
		var got simulator.Report
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if got.TraceHash != want.TraceHash {
			t.Errorf("%s replays to trace %s, the run had %s", want.Replay, got.TraceHash, want.TraceHash)
		}
	}
}

func TestScenarioFromCommandLine(t *testing.T) {
	var out, errOut bytes.Buffer
	code, err := run([]string{"-scenario", "../../scenarios/standby-without-license.nvrsim"}, &out, &errOut)
	if err != nil || code != 0 {
		t.Fatalf("code %d, %v: %s%s", code, err, out.String(), errOut.String())
	}
	for _, want := range []string{"standby without enough license channels", "insufficient-license-channels", "invariants            all held"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

// lyingMachine shows every recording server "Normal, protected", whatever
// the facts: invariant 5 catches it.
type lyingMachine struct{ *failover.Machine }

func (l lyingMachine) Snapshot() failover.Snapshot {
	s := l.Machine.Snapshot()
	for gi := range s.Groups {
		for mi := range s.Groups[gi].Members {
			if m := &s.Groups[gi].Members[mi]; m.Role == failover.RoleRecording {
				m.Recording = status.RecordingNormalProtected
			}
		}
	}
	return s
}

func lie(cfg *simulator.Config) {
	cfg.Center.WrapMachine = func(m *failover.Machine) simulator.Machine { return lyingMachine{m} }
}

var short = []string{"-seed", "3", "-duration", "3m", "-servers", "4", "-standbys", "1", "-cameras", "4", "-rate", "4"}

func TestJSONDecodesIntoReport(t *testing.T) {
	var out, errOut bytes.Buffer
	code, err := run(append(short, "-json"), &out, &errOut)
	if err != nil || code != 0 {
		t.Fatalf("code %d, %v: %s", code, err, errOut.String())
	}
	dec := json.NewDecoder(bytes.NewReader(out.Bytes()))
	dec.DisallowUnknownFields()
	var r simulator.Report
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("stdout is not a Report: %v\n%.300s", err, out.String())
	}
	if dec.More() {
		t.Error("stdout holds more than the report")
	}
	if r.Seed != 3 || r.Simulated != 3*time.Minute || r.TraceHash == "" || len(r.Servers) != 5 {
		t.Errorf("report seed %d, simulated %v, trace %q, %d servers", r.Seed, r.Simulated, r.TraceHash, len(r.Servers))
	}
}

func TestHTMLFlagWritesReport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.html")
	var out, errOut bytes.Buffer
	code, err := run(append(short, "-html", path), &out, &errOut)
	if err != nil || code != 0 {
		t.Fatalf("code %d, %v: %s", code, err, errOut.String())
	}
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<!DOCTYPE html>", `<section id="timeline">`, "<svg", "rec-4", "sb-1", "seed 3"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if !strings.Contains(out.String(), "html report "+path) {
		t.Errorf("the summary does not name the page:\n%s", out.String())
	}
	// The same flags write the same page.
	again := filepath.Join(t.TempDir(), "again.html")
	if _, err := run(append(short, "-html", again, "-json"), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if page2, _ := os.ReadFile(again); !bytes.Equal(page, page2) {
		t.Error("the same run writes a different page")
	}
}

// TestCPUProfileFlag: -cpuprofile writes a profile go tool pprof reads (a
// gzipped protocol buffer) and changes nothing of the run; a path it
// cannot create is an error.
func TestCPUProfileFlag(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.prof")
	var out, plain bytes.Buffer
	if code, err := run(append(short, "-json", "-cpuprofile", path), &out, io.Discard); err != nil || code != 0 {
		t.Fatalf("code %d, %v", code, err)
	}
	prof, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(prof) < 2 || prof[0] != 0x1f || prof[1] != 0x8b {
		t.Errorf("the profile is not gzipped: % x", prof[:min(len(prof), 8)])
	}
	if _, err := run(append(short, "-json"), &plain, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), plain.Bytes()) {
		t.Error("the profiled run reports differently")
	}
	if code, err := run(append(short, "-cpuprofile", filepath.Join(t.TempDir(), "no", "such", "dir")), io.Discard, io.Discard); err == nil || code != 1 {
		t.Errorf("an uncreatable profile: code %d, %v; want 1 and an error", code, err)
	}
}

func TestViolationExitsWithReplay(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		args := slices.Clone(short)
		if asJSON {
			args = append(args, "-json")
		}
		var out, errOut bytes.Buffer
		code, err := runWith(args, &out, &errOut, options{adjust: lie})
		if err != nil || code != 1 {
			t.Fatalf("code %d, %v, want 1: %s", code, err, errOut.String())
		}
		for _, want := range []string{"FAIL: invariant 5 violated at", "seed 3", "replay: go run ./simulator/cmd/nvrsim -seed 3 -duration 3m0s"} {
			if !strings.Contains(errOut.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
			}
		}
		if asJSON {
			var r simulator.Report
			if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.Violation == nil || r.Violation.Invariant != 5 {
				t.Errorf("-json: %v, violation %+v", err, r.Violation)
			}
		} else if !strings.Contains(out.String(), "invariant 5 violated") {
			t.Errorf("the summary lacks the violation:\n%s", out.String())
		}
	}
}

func TestFailedExpectationExits1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "quiet.nvrsim")
	if err := os.WriteFile(path, []byte("duration 1m\ngroups 1\nrecording 2 cameras 4\nstandby 1\nexpect takeover rec-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code, err := run([]string{"-scenario", path}, &out, &errOut)
	if err != nil || code != 1 {
		t.Fatalf("code %d, %v, want 1", code, err)
	}
	for _, want := range []string{"FAIL: expectation on line 5 did not hold, seed 1: expect takeover rec-1", "replay: go run ./simulator/cmd/nvrsim -seed 1"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
}

func TestCompareSideBySide(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cmp.html")
	var out, errOut bytes.Buffer
	code, err := run(append(short, "-compare", "-seeds", "2", "-html", path), &out, &errOut)
	if err != nil || code != 0 {
		t.Fatalf("code %d, %v: %s%s", code, err, out.String(), errOut.String())
	}
	text := out.String()
	for _, want := range []string{"seeds 3-4 (2 worlds)", "consecutive-miss", "phi-accrual", "time to detect p99", "gap per camera p50",
		"false takeovers", "camera availability", "baseline ÷ nvrha", "nvrha all held, baseline all held, oracle all held",
		"avoidable loss", "scarcity efficiency", "by first fault of the incident", "oracle: consecutive-miss"} {
		if !strings.Contains(text, want) {
			t.Errorf("comparison lacks %q:\n%s", want, text)
		}
	}
	header := regexp.MustCompile(`(?m)^\s*measure\s+nvrha\s+baseline\s+oracle\s+baseline ÷ nvrha\s*$`)
	if !header.MatchString(text) {
		t.Errorf("no three-column header:\n%s", text)
	}
	detect := regexp.MustCompile(`(?m)^\s*time to detect p50\s+(\d+\.\d+)s\s+(\d+\.\d+)s\s+(\d+\.\d+)s\s+(\d+\.\d+)x\s*$`).FindStringSubmatch(text)
	if detect == nil {
		t.Fatalf("no detection row with the three columns and a ratio:\n%s", text)
	}
	// The first world's three reports, each its own side's.
	stem := strings.TrimSuffix(path, ".html")
	for _, p := range []struct{ path, center string }{
		{path, "phi-accrual"}, {stem + "-baseline.html", "consecutive-miss (probe 500ms"},
		{stem + "-oracle.html", `<span class="pill">oracle</span>`},
	} {
		page, err := os.ReadFile(p.path)
		if err != nil {
			t.Error(err)
			continue
		}
		if !bytes.Contains(page, []byte("seed 3")) || !bytes.Contains(page, []byte(p.center)) {
			t.Errorf("%s is not seed 3's report with %q", p.path, p.center)
		}
	}
	if !strings.Contains(text, "html reports "+path+", "+stem+"-baseline.html and "+stem+"-oracle.html (seed 3)") {
		t.Errorf("the comparison does not name the three pages:\n%s", text)
	}
	for _, want := range []string{"95% intervals of a paired bootstrap", "(2000 resamples of the 2 worlds)", "all footage"} {
		if !strings.Contains(text, want) {
			t.Errorf("comparison lacks %q:\n%s", want, text)
		}
	}

	out.Reset()
	if code, err := run(append(short, "-compare", "-json"), &out, &errOut); err != nil || code != 0 {
		t.Fatalf("code %d, %v", code, err)
	}
	var got struct {
		Seeds    []uint64
		NVRHA    compare.Summary
		Baseline compare.Summary
		Oracle   compare.Summary
		Classes  []compare.ClassRow
		Paired   compare.Overall `json:"paired_bootstrap"`
		Rows     []struct {
			Measure string
			Ratio   *float64
		}
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.NVRHA.Runs != 1 || got.Baseline.Runs != 1 || got.Oracle.Runs != 1 ||
		!strings.HasPrefix(got.Baseline.Detector, "consecutive-miss") || len(got.Rows) == 0 || len(got.Classes) == 0 {
		t.Errorf("comparison JSON %+v", got)
	}
	if got.Paired.Worlds != 1 || got.Paired.Resamples != compare.Resamples || got.Paired.Avoidable == nil {
		t.Errorf("paired bootstrap in the JSON %+v", got.Paired)
	}
	for _, c := range got.Classes {
		if lost := c.NVRHA.FootageLost - c.Baseline.FootageLost; c.Paired.Difference.Estimate != lost {
			t.Errorf("class %s: difference %v in the bootstrap, %v in the table", c.Class, c.Paired.Difference.Estimate, lost)
		}
	}
}

func TestCompareFailureExits1(t *testing.T) {
	var out, errOut bytes.Buffer
	code, err := runWith(append(short, "-compare"), &out, &errOut, options{adjust: lie})
	if err != nil || code != 1 {
		t.Fatalf("code %d, %v, want 1", code, err)
	}
	if !strings.Contains(errOut.String(), "-baseline") || !strings.Contains(errOut.String(), "-oracle") ||
		strings.Count(errOut.String(), "replay: ") != 3 {
		t.Errorf("want the three runs' replay commands, the baseline's with -baseline, the oracle's with -oracle:\n%s", errOut.String())
	}
}

func TestProgressBar(t *testing.T) {
	var out, errOut bytes.Buffer
	if code, err := run(append(short, "-progress"), &out, &errOut); err != nil || code != 0 {
		t.Fatalf("code %d, %v", code, err)
	}
	if !strings.Contains(errOut.String(), "/180, ") || !strings.Contains(errOut.String(), "seed 3") {
		t.Errorf("no progress bar on stderr: %q", errOut.String())
	}
	if strings.Contains(out.String(), "simulated s") {
		t.Error("the progress bar went to stdout")
	}
	// Off by default when stderr is not a terminal.
	errOut.Reset()
	if _, err := run(short, io.Discard, &errOut); err != nil {
		t.Fatal(err)
	}
	if errOut.Len() != 0 {
		t.Errorf("stderr %q, want nothing", errOut.String())
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-seeds", "2", "-trace", "x"},
		{"-seeds", "2", "-html", "x"},
		{"-seeds", "2", "-parallel", "0"},
		{"-centers", "9"},
		{"-centers", "2", "-lease", "10ms"},
		{"-compare", "-baseline"},
		{"-compare", "-oracle"},
		{"-oracle", "-baseline"},
		{"-compare", "-trace", "x"},
		{"-net", "lunar"},
		{"-faults", "meteor"},
		{"-progress=sometimes"},
		{"extra"},
	} {
		if code, _ := run(args, io.Discard, io.Discard); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// TestSeedsPooled: -seeds N runs N worlds of several centers and prints
// them pooled, as text and as JSON, the same whatever runs at a time;
// every world's replay names its centers.
func TestSeedsPooled(t *testing.T) {
	args := []string{"-seed", "2", "-seeds", "3", "-centers", "3", "-duration", "4m", "-random-world", "-rate", "4",
		"-hold-down", "10s", "-quiet-tail", "1m", "-tolerate", "all"}
	var out, errOut bytes.Buffer
	code, err := run(args, &out, &errOut)
	if err != nil || code != 0 {
		t.Fatalf("code %d, %v: %s%s", code, err, out.String(), errOut.String())
	}
	for _, want := range []string{"3 seeds from 2, 3 centers", "passed                  3 of 3", "double takeovers        0",
		"old-term orders obeyed  0", "protection resumed", "covered in failover", "elections"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	var one, two bytes.Buffer
	if _, err := run(append(args, "-json"), &one, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := run(append(args, "-json", "-parallel", "2"), &two, io.Discard); err != nil {
		t.Fatal(err)
	}
	var b batch
	if err := json.Unmarshal(one.Bytes(), &b); err != nil || b.Seeds != 3 || b.Passed != 3 || b.CenterFailovers == nil || b.CenterFailovers.Elections < 3 {
		t.Errorf("%v: %+v", err, b)
	}
	if !bytes.Equal(one.Bytes(), two.Bytes()) {
		t.Error("the pooled JSON depends on how many worlds run at a time")
	}
}

// TestSeedsFailureExits1: a pooled batch in which a world breaks an
// invariant exits 1 and prints that world's replay command.
func TestSeedsFailureExits1(t *testing.T) {
	var out, errOut bytes.Buffer
	code, err := runWith(append(short, "-seeds", "2"), &out, &errOut, options{adjust: lie})
	if err != nil || code != 1 {
		t.Fatalf("code %d, %v, want 1", code, err)
	}
	if !strings.Contains(out.String(), "violations              invariant 5: 2") || strings.Count(errOut.String(), "replay: ") != 2 {
		t.Errorf("out:\n%s\nerr:\n%s", out.String(), errOut.String())
	}
}
