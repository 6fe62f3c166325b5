package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nvrha/nvrha/simulator"
	"github.com/nvrha/nvrha/simulator/cmd/internal/compare"
)

// campaignConfig says how much of the noisy-LAN scenario to pool.
type campaignConfig struct {
	firstSeed  uint64
	day        time.Duration // simulated time of each world
	incidents  int           // crash incidents to reach (nvrha's side)
	serverDays float64       // server-days without a crash to reach
	workers    int
	maxWall    time.Duration // stop early, with what was reached, after this long
	// runsPath, if set, is a file of runs (compare.WriteRun lines): the
	// pairs in it from firstSeed on are pooled without running them again,
	// and every pair run is appended to it.
	runsPath string
}

// campaign is what the worlds pooled, in seed order.
type campaign struct {
	cmp *compare.Comparison
	// crashes counts nvrha's crash incidents; serverDays the server time
	// outside every crash, in days.
	crashes    int
	serverDays float64
	// falseTakeovers counts the servers declared failed, by nvrha, the
	// baseline and the oracle, that had only paused within the acceptable
	// pause or lost a few messages to the LAN's noise: the simulator stops
	// such a world at once (invariant 7), and its figures up to then are
	// pooled.
	falseTakeovers [3]int
	// failures are the runs stopped by any other violation.
	failures []compare.Run
	wall     time.Duration
	// complete is false when maxWall stopped the campaign first.
	complete bool
}

// world is one seed's runs: nvrha's, the baseline's and the oracle's.
type world struct {
	seed uint64
	runs [3]compare.Run
	err  error
	// cut marks a world the campaign stopped before its end: never pooled.
	cut bool
}

