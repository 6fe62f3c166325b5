// Command nvrbench measures nvrha against its performance targets and
// prints one table: each figure, its target, what was measured, the
// baseline's and the oracle's figures where there are, the ratio of
// nvrha's to the baseline's, and whether the target is met.
//
//	go run ./simulator/cmd/nvrbench                     # everything, at full size (long)
//	go run ./simulator/cmd/nvrbench -quick              # a few minutes, to try it
//	go run ./simulator/cmd/nvrbench -only campaign -server-days 2000 -incidents 2000
//	go run ./simulator/cmd/nvrbench -only campaign -runs campaign.jsonl -max-wall 1h   # again later to go on
//	go run ./simulator/cmd/nvrbench -markdown > table.md
//
// The sections (-only picks some, comma-separated):
//
//   - campaign: the noisy-LAN scenario (simulator/scenarios/noisy-lan.nvrsim)
//     for seed after seed, each world run with nvrha's defaults, with the
//     baseline (a poll every 0.5 s, down after 5 s, first-fit standbys) and
//     with the oracle (a center told of a crash one acceptable pause after
//     it: the floor), all three facing the same plan of faults, pooled in
//     seed order until -incidents crash incidents and -server-days
//     server-days without a crash are reached: detection, the recording
//     gap per camera, false takeovers, the footage lost and the avoidable
//     loss (beyond the oracle's), side by side, then the footage lost by
//     the first fault of each incident; nvrha's footage lost over the
//     baseline's has a 95% interval from a paired bootstrap over the
//     worlds. With -runs FILE every world's three runs are appended to FILE
//     as one line of JSON each, and the worlds already in FILE are pooled
//     instead of run
//     again: a long campaign can stop (-max-wall, or killed) and go on
//     later, and shards run elsewhere (-seed N -runs shard.jsonl) pool by
//     concatenating their files.
//   - assign: random 64-server groups in which 32 recording servers fail at
//     once; nvrha's standby choice and first-fit against the optimum,
//     found by an independent exact search.
//   - machine: the Machine's costs (internal/perf, as go test -bench runs
//     them): probe results per second, a Tick, the Tick that detects and
//     assigns, memory per server, from 8 to 1,024 servers.
//   - sim: the simulator's speed on the noisy-LAN world, 64 and 1,024 servers.
//   - http: the controller's CPU probing 8 to 1,024 agents on loopback at
//     the default probe interval with httptransport's defaults (probes over
//     UDP, HTTP as fallback), and at 1,024 with every probe over HTTP as
//     the baseline (the agents run in a child process).
//
// Ratios are nvrha's figure over the baseline's (below 1 is better for
// times). Costs are measured on this machine in this run; quote them as
// ratios against figures measured in the same run.
//
// Exit status: 0 when every figure was measured (met or not), 1 when a
// world broke an invariant other than a false detection, or a
// measurement failed, 2 for bad flags.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/nvrha/nvrha/internal/perf"
)

func main() {
	perf.MaybeServeAgents()
	if os.Getenv("GOGC") == "" {
		// A world's heap is small and mostly short-lived: collecting at
		// 400% growth instead of 100% runs it about a fifth faster.
		debug.SetGCPercent(400)
	}
	// An interrupt stops a campaign as -max-wall does: with the table of
	// what it pooled.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "nvrbench:", err)
	}
	os.Exit(code)
}

// row is one line of the table.
type row struct {
	Figure   string `json:"figure"`
	Target   string `json:"target,omitempty"`
	Measured string `json:"measured"`
	Baseline string `json:"baseline,omitempty"`
	// Oracle is the oracle's figure in the same worlds: the floor.
	Oracle string `json:"oracle,omitempty"`
	Ratio  string `json:"ratio,omitempty"`
	// Met is "yes" or "no" for a figure with a target, empty otherwise.
	Met string `json:"met,omitempty"`
}

