package simulator

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var repin = flag.Bool("sim.repin", false, "print the pinned trace table of TestPinnedTraces for today's code")

// pinnedRun is one world of TestPinnedTraces.
type pinnedRun struct {
	name string
	cfg  func(t *testing.T) Config
	// heavy runs take most of a second; under the race detector, which
	// is some twenty times slower, they are left to the non-race run.
	heavy bool
}

// pinnedRuns are the worlds whose traces are pinned: a few seeds of the
// default world under the default faults, a few with other fault sets,
// networks and policies, and every shipped scenario and regression
// scenario with seed 1.
func pinnedRuns(t *testing.T) []pinnedRun {
	var runs []pinnedRun
	add := func(name string, cfg func(t *testing.T) Config) { runs = append(runs, pinnedRun{name: name, cfg: cfg}) }
	heavy := func() { runs[len(runs)-1].heavy = true }
	for _, seed := range []uint64{1, 2, 3} {
		add(fmt.Sprintf("default/seed-%d", seed), func(*testing.T) Config {
			return Config{Seed: seed, Nemesis: NemesisConfig{Enabled: true}}
		})
		heavy()
	}
	add("crash-partition/seed-4", func(*testing.T) Config {
		return Config{Seed: 4, Duration: 30 * time.Minute,
			Nemesis: NemesisConfig{Enabled: true, Kinds: []FaultKind{FaultCrash, FaultPartition, FaultPartitionOneWay}, Rate: 3}}
	})
	heavy()
	add("pauses-center/seed-5", func(*testing.T) Config {
		return Config{Seed: 5, Duration: 30 * time.Minute,
			Nemesis: NemesisConfig{Enabled: true, Kinds: []FaultKind{FaultPauseShort, FaultPauseLong, FaultCenterCrash,
				FaultCenterMidTakeover, FaultStandbyMidTakeover, FaultFlap}, Rate: 3}}
	})
	heavy()
	add("baseline/seed-6", func(*testing.T) Config {
		return Config{Seed: 6, Duration: 30 * time.Minute, Baseline: true, Nemesis: NemesisConfig{Enabled: true}}
	})
	heavy()
	add("oracle/seed-6", func(*testing.T) Config {
		return Config{Seed: 6, Duration: 30 * time.Minute, Oracle: true, Nemesis: NemesisConfig{Enabled: true}}
	})
	heavy()
	add("ack-when-recording/seed-10", func(*testing.T) Config {
		return Config{Seed: 10, Duration: 30 * time.Minute, Net: NoisyLAN(), Nemesis: NemesisConfig{Enabled: true, Rate: 2},
			Servers: ServerConfig{StreamStart: 2500 * time.Millisecond, AckWhenRecording: true}}
	})
	heavy()
	for _, seed := range []uint64{7, 8, 9} {
		add(fmt.Sprintf("batch/seed-%d", seed), func(*testing.T) Config {
			cfg := batchConfig(seed)
			cfg.Tolerate = nil
			return cfg
		})
	}
	files, err := filepath.Glob("scenarios/*.nvrsim")
	if err != nil {
		t.Fatal(err)
	}
	regress, err := filepath.Glob("testdata/regress/*.nvrsim")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(files, regress...) {
		add(strings.TrimSuffix(f, ".nvrsim"), func(t *testing.T) Config {
			sc, err := ParseScenarioFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cfg := Config{Seed: 1, ScenarioPath: f}
			cfg.ApplyScenario(sc)
			if cfg.Duration > time.Hour {
				cfg.Duration = 10 * time.Minute
			}
			return cfg
		})
		if strings.HasSuffix(f, "noisy-lan.nvrsim") {
			heavy()
		}
	}
	return runs
}

