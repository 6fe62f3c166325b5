package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nvrha/nvrha/simulator"
)

// batch is what -seeds N (without -compare) prints: N worlds, seeds -seed
// to -seed+N-1, with every invariant checked, pooled. Its JSON holds no
// wall-clock figure: the same flags give the same batch.
type batch struct {
	Seeds     int    `json:"seeds"`
	FirstSeed uint64 `json:"first_seed"`
	Centers   int    `json:"centers"`
	Faults    string `json:"faults"`
	// Passed counts the worlds in which every invariant and expectation
	// held; Violations the others' violations by invariant (a world stops
	// at its first).
	Passed     int         `json:"passed"`
	Violations map[int]int `json:"violations"`
	// DoubleTakeovers counts the worlds in which a recording server was
	// taken over twice at once (invariant 1), OldTermObeyed those in which
	// an agent obeyed an order of an old center term (invariant 11).
	DoubleTakeovers int `json:"double_takeovers"`
	OldTermObeyed   int `json:"old_term_obeyed"`
	// ExpectationsFailed counts the worlds with a failed expect line.
	ExpectationsFailed int `json:"expectations_failed"`
	// Failures are the first worlds that failed, with their replay.
	Failures    []batchFailure              `json:"failures,omitempty"`
	KnownIssues map[string]int              `json:"known_issues,omitempty"`
	FaultCounts map[simulator.FaultKind]int `json:"fault_counts"`
	Incidents   int                         `json:"incidents"`
	Takeover    simulator.Stats             `json:"takeover"`
	// Centers pools what several centers did (nil with one).
	CenterFailovers *batchCenters `json:"centers_pooled,omitempty"`
}

// batchFailure is one world that failed.
type batchFailure struct {
	Seed      uint64 `json:"seed"`
	Invariant int    `json:"invariant,omitempty"`
	Detail    string `json:"detail"`
	Replay    string `json:"replay"`
}

// batchCenters pools simulator.Report.Centers over the worlds.
type batchCenters struct {
	Elections        int `json:"elections"`
	LeaderCrashes    int `json:"leader_crashes"`
	StepDowns        int `json:"step_downs"`
	StaleTermRefused int `json:"stale_term_refused"`
	// Resume and Covered are the clean failovers' (report.Centers), with
	// how many samples exceed their targets; ResumeCompound the other
	// leader crashes'.
	Resume         simulator.Stats `json:"resume"`
	ResumeTarget   time.Duration   `json:"resume_target"`
	ResumeOver     int             `json:"resume_over_target"`
	ResumeCompound simulator.Stats `json:"resume_compound"`
	Covered        simulator.Stats `json:"covered"`
	CoveredTarget  time.Duration   `json:"covered_target"`
	CoveredOver    int             `json:"covered_over_target"`
	NotCovered     int             `json:"not_covered"`
	Contended      int             `json:"contended"`
}

// maxFailuresListed bounds Failures.
const maxFailuresListed = 20

// runBatch runs f.seeds worlds of cfg, parallel at a time, and prints
// them pooled.
func runBatch(cfg simulator.Config, f flags, m *meter, stdout, stderr io.Writer) (int, error) {
	d := cfg.Duration
	if d <= 0 {
		d = simulator.DefaultDuration
	}
	m.plan(time.Duration(f.seeds) * d)
	start := time.Now()
	reports := make([]*simulator.Report, f.seeds)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		runErr  error
		next    = make(chan int)
		done    = make(chan struct{}, f.seeds)
		workers = max(1, min(f.parallel, f.seeds))
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c := cfg
				c.Seed = cfg.Seed + uint64(i)
				w, err := simulator.New(c)
				if err != nil {
					mu.Lock()
					runErr = err
					mu.Unlock()
					done <- struct{}{}
					continue
				}
				reports[i] = w.Run()
				done <- struct{}{}
			}
		}()
	}
	go func() {
		for i := range f.seeds {
			next <- i
		}
		close(next)
	}()
	for k := range f.seeds {
		<-done
		m.show(time.Duration(k+1)*d, fmt.Sprintf("%d of %d seeds", k+1, f.seeds))
	}
	wg.Wait()
	m.done()
	if runErr != nil {
		return 2, runErr
	}
	b := pool(cfg, reports)
	if f.asJSON {
		if err := writeJSON(stdout, b); err != nil {
			return 1, err
		}
	} else {
		if err := b.writeText(stdout); err != nil {
			return 1, err
		}
		fmt.Fprintf(stdout, "wall time %v for %d runs (%d at a time)\n", time.Since(start).Round(time.Millisecond), f.seeds, workers)
	}
	for _, r := range reports {
		if !r.OK() {
			reportFailure(stderr, r)
		}
	}
	if b.Passed < b.Seeds {
		return 1, nil
	}
	return 0, nil
}

