package simulator

import (
	"flag"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	sweepSeeds         = flag.Int("sim.sweep", 200, "seeds of the default world in TestSeedSweep")
	sweepScenarioSeeds = flag.Int("sim.sweep-scenarios", 100, "seeds of every shipped scenario in TestSeedSweep (20 of a campaign's world)")
)

// sweepRun is one world of the seed sweep.
type sweepRun struct {
	name string
	cfg  Config
}

// sweepRuns are the worlds of TestSeedSweep: the default world (one group
// of 14 recording servers and 2 standbys, an hour) under the default faults
// for seeds 1 to -sim.sweep, and every shipped scenario for seeds 1 to
// -sim.sweep-scenarios (a campaign's day-long world of 64 servers for 10
// minutes and 20 seeds at most: it costs as much as all the others).
func sweepRuns(t *testing.T) []sweepRun {
	var runs []sweepRun
	for seed := uint64(1); seed <= uint64(*sweepSeeds); seed++ {
		runs = append(runs, sweepRun{fmt.Sprintf("default seed %d", seed), Config{Seed: seed, Nemesis: NemesisConfig{Enabled: true}}})
	}
	files, err := filepath.Glob("scenarios/*.nvrsim")
	if err != nil || len(files) == 0 {
		t.Fatalf("no shipped scenarios: %v", err)
	}
	for _, f := range files {
		sc, err := ParseScenarioFile(f)
		if err != nil {
			t.Fatal(err)
		}
		seeds := uint64(*sweepScenarioSeeds)
		campaign := sc.Duration > time.Hour
		if campaign {
			seeds = min(seeds, 20)
		}
		for seed := uint64(1); seed <= seeds; seed++ {
			// The replay command runs from the repository's root.
			cfg := Config{Seed: seed, ScenarioPath: filepath.Join("simulator", f)}
			cfg.ApplyScenario(sc)
			if campaign {
				cfg.Duration = 10 * time.Minute
			}
			runs = append(runs, sweepRun{fmt.Sprintf("%s seed %d", filepath.Base(f), seed), cfg})
		}
	}
	return runs
}

// TestSeedSweep runs many seeds of the default world under the default
// faults and every shipped scenario over many seeds, with every invariant
// checked and no known issue tolerated: a checker that cries wolf on some
// seed, or a scenario whose expectations hold only for lucky seeds, fails
// it. Every failure names the seed and the command that replays it.
//
// It takes about a minute on two cores without the race detector and is
// skipped under it (some twenty times slower); scripts/test runs it
// separately:
//
//	go test -count=1 -run TestSeedSweep ./simulator/
func TestSeedSweep(t *testing.T) {
	if raceEnabled {
		t.Skip("too slow under the race detector: go test -count=1 -run TestSeedSweep ./simulator/")
	}
	if testing.Short() {
		t.Skip("a sweep of hundreds of worlds")
	}
	t.Parallel()
	runs := sweepRuns(t)
	failures := make([]string, len(runs))
	var wg sync.WaitGroup
	next := make(chan int)
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				failures[i] = sweepOne(runs[i])
			}
		}()
	}
	for i := range runs {
		next <- i
	}
	close(next)
	wg.Wait()
	failed := 0
	for _, f := range failures {
		if f != "" {
			failed++
			t.Error(f)
		}
	}
	t.Logf("%d worlds in %s, %d failed", len(runs), time.Since(start).Round(time.Second), failed)
}

// sweepOne runs one world and describes what went wrong, or "".
func sweepOne(r sweepRun) string {
	w, err := New(r.cfg)
	if err != nil {
		return r.name + ": " + err.Error()
	}
	rep := w.Run()
	if rep.Violation != nil {
		return fmt.Sprintf("%s: %v", r.name, rep.Violation)
	}
	var bad []string
	for _, e := range rep.Expectations {
		if !e.OK {
			bad = append(bad, fmt.Sprintf("line %d: %s: %s", e.Line, e.Text, e.Detail))
		}
	}
	if len(rep.KnownIssues) > 0 {
		bad = append(bad, fmt.Sprintf("known issues: %+v", rep.KnownIssues))
	}
	if len(bad) == 0 {
		return ""
	}
	return fmt.Sprintf("%s: %s\n  replay: %s", r.name, strings.Join(bad, "; "), rep.Replay)
}