func verdict(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

var sections = []string{"campaign", "assign", "machine", "sim", "http"}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("nvrbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "a small run of every section, to try the command (minutes, not hours)")
	only := fs.String("only", "", "comma-separated sections to run: "+strings.Join(sections, ", ")+" (default all)")
	incidents := fs.Int("incidents", 10000, "campaign: crash incidents to pool")
	serverDays := fs.Float64("server-days", 10000, "campaign: server-days without a crash to pool")
	day := fs.Duration("day", 24*time.Hour, "campaign: simulated time of each world")
	seed := fs.Uint64("seed", 1, "campaign: the first world's seed")
	workers := fs.Int("workers", runtime.NumCPU(), "campaign: worlds run at once")
	maxWall := fs.Duration("max-wall", 0, "campaign: stop after this long with what was reached (0: no limit)")
	runsPath := fs.String("runs", "", "campaign: a file of runs: the worlds in it are pooled, not run again, and every world run is appended")
	asJSON := fs.Bool("json", false, "print the table as JSON")
	markdown := fs.Bool("markdown", false, "print the table as Markdown")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 2, err
	}
	want := sections
	if *only != "" {
		want = strings.Split(*only, ",")
		for _, s := range want {
			if !slices.Contains(sections, s) {
				return 2, fmt.Errorf("unknown section %q (want %s)", s, strings.Join(sections, ", "))
			}
		}
	}
	if *incidents < 0 || *serverDays < 0 || *day <= 0 || *workers < 1 || *maxWall < 0 {
		return 2, errors.New("-incidents, -server-days and -max-wall must not be negative, -day and -workers must be positive")
	}
	if *quick {
		*incidents, *serverDays, *day = min(*incidents, 10), min(*serverDays, 4), min(*day, time.Hour)
	}

	var rows []row
	code := 0
	for _, s := range want {
		fmt.Fprintf(stderr, "== %s\n", s)
		var (
			got []row
			err error
		)
		switch s {
		case "campaign":
			got, err = campaignRows(ctx, campaignConfig{firstSeed: *seed, day: *day, incidents: *incidents,
				serverDays: *serverDays, workers: *workers, maxWall: *maxWall, runsPath: *runsPath}, stderr)
		case "assign":
			groups := 20
			if *quick {
				groups = 3
			}
			got, err = assignRows(groups)
		case "machine":
			got = machineCosts()
		case "sim":
			got, err = simCosts(*quick)
		case "http":
			got, err = httpCosts(*quick)
		}
		rows = append(rows, got...)
		if err != nil {
			fmt.Fprintf(stderr, "nvrbench: %s: %v\n", s, err)
			code = 1
		}
	}
	switch {
	case *asJSON:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			return 1, err
		}
	case *markdown:
		writeMarkdown(stdout, rows)
	default:
		writeText(stdout, rows)
		if costs := slices.ContainsFunc(want, func(s string) bool { return s != "campaign" && s != "assign" }); costs {
			if note := machineBusy(); note != "" {
				for _, l := range wrap(note, textWidth) {
					fmt.Fprintln(stdout, l)
				}
			}
		}
	}
	return code, nil
}

func assignRows(groups int) ([]row, error) {
	o, err := measureOptimality(groups, 32, 1)
	if err != nil {
		return nil, err
	}
	return []row{{
		Figure: fmt.Sprintf("protected servers and channels, %d of 48 recording servers failing at once with %d standbys",
			o.failures, o.standbys),
		Target:   "= optimum",
		Measured: fmt.Sprintf("optimum in %d/%d groups", o.optimal, o.groups),
		Baseline: fmt.Sprintf("first-fit: %.1f%% of the optimum's channels (worst %.1f%%)", 100*o.firstFitMean, 100*o.firstFitWorst),
		Met:      verdict(o.optimal == o.groups),
	}}, nil
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }

func writeMarkdown(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| figure | target | measured | baseline | oracle | ratio | met |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- |")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", r.Figure, r.Target, r.Measured, r.Baseline, r.Oracle, r.Ratio, r.Met)
	}
}
