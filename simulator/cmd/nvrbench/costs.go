package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nvrha/nvrha/failover/detector"
	"github.com/nvrha/nvrha/internal/perf"
	"github.com/nvrha/nvrha/simulator"
)

// The server counts each cost is measured at, to show how it grows.
var machineSizes = []int{8, 64, 256, 1024}

// machineCosts measures the Machine's costs with testing.Benchmark: the
// same functions `go test -bench` runs in internal/perf.
func machineCosts() []row {
	var rows []row
	for _, n := range machineSizes {
		r := testing.Benchmark(perf.ProbeResults(n))
		rate := float64(r.N) / r.T.Seconds()
		rw := row{Figure: fmt.Sprintf("Machine probe results/s, %d servers (1 core)", n), Target: ">= 1,000,000",
			Measured: fmt.Sprintf("%.0f (%d allocs/probe)", rate, r.AllocsPerOp())}
		if n == 1024 {
			rw.Met = verdict(rate >= 1e6 && r.AllocsPerOp() == 0)
		}
		rows = append(rows, rw)
	}
	for _, gs := range [][2]int{{1, 8}, {1, 64}, {4, 64}, {16, 64}} {
		r := testing.Benchmark(perf.Tick(gs[0], gs[1]))
		per := time.Duration(r.NsPerOp())
		rw := row{Figure: fmt.Sprintf("one Tick, %d x %d servers", gs[0], gs[1]), Target: "<= 100µs (16 x 64)",
			Measured: per.String()}
		if gs[0] == 16 {
			rw.Met = verdict(per <= 100*time.Microsecond)
		}
		rows = append(rows, rw)
	}
	for _, f := range []int{1, 8, 32} {
		r := testing.Benchmark(perf.Assignment(f))
		per := time.Duration(r.Extra[perf.AssignMetric])
		rw := row{Figure: fmt.Sprintf("the Tick that detects %d failures and assigns standbys, 64-server group", f),
			Target: "<= 50µs (32 failures)", Measured: per.String()}
		if f == 32 {
			rw.Met = verdict(per <= 50*time.Microsecond)
		}
		rows = append(rows, rw)
	}
	for _, n := range []int{8, 64, 1024} {
		var bytes float64
		testing.Benchmark(func(b *testing.B) {
			for range b.N {
				bytes = perf.MemoryPerServer(b, n)
			}
		})
		rows = append(rows, row{Figure: fmt.Sprintf("Machine memory per server, %d servers", n), Target: "<= 4096 B",
			Measured: fmt.Sprintf("%.0f B", bytes), Met: verdict(bytes <= 4096)})
	}
	return append(rows, persistCosts()...)
}

// persistCosts measures the bytes a FileStore writes per persisted change
// (a failure, takeover and failback at a time) as Changes, against saving
// the whole State, at 64 and 1,024 servers: the same function
// BenchmarkPersist runs in internal/perf.
func persistCosts() []row {
	var rows []row
	for _, n := range []int{64, 1024} {
		var r perf.PersistResult
		testing.Benchmark(func(b *testing.B) {
			for range b.N {
				r = perf.Persist(b, b.TempDir(), max(n/64, 1), min(n, 64), 2, true)
			}
		})
		d, f := r.BytesPerChange()
		rw := row{Figure: fmt.Sprintf("bytes written per persisted change, %d servers (FileStore log; baseline: the whole State)", n),
			Measured: fmt.Sprintf("%.0f B", d), Baseline: fmt.Sprintf("%.0f B", f), Ratio: fmt.Sprintf("%.4f", r.Ratio())}
		if n == 1024 {
			rw.Target, rw.Met = "<= 1% of the whole State", verdict(r.Ratio() <= 0.01)
		}
		rows = append(rows, rw)
	}
	return rows
}

