package main

import (
	"context"
	"fmt"
	"io"
	"slices"
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
}

// campaign is what the worlds pooled, in seed order.
type campaign struct {
	cmp *compare.Comparison
	// crashes counts nvrha's crash incidents; serverDays the server time
	// outside every crash, in days.
	crashes    int
	serverDays float64
	// falseNV and falseBL count the servers declared failed, by nvrha and
	// by the baseline, that had only paused within the acceptable pause or
	// lost a few messages to the LAN's noise: the simulator stops such a
	// world at once (invariant 7), and its figures up to then are pooled.
	falseNV, falseBL int
	// failures are the worlds stopped by any other violation.
	failures []*simulator.Report
	wall     time.Duration
	// complete is false when maxWall stopped the campaign first.
	complete bool
}

type pair struct {
	seed   uint64
	nv, bl *simulator.Report
	err    error
}

// runCampaign runs noisy-LAN worlds, seeds firstSeed, firstSeed+1, ..., on
// workers goroutines, each with nvrha and with the baseline, and pools them
// in seed order until both amounts are reached. Pooling in seed order keeps
// the result the same whatever the scheduling: worlds finished beyond the
// last one needed are dropped.
func runCampaign(ctx context.Context, cfg campaignConfig, progress io.Writer) (*campaign, error) {
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.maxWall > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, cfg.maxWall)
		defer stop()
	}
	seeds := make(chan uint64)
	done := make(chan pair)
	var wg sync.WaitGroup
	for range cfg.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range seeds {
				done <- runWorld(seed, cfg.day)
			}
		}()
	}
	go func() {
		defer close(seeds)
		for s := cfg.firstSeed; ; s++ {
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

	c := &campaign{cmp: compare.New()}
	waiting := map[uint64]pair{}
	next := cfg.firstSeed
	reached := func() bool { return c.crashes >= cfg.incidents && c.serverDays >= cfg.serverDays }
	var firstErr error
	last := time.Now()
	for p := range done {
		if reached() || firstErr != nil {
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

func runWorld(seed uint64, day time.Duration) pair {
	var cfg simulator.Config
	simulator.NoisyLANScenario().Apply(&cfg)
	cfg.ScenarioPath = "simulator/scenarios/noisy-lan.nvrsim"
	cfg.Seed, cfg.Duration = seed, day
	nvCfg, blCfg := compare.Pair(cfg)
	p := pair{seed: seed}
	for _, side := range []struct {
		cfg simulator.Config
		out **simulator.Report
	}{{nvCfg, &p.nv}, {blCfg, &p.bl}} {
		w, err := simulator.New(side.cfg)
		if err != nil {
			p.err = fmt.Errorf("seed %d: %w", seed, err)
			return p
		}
		*side.out = w.Run()
	}
	return p
}

func (c *campaign) add(p pair) {
	c.cmp.Add(p.nv, p.bl)
	var crashed time.Duration
	for _, inc := range p.nv.Incidents {
		if slices.Contains(inc.Faults, simulator.FaultCrash) {
			c.crashes++
			crashed += inc.Closed - inc.Start
		}
	}
	servers := len(p.nv.World.Servers())
	c.serverDays += (time.Duration(servers)*p.nv.Simulated - crashed).Hours() / 24
	for i, r := range []*simulator.Report{p.nv, p.bl} {
		switch v := r.Violation; {
		case v == nil:
		case v.Invariant == 7 && strings.Contains(v.Detail, "only paused within the acceptable pause"):
			if i == 0 {
				c.falseNV++
			} else {
				c.falseBL++
			}
		default:
			c.failures = append(c.failures, r)
		}
	}
}
