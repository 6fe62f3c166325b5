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
	add("three-centers/seed-11", func(*testing.T) Config {
		return Config{Seed: 11, Duration: 30 * time.Minute, Centers: 3, Nemesis: NemesisConfig{Enabled: true, Rate: 2}}
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
	"default/seed-1":                                 {"f4374aebeb93cd13", "fc647165d29b8cc2"},
	"default/seed-2":                                 {"ea3e921dffaa1a14", "2c1f777e68a0f3d0"},
	"default/seed-3":                                 {"bc6ce340110517e", "8d704e194fedc31f"},
	"crash-partition/seed-4":                         {"b62c5fefe66d1ba8", "56d47ad64c2219e4"},
	"pauses-center/seed-5":                           {"92946a3622cb6773", "3a7736ca18ce212e"},
	"baseline/seed-6":                                {"1686bafec46f2903", "10238d37318d851e"},
	"oracle/seed-6":                                  {"3de092682da8e144", "356077d3f32b5eae"},
	"ack-when-recording/seed-10":                     {"404d5dc25fd694b3", "03a6b571da904429"},
	"three-centers/seed-11":                          {"6038eee72753bad5", "d5b0bf2d34152b92"},
	"batch/seed-7":                                   {"b9c9e0cef7823d8e", "9234129a2c7d55ec"},
	"batch/seed-8":                                   {"e67e2c09b7783af4", "6ec8c1ca61286dcf"},
	"batch/seed-9":                                   {"cbdaa9c4f3bee6e4", "dc427ecb4931fd55"},
	"scenarios/admin-races":                          {"377335124ab24a79", "75d737fba8b451f0"},
	"scenarios/center-failover":                      {"9d548745635cf7ef", "9c127c1d32e331ef"},
	"scenarios/center-restart-mid-takeover":          {"ac9ffd440c3be2b6", "1cb50c787dcb34a9"},
	"scenarios/degraded-recording-server":            {"7da1d164fd7489fa", "2786983c5b056ad0"},
	"scenarios/delete-group-mid-takeover":            {"4230bc218fa7533b", "8c64a48dc71a9f36"},
	"scenarios/flapping-server":                      {"51581c110eebfc01", "8208febeb7b48784"},
	"scenarios/hostile-peers":                        {"c8e49ad6d70593d1", "4f3e291754a7db0b"},
	"scenarios/limits":                               {"19a36c659d192373", "44aa0e381e60f6be"},
	"scenarios/noisy-lan":                            {"952d62dc196124ea", "60d14c33c9db1a58"},
	"scenarios/pauses-and-partitions":                {"d37142dca7b2878b", "9cc1bf6c35cb51c9"},
	"scenarios/simultaneous-failures":                {"e6316d0deef97fd8", "d5d2b3afd262c6a5"},
	"scenarios/standby-dies-mid-takeover":            {"5185d443836c0d97", "74f31cf7a881eb10"},
	"scenarios/standby-no-recording-space":           {"55b4ddc7571273ae", "adb8263956b631f5"},
	"scenarios/standby-without-license":              {"4e4a2d491d9aedba", "6a2493f8c0bf44d5"},
	"testdata/regress/aborted-failback-new-epoch":    {"4a5782e67e3a1226", "dfd6cf54d87cb6ec"},
	"testdata/regress/denied-takeover-given-up":      {"b6bc8ad480fe2596", "ea89bd7fae43aa01"},
	"testdata/regress/given-up-standby-ledger":       {"9de4e81f3923d12f", "29fdbd2b0a98a81c"},
	"testdata/regress/license-shrunk-mid-takeover":   {"e029d8f85994e7ee", "428c8df45b82f5a6"},
	"testdata/regress/orphan-release-verified":       {"e5c5564d38f42b5d", "b24c7c5188c59bdf"},
	"testdata/regress/restore-mid-failback":          {"c61b8428cbc4b4d3", "c7fb2f490e8945f5"},
	"testdata/regress/resume-retried":                {"59817ce6d90f9cf6", "7f43116cea795f1e"},
	"testdata/regress/silent-standby-kept":           {"c38a2fe677ebb3db", "03066b89f5dab88f"},
	"testdata/regress/stale-retries-bounded":         {"c92235bd222412b8", "7833e1c1a8ce65e4"},
	"testdata/regress/stand-down-refused-backed-off": {"7f39731e4d4b113", "c57f487057dfa813"},
	"testdata/regress/stood-down-resumed":            {"b83fc62db4599521", "b5447724d259f424"},
	"testdata/regress/stray-cover-released":          {"47fbfe74b8b096d9", "89576b8fbf852660"},
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
