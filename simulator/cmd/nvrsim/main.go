// Command nvrsim runs the deterministic failover simulator and prints its
// summary.
//
//	go run ./simulator/cmd/nvrsim                       # one hour of the default group, random faults
//	go run ./simulator/cmd/nvrsim -seed 7 -duration 6h -html report.html
//	go run ./simulator/cmd/nvrsim -scenario simulator/scenarios/flapping-server.nvrsim
//	go run ./simulator/cmd/nvrsim -compare -seeds 8      # nvrha against the baseline and the oracle
//	go run ./simulator/cmd/nvrsim -centers 3 -seeds 1000 -random-world -duration 10m -rate 4  # several centers, pooled
//
// The default world is one Failover Group of 14 recording servers and 2
// standbys with 16 cameras each, on a quiet LAN, for an hour of simulated
// time, with the nemesis drawing every kind of fault. The same flags give
// the same run, byte for byte.
//
// Output: the summary table on stdout; -json prints the full report as JSON
// instead (and nothing else on stdout); -html FILE also writes the report
// as one self-contained HTML page (a per-server timeline of statuses,
// takeovers and faults, the distribution of recording gaps, the
// incidents). A progress bar is drawn on stderr when it is a terminal and
// the run takes more than a second (-progress forces it on or off).
// -cpuprofile FILE writes a CPU profile of the runs for go tool pprof.
//
// -compare runs the same world with nvrha's failover defaults, with the
// baseline (a poll every 0.5 s, a server down after 5 s) and with the
// oracle (a center told of a failure one acceptable pause after it
// happened, never of a server that still records: the floor) and prints
// them side by side with their ratios, the avoidable loss (footage lost
// beyond the oracle's), a table by the first fault of each incident and
// the scarcity efficiency, and for each class 95% intervals of nvrha's
// footage lost over and minus the baseline's, from a paired bootstrap over
// the worlds (deterministic: the same worlds give the same intervals);
// -seeds N pools N worlds (seeds -seed, -seed+1, ...). -oracle runs one
// world with the oracle. With -json it prints the comparison as JSON; with
// -html FILE it writes the first world's three reports: nvrha's to FILE,
// the baseline's and the oracle's to FILE with "-baseline" and "-oracle"
// before its extension.
//
// -centers N runs N centers that stand by for each other through a lease
// store (-lease, 5 s by default), and the faults of several centers with
// the others. -seeds N without -compare runs N worlds, seeds -seed,
// -seed+1, ..., -parallel at a time, and prints them pooled: how many
// passed, the violations by invariant (double takeovers are invariant 1,
// old-term orders obeyed invariant 11), and the failovers of several
// centers against their targets; -json prints that as JSON.
//
// Exit status: 0 when every invariant and every expectation held; 1 when
// one did not (the violation, the seed and the replay command are printed
// on stderr) or a file could not be written; 2 for bad flags or a world
// that cannot run.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator"
	"github.com/nvrha/nvrha/simulator/cmd/internal/compare"
)

func main() {
	if os.Getenv("GOGC") == "" {
		// A world's heap is small and mostly short-lived: collecting at
		// 400% growth instead of 100% runs it about a fifth faster.
		debug.SetGCPercent(400)
	}
	code, err := run(os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nvrsim:", err)
	}
	os.Exit(code)
}

// options are the hooks of runWith that the command line does not reach.
type options struct {
	// adjust changes every Config before its world is built (a test breaks
	// the Machine with it).
	adjust func(*simulator.Config)
	// terminal reports whether w is a terminal; nil asks the OS.
	terminal func(w io.Writer) bool
}

func run(args []string, stdout, stderr io.Writer) (int, error) {
	return runWith(args, stdout, stderr, options{})
}

// flags are the parsed command line.
type flags struct {
	asJSON   bool
	htmlPath string
	trace    string
	progress progressFlag
	compare  bool
	seeds    int
	parallel int
	cpuProf  string
}