// runCampaign runs noisy-LAN worlds, seeds firstSeed, firstSeed+1, ..., on
// workers goroutines, each with nvrha, the baseline and the oracle (the
// same plan of faults on each), and pools them in seed order until both
// amounts are reached. Pooling in seed order keeps the result the same
// whatever the scheduling: worlds finished beyond the last one needed are
// dropped.
func runCampaign(ctx context.Context, cfg campaignConfig, progress io.Writer) (*campaign, error) {
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.maxWall > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, cfg.maxWall)
		defer stop()
	}
	c := &campaign{cmp: compare.New()}
	reached := func() bool { return c.crashes >= cfg.incidents && c.serverDays >= cfg.serverDays }
	next := cfg.firstSeed
	var out *os.File
	if cfg.runsPath != "" {
		f, worlds, err := openRuns(cfg.runsPath)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		out = f
		loaded := 0
		for ; !reached(); next++ {
			p, ok := worlds[next]
			if !ok {
				break
			}
			c.add(p)
			loaded++
		}
		if loaded > 0 {
			fmt.Fprintf(progress, "noisy LAN: %d worlds from %s, %d crash incidents, %.0f server-days without a crash\n",
				loaded, cfg.runsPath, c.crashes, c.serverDays)
		}
		if reached() {
			c.complete = true
			c.wall = time.Since(start)
			return c, nil
		}
	}
	seeds := make(chan uint64)
	done := make(chan world)
	var wg sync.WaitGroup
	for range cfg.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range seeds {
				done <- runWorld(ctx, seed, cfg.day)
			}
		}()
	}
	go func() {
		defer close(seeds)
		for s := next; ; s++ {
			select {
			case seeds <- s:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(done)
	}()

	waiting := map[uint64]world{}
	var firstErr error
	last := time.Now()
	for p := range done {
		if reached() || firstErr != nil || p.cut || ctx.Err() != nil {
			continue // draining the workers
		}
		waiting[p.seed] = p
		for {
			q, ok := waiting[next]
			if !ok {
				break
			}
			delete(waiting, next)
			next++
			if q.err == nil && out != nil {
				q.err = appendWorld(out, q)
			}
			if q.err != nil {
				firstErr = q.err
				cancel()
				break
			}
			c.add(q)
			if reached() {
				c.complete = true
				cancel()
				break
			}
		}
		if time.Since(last) > 5*time.Second || c.complete {
			last = time.Now()
			fmt.Fprintf(progress, "noisy LAN: %d worlds, %d crash incidents, %.0f server-days without a crash (%s)\n",
				len(c.cmp.Seeds), c.crashes, c.serverDays, time.Since(start).Round(time.Second))
		}
	}
	c.wall = time.Since(start)
	if firstErr != nil {
		return nil, firstErr
	}
	return c, nil
}

// runWorld runs one world with nvrha, the baseline and the oracle. A
// campaign stopped (ctx done) cuts it short, a simulated hour at most
// later.
func runWorld(ctx context.Context, seed uint64, day time.Duration) world {
	var cfg simulator.Config
	cfg.ApplyScenario(simulator.NoisyLANScenario())
	cfg.ScenarioPath = "simulator/scenarios/noisy-lan.nvrsim"
	cfg.Seed, cfg.Duration = seed, day
	nvCfg, blCfg := compare.Pair(cfg)
	p := world{seed: seed}
	for i, c := range []simulator.Config{nvCfg, blCfg, compare.Oracle(cfg)} {
		w, err := simulator.New(c)
		if err != nil {
			p.err = fmt.Errorf("seed %d: %w", seed, err)
			return p
		}
		for t := time.Hour; w.RunUntil(t); t += time.Hour {
			if ctx.Err() != nil {
				p.cut = true
				return p
			}
		}
		p.runs[i] = compare.RunOf(w.Report())
	}
	return p
}

// openRuns opens the runs file at path for appending, creating it if need
// be, and returns the worlds it holds whole (all three runs) by seed. A
// last line cut short is cut off, so that the next line appended starts
// clean.
func openRuns(path string) (*os.File, map[uint64]world, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, err
	}
	runs, good, err := compare.ReadRuns(f)
	if err == nil {
		err = f.Truncate(good)
	}
	if err == nil {
		_, err = f.Seek(good, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	var bySide [3]map[uint64]compare.Run
	for i := range bySide {
		bySide[i] = map[uint64]compare.Run{}
	}
	for _, r := range runs {
		switch {
		case r.Baseline:
			bySide[1][r.Seed] = r
		case r.Oracle:
			bySide[2][r.Seed] = r
		default:
			bySide[0][r.Seed] = r
		}
	}
	worlds := map[uint64]world{}
	for seed, n := range bySide[0] {
		b, okB := bySide[1][seed]
		o, okO := bySide[2][seed]
		if okB && okO {
			worlds[seed] = world{seed: seed, runs: [3]compare.Run{n, b, o}}
		}
	}
	return f, worlds, nil
}

// appendWorld writes the three runs of a world, nvrha's first, in one
// write.
func appendWorld(f *os.File, p world) error {
	var b bytes.Buffer
	for _, r := range p.runs {
		if err := compare.WriteRun(&b, r); err != nil {
			return err
		}
	}
	if _, err := f.Write(b.Bytes()); err != nil {
		return fmt.Errorf("writing runs: %w", err)
	}
	return nil
}

func (c *campaign) add(p world) {
	nv := p.runs[0]
	c.cmp.AddRuns(nv, p.runs[1], &p.runs[2])
	c.crashes += nv.Crashes
	c.serverDays += (time.Duration(nv.Servers)*nv.Simulated - nv.Crashed).Hours() / 24
	for i, r := range p.runs {
		switch f := r.Failure; {
		case f == nil || f.Invariant == 0:
			// Only the scenario's expectations failed: "settled" does
			// not hold in a world shorter than the nemesis's quiet end.
		case f.Invariant == 7 && strings.Contains(f.Detail, "only paused within the acceptable pause"):
			c.falseTakeovers[i]++
		default:
			c.failures = append(c.failures, r)
		}
	}
}