// simSpeed runs the noisy-LAN world with groups copies of its group, each
// of rec recording servers and sb standbys (56 and 8 in the scenario), for
// simulated time warm, untimed, then for d, and returns simulated seconds
// per wall second of the second part.
func simSpeed(groups, rec, sb int, warm, d time.Duration) (float64, error) {
	// The scenario's header, with as many groups and servers as asked.
	text := strings.NewReplacer("\ngroups 1\n", fmt.Sprintf("\ngroups %d\n", groups),
		"\nrecording 56 ", fmt.Sprintf("\nrecording %d ", rec), "\nstandby 8 ", fmt.Sprintf("\nstandby %d ", sb),
	).Replace(simulator.NoisyLANScenario().String())
	sc, err := simulator.ParseScenario(strings.NewReader(text))
	if err != nil {
		return 0, err
	}
	var cfg simulator.Config
	cfg.ApplyScenario(sc)
	cfg.Seed, cfg.Duration = 1, warm+d
	w, err := simulator.New(cfg)
	if err != nil {
		return 0, err
	}
	w.RunUntil(warm)
	start := time.Now()
	r := w.Run()
	wall := time.Since(start)
	if r.Violation != nil {
		return 0, fmt.Errorf("%d-group world: %v", groups, r.Violation)
	}
	return (r.Simulated - warm).Seconds() / wall.Seconds(), nil
}

func simCosts(quick bool) ([]row, error) {
	long, short := 2*time.Hour, 5*time.Minute
	if quick {
		long, short = 10*time.Minute, 30*time.Second
	}
	var rows []row
	for _, c := range []struct {
		groups, rec, sb int
		warm, d         time.Duration
		target          float64
	}{
		{1, 7, 1, 0, long, 0},
		{1, 56, 8, 0, long, 10000},
		{4, 56, 8, 0, short, 0},
		{16, 56, 8, 0, short, 300},
		// The start of a large center is quadratic in the simulator: the
		// simulated center persists its State after each server's first
		// answer, where the Controller would batch them.
		{16, 56, 8, 30 * time.Second, short, 0},
	} {
		x, err := simSpeed(c.groups, c.rec, c.sb, c.warm, c.d)
		if err != nil {
			return nil, err
		}
		after := ""
		if c.warm > 0 {
			after = fmt.Sprintf(", after its first %s", c.warm)
		}
		r := row{Figure: fmt.Sprintf("simulator speed, %d servers (noisy LAN, %s%s)", c.groups*(c.rec+c.sb), c.d, after),
			Measured: fmt.Sprintf("%.0fx", x)}
		if c.target > 0 {
			r.Target, r.Met = fmt.Sprintf(">= %.0fx", c.target), verdict(x >= c.target)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// httpCosts measures the controller's CPU probing n agents on loopback at
// the default probe interval with httptransport's defaults (probes over
// UDP, HTTP as fallback), the agents in a child process; at 1,024 agents
// also with every probe over HTTP (the baseline column).
func httpCosts(quick bool) ([]row, error) {
	sizes := []int{8, 64, 256, 1024}
	window := 5 * time.Second
	if quick {
		sizes, window = []int{8, 64}, 2*time.Second
	}
	var rows []row
	for _, n := range sizes {
		r, err := perf.HTTPProbeCost(n, detector.DefaultProbeInterval, window)
		if err != nil {
			return nil, fmt.Errorf("probing %d agents: %w", n, err)
		}
		rw := row{Figure: fmt.Sprintf("controller CPU probing %d agents every %v (httptransport defaults; baseline: every probe over HTTP)",
			n, detector.DefaultProbeInterval),
			Target: "<= 10% of a core (1,024)", Measured: fmt.Sprintf("%.1f%% (%.0f µs/probe)", r.CPUPercent(), r.CPUPerProbe())}
		if n == 1024 {
			rw.Met = verdict(r.CPUPercent() <= 10)
			b, err := perf.HTTPProbe(perf.HTTPProbeConfig{Agents: n, Window: window, HTTPOnly: true})
			if err == nil {
				err = b.Check()
			}
			if err != nil {
				return nil, fmt.Errorf("probing %d agents over HTTP only: %w", n, err)
			}
			rw.Baseline = fmt.Sprintf("%.1f%% (%.0f µs/probe)", b.CPUPercent(), b.CPUPerProbe())
			rw.Ratio = fmt.Sprintf("%.2f", r.CPUPercent()/b.CPUPercent())
		}
		rows = append(rows, rw)
	}
	return rows, nil
}
