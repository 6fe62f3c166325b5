// Command nvrsim runs the deterministic failover simulator and prints its
// summary.
//
//	go run ./simulator/cmd/nvrsim -seed 7 -duration 1h -faults default
//	go run ./simulator/cmd/nvrsim -scenario simulator/scenarios/flapping-server.nvrsim
//
// The same flags give the same run, byte for byte; a run that breaks an
// invariant prints the replay command. -json prints the full report.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator"
)

func main() {
	code, err := run(os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nvrsim:", err)
	}
	os.Exit(code)
}

func run(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("nvrsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seed := fs.Uint64("seed", 1, "the run's seed")
	duration := fs.Duration("duration", simulator.DefaultDuration, "simulated time to run")
	groups := fs.Int("groups", 1, "Failover Groups")
	servers := fs.Int("servers", 14, "recording servers per group")
	standbys := fs.Int("standbys", 2, "standby servers per group")
	cameras := fs.Int("cameras", simulator.DefaultCameras, "cameras per recording server")
	faults := fs.String("faults", "default", `faults the nemesis draws: "none", "default" or a comma-separated list of kinds`)
	rate := fs.Float64("rate", 1, "multiplies every fault rate")
	scenario := fs.String("scenario", "", "scenario file to run (its header sets the world)")
	random := fs.Bool("random-world", false, "draw the world's shape from the seed")
	baseline := fs.Bool("baseline", false, "drive the world with the baseline poll/timeout detector")
	netName := fs.String("net", "quiet", `network: "quiet" or "noisy"`)
	asJSON := fs.Bool("json", false, "print the full report as JSON")
	trace := fs.String("trace", "", "write the event trace to this file")
	quietTail := fs.Duration("quiet-tail", 0, "no new faults in this last stretch of the run (default a fifth, at most 15m)")
	holdDown := fs.Duration("hold-down", 0, "failback hold-down (default 30s)")
	maxHoldDown := fs.Duration("max-hold-down", 0, "longest flap-damped hold-down (default 10m)")
	flapWindow := fs.Duration("flap-window", 0, "flap window of the hold-down doubling (default 10m)")
	tolerate := fs.String("tolerate", "", `known issues to record instead of failing on, comma-separated, or "all"`)
	if err := fs.Parse(args); err != nil {
		return 2, nil
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	cfg := simulator.Config{
		Seed: *seed, Duration: *duration, Baseline: *baseline, RandomWorld: *random,
		World: simulator.UniformWorld(*groups, *servers, *standbys, *cameras, 0, 0),
	}
	switch *netName {
	case "quiet":
		cfg.Net = simulator.QuietLAN()
	case "noisy":
		cfg.Net = simulator.NoisyLAN()
	default:
		return 2, fmt.Errorf("unknown -net %q", *netName)
	}
	nem, err := simulator.ParseFaults(*faults)
	if err != nil {
		return 2, err
	}
	nem.Rate = *rate
	nem.QuietTail = *quietTail
	cfg.Nemesis = nem
	fb := &cfg.Center.Failover.Failback
	fb.HoldDown, fb.MaxHoldDown, fb.FlapWindow = *holdDown, *maxHoldDown, *flapWindow
	cfg.FaultsFlag = *faults
	if *scenario != "" {
		sc, err := simulator.ParseScenarioFile(*scenario)
		if err != nil {
			return 2, err
		}
		cfg.Nemesis = simulator.NemesisConfig{}
		*fb = failover.FailbackPolicy{}
		sc.Apply(&cfg)
		cfg.ScenarioPath = *scenario
		// Explicit flags win over the scenario's header.
		if set["duration"] {
			cfg.Duration = *duration
		}
		if set["faults"] || set["rate"] {
			cfg.Nemesis = nem
		} else {
			cfg.FaultsFlag = ""
		}
		if set["baseline"] {
			cfg.Baseline = *baseline
		}
		for _, v := range []struct {
			name string
			dst  *time.Duration
			val  time.Duration
		}{{"hold-down", &fb.HoldDown, *holdDown}, {"max-hold-down", &fb.MaxHoldDown, *maxHoldDown}, {"flap-window", &fb.FlapWindow, *flapWindow}} {
			if set[v.name] {
				*v.dst = v.val
			}
		}
	}
	switch *tolerate {
	case "":
	case "all":
		for _, k := range simulator.KnownIssues() {
			cfg.Tolerate = append(cfg.Tolerate, k.ID)
		}
	default:
		cfg.Tolerate = strings.Split(*tolerate, ",")
	}
	if *trace != "" {
		f, err := os.Create(*trace)
		if err != nil {
			return 1, err
		}
		defer f.Close()
		cfg.Trace = f
	}
	w, err := simulator.New(cfg)
	if err != nil {
		return 2, err
	}
	start := time.Now()
	rep := w.Run()
	wall := time.Since(start)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return 1, err
		}
	} else {
		if err := rep.WriteText(stdout); err != nil {
			return 1, err
		}
		fmt.Fprintf(stdout, "wall time %v (%.0fx real time)\n", wall.Round(time.Millisecond), rep.Simulated.Seconds()/max(wall.Seconds(), 1e-9))
	}
	if !rep.OK() {
		return 1, nil
	}
	return 0, nil
}