// pinnedTraces are the trace hashes and report digests of pinnedRuns.
// A change to the simulator that means to keep the world's behaviour
// (a refactoring) keeps them; one that changes it on purpose (a new draw
// of the nemesis, a Machine that decides otherwise) re-pins them with
// -sim.repin, in a commit that says why.
var pinnedTraces = map[string][2]string{
	"default/seed-1":                              {"4a634d6e9aed9987", "a34197e09c589801"},
	"default/seed-2":                              {"60e80125be84e7e0", "61408b80570e6e46"},
	"default/seed-3":                              {"746d1af3f2ecd43d", "3c8aea345679d0e9"},
	"crash-partition/seed-4":                      {"c0765233418ba96f", "2ee8cd8ca355b39e"},
	"pauses-center/seed-5":                        {"cbe7e2632af0ce2b", "d555910ad8f47c02"},
	"baseline/seed-6":                             {"a9e72e08ce1305f9", "8ba9ae2ccdae98ff"},
	"oracle/seed-6":                               {"e956006b77de1a03", "fb196dd593278741"},
	"ack-when-recording/seed-10":                  {"bd512a0285bfd6e4", "4a1e869f2f4f0d60"},
	"batch/seed-7":                                {"7ea737e605638df", "6f7a4f1cf60089a4"},
	"batch/seed-8":                                {"662fb1c3b76363b2", "e7a1288f6f2c6491"},
	"batch/seed-9":                                {"6a9bebb143b8e2ee", "4f5e642d7a73fb19"},
	"scenarios/admin-races":                       {"db6f0ae3c46dd117", "a7b8f63e04d692ff"},
	"scenarios/center-restart-mid-takeover":       {"ac9ffd440c3be2b6", "1cb50c787dcb34a9"},
	"scenarios/degraded-recording-server":         {"7da1d164fd7489fa", "2786983c5b056ad0"},
	"scenarios/delete-group-mid-takeover":         {"5deb16fe4dc77714", "a871b5108d8aeca5"},
	"scenarios/flapping-server":                   {"51581c110eebfc01", "8208febeb7b48784"},
	"scenarios/hostile-peers":                     {"c8e49ad6d70593d1", "4f3e291754a7db0b"},
	"scenarios/limits":                            {"19a36c659d192373", "44aa0e381e60f6be"},
	"scenarios/noisy-lan":                         {"952d62dc196124ea", "60d14c33c9db1a58"},
	"scenarios/pauses-and-partitions":             {"d37142dca7b2878b", "9cc1bf6c35cb51c9"},
	"scenarios/simultaneous-failures":             {"e6316d0deef97fd8", "d5d2b3afd262c6a5"},
	"scenarios/standby-dies-mid-takeover":         {"3b4129923e9c21fc", "f006d9724f2f5426"},
	"scenarios/standby-no-recording-space":        {"55b4ddc7571273ae", "adb8263956b631f5"},
	"scenarios/standby-without-license":           {"4e4a2d491d9aedba", "6a2493f8c0bf44d5"},
	"testdata/regress/aborted-failback-new-epoch": {"4a5782e67e3a1226", "dfd6cf54d87cb6ec"},
	"testdata/regress/denied-takeover-given-up":   {"b6bc8ad480fe2596", "ea89bd7fae43aa01"},
	"testdata/regress/given-up-standby-ledger":    {"7b6f510c94f8675e", "46c1480fcf157edf"},
	"testdata/regress/restore-mid-failback":       {"c61b8428cbc4b4d3", "c7fb2f490e8945f5"},
	"testdata/regress/resume-retried":             {"59817ce6d90f9cf6", "7f43116cea795f1e"},
	"testdata/regress/stale-retries-bounded":      {"c92235bd222412b8", "7833e1c1a8ce65e4"},
	"testdata/regress/stood-down-resumed":         {"b83fc62db4599521", "b5447724d259f424"},
	"testdata/regress/stray-cover-released":       {"47fbfe74b8b096d9", "c5cae64db481dcd0"},
}

// TestPinnedTraces runs pinnedRuns and compares each run's trace hash and
// the digest of its JSON report with the pinned values.
func TestPinnedTraces(t *testing.T) {
	t.Parallel()
	var table strings.Builder
	for _, pr := range pinnedRuns(t) {
		if pr.heavy && raceEnabled {
			continue
		}
		w, err := New(pr.cfg(t))
		if err != nil {
			t.Fatalf("%s: %v", pr.name, err)
		}
		r := w.Run()
		j, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("%s: %v", pr.name, err)
		}
		sum := sha256.Sum256(j)
		got := [2]string{r.TraceHash, hex.EncodeToString(sum[:8])}
		fmt.Fprintf(&table, "\t%q: {%q, %q},\n", pr.name, got[0], got[1])
		if *repin {
			continue
		}
		want, ok := pinnedTraces[pr.name]
		switch {
		case !ok:
			t.Errorf("%s: no pinned trace (run with -sim.repin)", pr.name)
		case got[0] != want[0]:
			t.Errorf("%s: trace hash %s, pinned %s; replay: %s", pr.name, got[0], want[0], r.Replay)
		case got[1] != want[1]:
			t.Errorf("%s: same trace, but the report's digest is %s, pinned %s", pr.name, got[1], want[1])
		}
	}
	if *repin {
		t.Logf("pinnedTraces:\n%s", table.String())
	}
}
