package simulator

import (
	"bytes"
	"encoding/json"
	"flag"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	simSeeds = flag.Int("sim.seeds", 0, "seeds in TestSeedBatch (0: a CI-sized batch)")
	simFirst = flag.Uint64("sim.first", 1, "first seed of TestSeedBatch")
)

// batchConfig is one world of the seed batch: drawn from the seed, the
// nemesis at four times its default rates, a hold-down short enough that
// the run ends settled; every third seed on the noisy LAN, every fourth
// driven by the baseline detector, and every fourth from seed 2 on with
// several centers (2, 3, 2, ... in turn), so that the faults of several
// centers strike too.
func batchConfig(seed uint64) Config {
	cfg := Config{
		Seed:        seed,
		Duration:    10 * time.Minute,
		RandomWorld: true,
		Nemesis:     NemesisConfig{Enabled: true, Rate: 4, QuietTail: 3 * time.Minute},
		Tolerate:    tolerated,
	}
	cfg.Center.Failover.Failback.HoldDown = 10 * time.Second
	cfg.Center.Failover.Failback.MaxHoldDown = time.Minute
	cfg.Center.Failover.Failback.FlapWindow = 2 * time.Minute
	if seed%3 == 0 {
		cfg.Net = NoisyLAN()
	}
	cfg.Baseline = seed%4 == 0
	if seed%4 == 2 {
		cfg.Centers = 2 + int(seed/4)%2
	}
	return cfg
}

type batchResult struct {
	runs, settled int
	faults        map[FaultKind]int
	recoveries    map[Recovery]int
	known         map[string]int
	failures      []*Violation
	incidents     int
}

var (
	batchOnce sync.Once
	batch     batchResult
)

func batchSize() int {
	switch {
	case *simSeeds > 0:
		return *simSeeds
	case testing.Short():
		return 8
	}
	return 24
}

// runBatch runs the seed batch once for every test that reads it, on as
// many worlds at a time as there are CPUs (each world is single-threaded).
func runBatch(t *testing.T) *batchResult {
	t.Helper()
	batchOnce.Do(func() {
		n := batchSize()
		reports := make([]*Report, n)
		var wg sync.WaitGroup
		next := make(chan int)
		for range runtime.GOMAXPROCS(0) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					w, err := New(batchConfig(*simFirst + uint64(i)))
					if err != nil {
						panic(err)
					}
					reports[i] = w.Run()
				}
			}()
		}
		for i := range n {
			next <- i
		}
		close(next)
		wg.Wait()
		batch = batchResult{faults: map[FaultKind]int{}, recoveries: map[Recovery]int{}, known: map[string]int{}}
		for _, r := range reports {
			batch.runs++
			if r.Settled {
				batch.settled++
			}
			for k, v := range r.Faults {
				batch.faults[k] += v
			}
			for k, v := range r.Recoveries {
				batch.recoveries[k] += v
			}
			for _, k := range r.KnownIssues {
				batch.known[k.ID] += k.Count
			}
			batch.incidents += len(r.Incidents)
			if r.Violation != nil {
				batch.failures = append(batch.failures, r.Violation)
			}
		}
	})
	return &batch
}

// TestSeedBatch runs a batch of random worlds under the nemesis with every
// invariant checked after every event. -sim.seeds N runs more.
func TestSeedBatch(t *testing.T) {
	t.Parallel()
	b := runBatch(t)
	for _, v := range b.failures {
		t.Errorf("seed %d: %v", v.Seed, v)
	}
	t.Logf("%d seeds, %d incidents, %d settled; known issues recorded: %v", b.runs, b.incidents, b.settled, b.known)
	if b.settled < b.runs/2 {
		t.Errorf("only %d of %d runs settled: the settle checks of invariant 7 hardly ran", b.settled, b.runs)
	}
}

// TestEveryFaultFires checks that across the batch every fault kind fired
// and every recovery path was taken, so that a fault that silently stops
// firing is caught.
func TestEveryFaultFires(t *testing.T) {
	if testing.Short() {
		t.Skip("the short batch of 8 seeds is too small for every fault kind to fire")
	}
	t.Parallel()
	b := runBatch(t)
	for _, k := range FaultKinds() {
		if b.faults[k] == 0 {
			t.Errorf("fault %s never fired in %d seeds", k, b.runs)
		}
	}
	for _, r := range Recoveries() {
		if b.recoveries[r] == 0 {
			t.Errorf("recovery path %s never taken in %d seeds", r, b.runs)
		}
	}
	t.Logf("faults: %v", b.faults)
	t.Logf("recoveries: %v", b.recoveries)
}

