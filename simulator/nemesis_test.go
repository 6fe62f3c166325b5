package simulator

import (
	"reflect"
	"testing"
	"time"
)

// TestPairedWorldsFaceOnePlan: the nemesis plans every fault (time, kind,
// targets, duration) from the seed alone, so that nvrha and the baseline
// run in one world face the same faults. Many seeds, in the default
// world, random worlds, the noisy LAN and at high rates, give the same
// plan on both sides; and after the runs (in which the two sides decide
// differently) the reports carry the same plan.
func TestPairedWorldsFaceOnePlan(t *testing.T) {
	t.Parallel()
	configs := []func(seed uint64) Config{
		func(seed uint64) Config { return Config{Seed: seed, Nemesis: NemesisConfig{Enabled: true}} },
		func(seed uint64) Config {
			return Config{Seed: seed, Duration: 10 * time.Minute, RandomWorld: true, Net: NoisyLAN(),
				Nemesis: NemesisConfig{Enabled: true, Rate: 4, QuietTail: 3 * time.Minute}}
		},
	}
	reactive := 0
	for seed := uint64(1); seed <= 200; seed++ {
		for _, mk := range configs {
			nv, bl := mk(seed), mk(seed)
			bl.Baseline = true
			a, b := mustNew(t, nv).Plan(), mustNew(t, bl).Plan()
			if len(a) == 0 {
				t.Fatalf("seed %d: no fault planned", seed)
			}
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("seed %d: the plans differ: nvrha %v, baseline %v", seed, a, b)
			}
			for _, p := range a {
				if p.Reactive {
					reactive++
				}
			}
		}
	}
	if reactive == 0 {
		t.Error("no reactive fault planned in 400 worlds")
	}
	for seed := uint64(1); seed <= 3; seed++ {
		cfg := Config{Seed: seed, Duration: 20 * time.Minute, Nemesis: NemesisConfig{Enabled: true, Rate: 3}}
		nv := mustRun(t, cfg)
		cfg.Baseline = true
		bl := mustRun(t, cfg)
		if nv.FaultPlan == "" || nv.FaultPlan != bl.FaultPlan {
			t.Errorf("seed %d: fault plans %q and %q", seed, nv.FaultPlan, bl.FaultPlan)
		}
		if nv.TraceHash == bl.TraceHash {
			t.Errorf("seed %d: nvrha and the baseline ran the same trace", seed)
		}
	}
}

// TestPlanIsTheSeeds: another seed plans other faults; the same seed, the
// same ones, whatever the network draws.
func TestPlanIsTheSeeds(t *testing.T) {
	cfg := Config{Seed: 5, Nemesis: NemesisConfig{Enabled: true}}
	quiet := mustNew(t, cfg).Plan()
	cfg.Net = NoisyLAN()
	if noisy := mustNew(t, cfg).Plan(); !reflect.DeepEqual(quiet, noisy) {
		t.Fatal("the network changed the plan")
	}
	cfg.Seed = 6
	if other := mustNew(t, cfg).Plan(); reflect.DeepEqual(quiet, other) {
		t.Fatal("seeds 5 and 6 plan the same faults")
	}
}

func mustNew(t *testing.T, cfg Config) *World {
	t.Helper()
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestFaultKindTableComplete: every fault kind the package names has one
// entry in the nemesis's table, and the table names no other, so a kind
// added in one place and forgotten in the other fails here at once rather
// than as a kind that never fires in the long batch.
func TestFaultKindTableComplete(t *testing.T) {
	inTable := map[FaultKind]int{}
	for _, f := range faultKinds {
		inTable[f.kind]++
		if (f.draw == nil) == (f.strike == nil) {
			t.Errorf("%s: a kind is drawn periodically or strikes a takeover, exactly one of them", f.kind)
		}
	}
	for _, k := range FaultKinds() {
		if inTable[k] != 1 {
			t.Errorf("%s has %d entries in the nemesis's table, want 1", k, inTable[k])
		}
		delete(inTable, k)
	}
	for k := range inTable {
		t.Errorf("the nemesis's table has %s, which FaultKinds does not list", k)
	}
}