func runWith(args []string, stdout, stderr io.Writer, opt options) (int, error) {
	fs := flag.NewFlagSet("nvrsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: nvrsim [flags]\n\nRuns the deterministic failover simulator; the same flags give the same run.\n\n")
		fs.PrintDefaults()
	}
	var f flags
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
	oracle := fs.Bool("oracle", false, "drive the world with the oracle center, which knows when a server really stopped")
	netName := fs.String("net", "quiet", `network: "quiet" or "noisy"`)
	centers := fs.Int("centers", 1, "centers that stand by for each other through a lease store (2 or 3; 1 runs no election)")
	lease := fs.Duration("lease", 0, "the leader's lease with several centers (default 5s)")
	fs.BoolVar(&f.asJSON, "json", false, "print the full report as JSON on stdout, and nothing else")
	fs.StringVar(&f.htmlPath, "html", "", "write the report as a self-contained HTML page to this file")
	fs.StringVar(&f.trace, "trace", "", "write the event trace to this file")
	fs.Var(&f.progress, "progress", `progress bar on stderr: true, false or auto (a terminal, and a run longer than a second)`)
	fs.BoolVar(&f.compare, "compare", false, "run the world with nvrha's defaults and with the baseline, and print both side by side")
	fs.IntVar(&f.seeds, "seeds", 1, "run this many worlds, seeds -seed, -seed+1, ..., and print them pooled (with -compare: pool the comparisons)")
	fs.IntVar(&f.parallel, "parallel", 1, "with -seeds: run this many worlds at a time")
	fs.StringVar(&f.cpuProf, "cpuprofile", "", "write a CPU profile of the runs to this file (go tool pprof reads it)")
	quietTail := fs.Duration("quiet-tail", 0, "no new faults in this last stretch of the run (default a fifth, at most 15m)")
	holdDown := fs.Duration("hold-down", 0, "failback hold-down (default 30s)")
	maxHoldDown := fs.Duration("max-hold-down", 0, "longest flap-damped hold-down (default 10m)")
	flapWindow := fs.Duration("flap-window", 0, "flap window of the hold-down doubling (default 10m)")
	probeInterval := fs.Duration("probe-interval", 0, "the center's probe interval (default the library's)")
	acceptablePause := fs.Duration("acceptable-pause", 0, "longest silence never taken for a failure (default the library's)")
	threshold := fs.Float64("threshold", 0, "phi accrual threshold (default the library's)")
	tolerate := fs.String("tolerate", "", `known issues to record instead of failing on, comma-separated, or "all"`)
	if err := fs.Parse(args); err != nil {
		return 2, nil
	}
	if fs.NArg() > 0 {
		return 2, fmt.Errorf("unexpected arguments %q (flags only; see -help)", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case f.seeds < 1:
		return 2, errors.New("-seeds must be at least 1")
	case f.parallel < 1:
		return 2, errors.New("-parallel must be at least 1")
	case f.seeds > 1 && !f.compare && (f.trace != "" || f.htmlPath != ""):
		return 2, errors.New("-trace and -html write one run's; run one seed at a time for them")
	case f.compare && f.trace != "":
		return 2, errors.New("-trace writes one run's trace; it does not go with -compare")
	case f.compare && set["baseline"]:
		return 2, errors.New("-compare runs the baseline itself; leave out -baseline")
	case f.compare && set["oracle"]:
		return 2, errors.New("-compare runs the oracle itself; leave out -oracle")
	case *oracle && *baseline:
		return 2, errors.New("-oracle and -baseline are two different centers; pick one")
	}

	cfg := simulator.Config{
		Seed: *seed, Duration: *duration, Baseline: *baseline, Oracle: *oracle, RandomWorld: *random,
		World: simulator.UniformWorld(*groups, *servers, *standbys, *cameras, 0, 0), Centers: *centers,
	}
	cfg.Center.Lease = *lease
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
	det := &cfg.Center.Failover.Detector
	det.ProbeInterval, det.AcceptablePause, det.Threshold = *probeInterval, *acceptablePause, *threshold
	cfg.FaultsFlag = *faults
	if *scenario != "" {
		sc, err := simulator.ParseScenarioFile(*scenario)
		if err != nil {
			return 2, err
		}
		cfg.Nemesis = simulator.NemesisConfig{}
		*fb = failover.FailbackPolicy{}
		cfg.ApplyScenario(sc)
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
		if set["oracle"] {
			cfg.Oracle = *oracle
		}
		if set["centers"] {
			cfg.Centers = *centers
		}
		if set["lease"] {
			cfg.Center.Lease = *lease
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
	if opt.adjust != nil {
		opt.adjust(&cfg)
	}
	terminal := opt.terminal
	if terminal == nil {
		terminal = isTerminal
	}
	m := newMeter(stderr, f.progress, terminal(stderr))
	if f.cpuProf != "" {
		stop, err := startCPUProfile(f.cpuProf)
		if err != nil {
			return 1, err
		}
		defer stop()
	}
	switch {
	case f.compare:
		return runCompare(cfg, f, m, stdout, stderr)
	case f.seeds > 1:
		return runBatch(cfg, f, m, stdout, stderr)
	}
	return runOne(cfg, f, m, stdout, stderr)
}

// startCPUProfile profiles the process's CPU into path until stop.
func startCPUProfile(path string) (stop func(), err error) {
	pf, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(pf); err != nil {
		pf.Close()
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		pf.Close()
	}, nil
}

// runOne runs one world and prints its report.
func runOne(cfg simulator.Config, f flags, m *meter, stdout, stderr io.Writer) (int, error) {
	if f.trace != "" {
		tf, err := os.Create(f.trace)
		if err != nil {
			return 1, err
		}
		defer tf.Close()
		cfg.Trace = tf
	}
	// The wall time counts building the world, as -compare and -seeds do:
	// a world of 1,024 servers is some of its run.
	start := time.Now()
	w, err := simulator.New(cfg)
	if err != nil {
		return 2, err
	}
	m.plan(w.Config().Duration)
	rep := m.run(w, fmt.Sprintf("seed %d", cfg.Seed))
	m.done()
	wall := time.Since(start)
	if f.htmlPath != "" {
		if err := writeHTML(f.htmlPath, rep); err != nil {
			return 1, err
		}
	}
	if f.asJSON {
		if err := writeJSON(stdout, rep); err != nil {
			return 1, err
		}
	} else {
		if err := rep.WriteText(stdout); err != nil {
			return 1, err
		}
		fmt.Fprintf(stdout, "wall time %v (%.0fx real time)\n", wall.Round(time.Millisecond), rep.Simulated.Seconds()/max(wall.Seconds(), 1e-9))
		if f.htmlPath != "" {
			fmt.Fprintf(stdout, "html report %s\n", f.htmlPath)
		}
	}
	if !rep.OK() {
		reportFailure(stderr, rep)
		return 1, nil
	}
	return 0, nil
}

// runCompare runs f.seeds worlds with nvrha and with the baseline and
// prints them side by side.
func runCompare(cfg simulator.Config, f flags, m *meter, stdout, stderr io.Writer) (int, error) {
	d := cfg.Duration
	if d <= 0 {
		d = simulator.DefaultDuration
	}
	m.plan(3 * time.Duration(f.seeds) * d)
	start := time.Now()
	cmp := compare.New()
	for k := range f.seeds {
		c := cfg
		c.Seed = cfg.Seed + uint64(k)
		nvCfg, baseCfg := compare.Pair(c)
		var reps [3]*simulator.Report
		for i, c := range []simulator.Config{nvCfg, baseCfg, compare.Oracle(c)} {
			w, err := simulator.New(c)
			if err != nil {
				m.done()
				return 2, err
			}
			reps[i] = m.run(w, fmt.Sprintf("seed %d %s", c.Seed, []string{"nvrha", "baseline", "oracle"}[i]))
		}
		cmp.Add(reps[0], reps[1], reps[2])
		if k == 0 && f.htmlPath != "" {
			for i, path := range htmlPaths(f.htmlPath) {
				if err := writeHTML(path, reps[i]); err != nil {
					m.done()
					return 1, err
				}
			}
		}
	}
	m.done()
	wall := time.Since(start)
	if f.asJSON {
		if err := writeJSON(stdout, cmp); err != nil {
			return 1, err
		}
	} else {
		if err := cmp.WriteText(stdout); err != nil {
			return 1, err
		}
		fmt.Fprintf(stdout, "wall time %v for %d runs\n", wall.Round(time.Millisecond), 3*f.seeds)
		if f.htmlPath != "" {
			p := htmlPaths(f.htmlPath)
			fmt.Fprintf(stdout, "html reports %s, %s and %s (seed %d)\n", p[0], p[1], p[2], cfg.Seed)
		}
	}
	failed := cmp.Failed()
	for _, r := range failed {
		reportFailure(stderr, r)
	}
	if len(failed) > 0 {
		return 1, nil
	}
	return 0, nil
}

// reportFailure prints what broke, the seed and the replay command.
func reportFailure(w io.Writer, r *simulator.Report) {
	if v := r.Violation; v != nil {
		detail, _, _ := strings.Cut(v.Detail, "\n")
		fmt.Fprintf(w, "FAIL: invariant %d violated at %s, seed %d: %s\n", v.Invariant, v.At.Round(time.Millisecond), r.Seed, detail)
		fmt.Fprintf(w, "  invariant: %s\n", v.Name)
	}
	for _, e := range r.Expectations {
		if !e.OK {
			fmt.Fprintf(w, "FAIL: expectation on line %d did not hold, seed %d: %s: %s\n", e.Line, r.Seed, e.Text, e.Detail)
		}
	}
	fmt.Fprintf(w, "replay: %s\n", r.Replay)
}

func writeHTML(path string, r *simulator.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := simulator.WriteHTML(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeJSON writes v as indented JSON: what -json prints.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// htmlPaths are the files of one world's three reports, nvrha's at path
// and the others beside it: report.html gives report-baseline.html and
// report-oracle.html.
func htmlPaths(path string) [3]string {
	ext := filepath.Ext(path)
	stem := strings.TrimSuffix(path, ext)
	return [3]string{path, stem + "-baseline" + ext, stem + "-oracle" + ext}
}

// progressFlag is -progress: on, off, or unset (auto).
type progressFlag struct {
	set, on bool
}

func (p *progressFlag) String() string {
	if p == nil || !p.set {
		return "auto"
	}
	return strconv.FormatBool(p.on)
}

func (p *progressFlag) Set(s string) error {
	if s == "auto" {
		*p = progressFlag{}
		return nil
	}
	on, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New(`want true, false or auto`)
	}
	*p = progressFlag{set: true, on: on}
	return nil
}

func (p *progressFlag) IsBoolFlag() bool { return true }