// TestDeterminism runs the same seed twice (noisy network, nemesis, a
// random world) and compares the traces byte for byte, the hashes and the
// reports; a different seed must give a different trace.
func TestDeterminism(t *testing.T) {
	t.Parallel()
	run := func(seed uint64) (*Report, []byte) {
		cfg := batchConfig(seed)
		cfg.Duration = 5 * time.Minute
		cfg.Net = NoisyLAN()
		cfg.Baseline = false
		var trace bytes.Buffer
		cfg.Trace = &trace
		w, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return w.Run(), trace.Bytes()
	}
	a, ta := run(42)
	b, tb := run(42)
	if a.TraceHash != b.TraceHash || !bytes.Equal(ta, tb) {
		i := 0
		for i < len(ta) && i < len(tb) && ta[i] == tb[i] {
			i++
		}
		t.Fatalf("same seed, different traces (hashes %s, %s); they part at byte %d: %q vs %q",
			a.TraceHash, b.TraceHash, i, snippet(ta, i), snippet(tb, i))
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Fatal("same seed, same trace, different reports")
	}
	if a.Events < 1000 || a.Messages == 0 || len(a.Faults) == 0 {
		t.Fatalf("the run did little: %d events, %d messages, faults %v", a.Events, a.Messages, a.Faults)
	}
	c, _ := run(43)
	if c.TraceHash == a.TraceHash {
		t.Fatalf("seeds 42 and 43 give the same trace hash %s", a.TraceHash)
	}
}

func snippet(b []byte, i int) string {
	return string(b[max(0, i-80):min(len(b), i+80)])
}

// TestDeterminismAcrossStores checks that the JSON store (a round trip
// through failover.MemoryStore) changes nothing in the run.
func TestDeterminismAcrossStores(t *testing.T) {
	cfg := batchConfig(7)
	cfg.Duration = 3 * time.Minute
	a := mustRun(t, cfg)
	cfg.Center.JSONStore = true
	b := mustRun(t, cfg)
	if a.TraceHash != b.TraceHash {
		t.Fatalf("JSON store changed the trace: %s vs %s", a.TraceHash, b.TraceHash)
	}
}

func mustRun(t *testing.T, cfg Config) *Report {
	t.Helper()
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := w.Run()
	if r.Violation != nil {
		t.Fatalf("seed %d: %v", cfg.Seed, r.Violation)
	}
	return r
}

// TestQuietLANFigures runs the default one-hour group with crashes only and
// checks the measures are what the defaults promise on a quiet LAN.
func TestQuietLANFigures(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("half a simulated hour")
	}
	r := mustRun(t, Config{Seed: 3, Duration: 30 * time.Minute, Nemesis: NemesisConfig{Enabled: true, Kinds: []FaultKind{FaultCrash}, Rate: 3}})
	if r.Detect.N == 0 || r.GapPerCamera.N == 0 {
		t.Fatalf("no incidents measured: %+v", r.Detect)
	}
	if r.Detect.P99 > 2*time.Second {
		t.Errorf("detection p99 %v, want <= 2s", r.Detect.P99)
	}
	if r.GapPerCamera.P50 > 3*time.Second {
		t.Errorf("gap per camera p50 %v, want <= 3s", r.GapPerCamera.P50)
	}
	if r.FalseTakeovers != 0 {
		t.Errorf("%d false takeovers with crashes only", r.FalseTakeovers)
	}
	t.Logf("detect %+v", r.Detect)
	t.Logf("gap per camera %+v", r.GapPerCamera)
	t.Logf("availability %.6f%%", 100*r.Availability)
}

// TestKnownIssuesReproduce checks that each tolerated known issue still
// happens (strict: a violation of its invariant; tolerated: recorded), so
// that a fix is noticed and the tolerance removed.
func TestKnownIssuesReproduce(t *testing.T) {
	files, _ := filepath.Glob("testdata/known/*.nvrsim")
	for _, f := range files {
		id := strings.TrimSuffix(filepath.Base(f), ".nvrsim")
		if !slices.ContainsFunc(KnownIssues(), func(k KnownIssue) bool { return k.ID == id }) {
			t.Errorf("%s reproduces no known issue: a fixed one moves to testdata/regress", f)
		}
	}
	for _, k := range KnownIssues() {
		if !slices.Contains(tolerated, k.ID) {
			t.Errorf("known issue %s is not tolerated by the batch tests", k.ID)
		}
	}
	for _, k := range KnownIssues() {
		t.Run(k.ID, func(t *testing.T) {
			sc, err := ParseScenarioFile("testdata/known/" + k.ID + ".nvrsim")
			if err != nil {
				t.Fatal(err)
			}
			var cfg Config
			cfg.ApplyScenario(sc)
			w, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			strict := w.Run()
			if strict.Violation == nil {
				t.Fatalf("%s no longer reproduces: the Machine was fixed; remove it from KnownIssues and tolerated", k.ID)
			}
			if strict.Violation.Invariant != k.Invariant {
				t.Fatalf("%s gives invariant %d, want %d: %v", k.ID, strict.Violation.Invariant, k.Invariant, strict.Violation)
			}
			cfg.Tolerate = []string{k.ID}
			loose := mustRun(t, cfg)
			if !loose.OK() || !slices.ContainsFunc(loose.KnownIssues, func(x KnownIssue) bool { return x.ID == k.ID }) {
				t.Fatalf("tolerated, %s was not recorded: %+v", k.ID, loose.Expectations)
			}
		})
	}
}
