package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover/assign"
)

// bruteForce tries every way to give each recording server a standby or
// none.
func bruteForce(recs []assign.Recording, sbs []assign.Standby) score {
	var best score
	used := make([]bool, len(sbs))
	var walk func(i int, s score)
	walk = func(i int, s score) {
		if i == len(recs) {
			if s.better(best) {
				best = s
			}
			return
		}
		walk(i+1, s)
		for j, sb := range sbs {
			if !used[j] && sb.Channels >= recs[i].Channels {
				used[j] = true
				walk(i+1, score{s.servers + 1, s.channels + recs[i].Channels})
				used[j] = false
			}
		}
	}
	walk(0, score{})
	return best
}

// The optimum the benchmark compares nvrha with is itself checked against
// brute force on small groups.
func TestOptimumIsTheBruteForceOptimum(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for k := range 300 {
		recs := make([]assign.Recording, 1+rng.IntN(6))
		for i := range recs {
			recs[i] = assign.Recording{ID: nvrha.ServerID(fmt.Sprint("r", i)), Channels: 8 * (1 + rng.IntN(6))}
		}
		sbs := make([]assign.Standby, rng.IntN(5))
		for i := range sbs {
			sbs[i] = assign.Standby{ID: nvrha.ServerID(fmt.Sprint("s", i)), Channels: 8 * (1 + rng.IntN(6))}
		}
		if got, want := optimum(recs, sbs), bruteForce(recs, sbs); got != want {
			t.Fatalf("instance %d: optimum %+v, brute force %+v\nrecs %+v\nstandbys %+v", k, got, want, recs, sbs)
		}
	}
}

func TestAssignSection(t *testing.T) {
	var out, errOut bytes.Buffer
	code, err := run(context.Background(), []string{"-only", "assign", "-quick", "-json"}, &out, &errOut)
	if err != nil || code != 0 {
		t.Fatalf("code %d, err %v\n%s", code, err, errOut.String())
	}
	var rows []row
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Met != "yes" || !strings.Contains(rows[0].Measured, "optimum in 3/3") {
		t.Fatalf("rows: %+v", rows)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-only", "nope"}, {"-day", "0s"}, {"-workers", "0"}, {"-incidents", "-1"}} {
		var out, errOut bytes.Buffer
		if code, _ := run(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// TestCampaignGoesOnFromItsRunsFile: a campaign with -runs appends every
// world; run again with larger targets it pools those worlds without
// running them and goes on from the next seed, to the same figures as one
// campaign run straight through.
func TestCampaignGoesOnFromItsRunsFile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs noisy-LAN worlds")
	}
	runs := filepath.Join(t.TempDir(), "campaign.jsonl")
	// A world of 64 servers for a minute holds 0.044 server-days.
	campaign := func(serverDays string, extra ...string) ([]row, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		args := append([]string{"-only", "campaign", "-day", "1m", "-incidents", "0", "-server-days", serverDays,
			"-workers", "2", "-json"}, extra...)
		code, err := run(context.Background(), args, &out, &errOut)
		if err != nil || code != 0 {
			t.Fatalf("%v: code %d, err %v\n%s", args, code, err, errOut.String())
		}
		var rows []row
		if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
			t.Fatal(err)
		}
		return rows, errOut.String()
	}
	lines := func() int {
		b, err := os.ReadFile(runs)
		if err != nil {
			t.Fatal(err)
		}
		return bytes.Count(b, []byte("\n"))
	}

	campaign("0.1", "-runs", runs)
	first := lines()
	if first < 3 || first%3 != 0 {
		t.Fatalf("%d lines after the first campaign; want three per world", first)
	}
	straight, _ := campaign("0.2")
	resumed, progress := campaign("0.2", "-runs", runs)
	if !strings.Contains(progress, fmt.Sprintf("%d worlds from %s", first/3, runs)) {
		t.Errorf("the resumed campaign did not pool the %d worlds of its file:\n%s", first/3, progress)
	}
	if lines() <= first {
		t.Errorf("the resumed campaign appended nothing (%d lines)", lines())
	}
	// The header row names the wall time; every figure must match.
	if !slices.Equal(straight[1:], resumed[1:]) {
		t.Errorf("straight through:\n%+v\nresumed:\n%+v", straight, resumed)
	}
	// Nothing left to run: the file stays as it is.
	before := lines()
	campaign("0.2", "-runs", runs)
	if lines() != before {
		t.Errorf("a campaign already reached ran more worlds: %d lines, was %d", lines(), before)
	}
}

// TestStoppedCampaignPrintsWhatItPooled: a campaign whose context ends (an
// interrupt) pools no world cut short and still prints its table.
func TestStoppedCampaignPrintsWhatItPooled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	code, err := run(ctx, []string{"-only", "campaign", "-day", "1m", "-json"}, &out, &errOut)
	if err != nil || code != 0 {
		t.Fatalf("code %d, err %v\n%s", code, err, errOut.String())
	}
	var rows []row
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 || !strings.Contains(rows[0].Figure, "0 worlds") || !strings.Contains(rows[0].Figure, "stopped early") {
		t.Fatalf("rows: %+v", rows)
	}
}