// pool sums up the reports of a batch.
func pool(cfg simulator.Config, reports []*simulator.Report) *batch {
	b := &batch{Seeds: len(reports), FirstSeed: cfg.Seed, Centers: max(cfg.Centers, 1), Faults: cfg.Nemesis.String(),
		Violations: map[int]int{}, KnownIssues: map[string]int{}, FaultCounts: map[simulator.FaultKind]int{}}
	var takeover, resume, compound, covered []time.Duration
	for _, r := range reports {
		if r.OK() {
			b.Passed++
		}
		if v := r.Violation; v != nil {
			b.Violations[v.Invariant]++
			switch v.Invariant {
			case 1:
				b.DoubleTakeovers++
			case 11:
				b.OldTermObeyed++
			}
			if len(b.Failures) < maxFailuresListed {
				detail, _, _ := strings.Cut(v.Detail, "\n")
				b.Failures = append(b.Failures, batchFailure{Seed: r.Seed, Invariant: v.Invariant, Detail: detail, Replay: r.Replay})
			}
		} else if !r.OK() {
			b.ExpectationsFailed++
			if len(b.Failures) < maxFailuresListed {
				b.Failures = append(b.Failures, batchFailure{Seed: r.Seed, Detail: "an expectation did not hold", Replay: r.Replay})
			}
		}
		for _, k := range r.KnownIssues {
			b.KnownIssues[k.ID] += k.Count
		}
		for k, n := range r.Faults {
			b.FaultCounts[k] += n
		}
		b.Incidents += len(r.Incidents)
		for _, inc := range r.Incidents {
			if inc.LostFootage && inc.TakenOver {
				takeover = append(takeover, inc.Takeover)
			}
		}
		if c := r.Centers; c != nil {
			if b.CenterFailovers == nil {
				b.CenterFailovers = &batchCenters{ResumeTarget: c.ResumeTarget, CoveredTarget: c.CoveredTarget}
			}
			p := b.CenterFailovers
			p.Elections += c.Elections
			p.LeaderCrashes += c.LeaderCrashes
			p.StepDowns += c.StepDowns
			p.StaleTermRefused += c.StaleTermRefused
			p.NotCovered += c.NotCovered
			p.Contended += c.Contended
			resume = append(resume, c.ResumeSamples...)
			compound = append(compound, c.ResumeCompoundSamples...)
			covered = append(covered, c.CoveredSamples...)
		}
	}
	b.Takeover = simulator.StatsOf(takeover)
	if p := b.CenterFailovers; p != nil {
		p.Resume, p.Covered = simulator.StatsOf(resume), simulator.StatsOf(covered)
		p.ResumeCompound = simulator.StatsOf(compound)
		for _, d := range resume {
			if d > p.ResumeTarget {
				p.ResumeOver++
			}
		}
		for _, d := range covered {
			if d > p.CoveredTarget {
				p.CoveredOver++
			}
		}
	}
	return b
}

// writeText prints the batch's summary.
func (b *batch) writeText(out io.Writer) error {
	var s strings.Builder
	kv := func(k, format string, args ...any) { fmt.Fprintf(&s, "%-23s %s\n", k, fmt.Sprintf(format, args...)) }
	stats := func(st simulator.Stats) string {
		return fmt.Sprintf("n %d, p50 %s, p90 %s, p99 %s, max %s", st.N, sec(st.P50), sec(st.P90), sec(st.P99), sec(st.Max))
	}
	kv("batch", "%d seeds from %d, %d centers, faults %s", b.Seeds, b.FirstSeed, b.Centers, b.Faults)
	kv("passed", "%d of %d", b.Passed, b.Seeds)
	kv("double takeovers", "%d (worlds that broke invariant 1)", b.DoubleTakeovers)
	kv("old-term orders obeyed", "%d (worlds that broke invariant 11)", b.OldTermObeyed)
	if len(b.Violations) == 0 {
		kv("violations", "none")
	} else {
		var parts []string
		for _, inv := range slices.Sorted(maps.Keys(b.Violations)) {
			parts = append(parts, fmt.Sprintf("invariant %d: %d", inv, b.Violations[inv]))
		}
		kv("violations", "%s", strings.Join(parts, ", "))
	}
	if b.ExpectationsFailed > 0 {
		kv("expectations failed", "%d worlds", b.ExpectationsFailed)
	}
	if len(b.KnownIssues) > 0 {
		kv("known issues", "%s", countList(b.KnownIssues))
	}
	kv("incidents", "%d; time to takeover %s", b.Incidents, stats(b.Takeover))
	if p := b.CenterFailovers; p != nil {
		kv("centers", "%d elections, %d leader crashes, %d step-downs, %d orders refused for a stale term",
			p.Elections, p.LeaderCrashes, p.StepDowns, p.StaleTermRefused)
		kv("protection resumed", "after a leader crash, clean failover: %s; target %s, %d over", stats(p.Resume), sec(p.ResumeTarget), p.ResumeOver)
		kv("", "with other center faults: %s", stats(p.ResumeCompound))
		kv("covered in failover", "crashed during a clean one: %s; target %s, %d over, %d never covered",
			stats(p.Covered), sec(p.CoveredTarget), p.CoveredOver, p.NotCovered)
		kv("", "%d crashed during a failover that was not clean, without a free standby to themselves, or joined by another fault", p.Contended)
	}
	kv("faults", "%s", countList(b.FaultCounts))
	for _, fl := range b.Failures {
		kv("failed", "seed %d: invariant %d: %s", fl.Seed, fl.Invariant, fl.Detail)
	}
	_, err := io.WriteString(out, s.String())
	return err
}

func sec(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }

func countList[K ~string](m map[K]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}
