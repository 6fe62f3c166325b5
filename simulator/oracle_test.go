package simulator

import (
	"strings"
	"testing"
)

// TestOracleDetectsOnePauseAfterACrash: the oracle center declares a
// crashed server down one acceptable pause after it stopped (to within a
// tick), and never takes over a server that only lost its link to the
// center or hung while it kept recording, which nvrha's detector does.
func TestOracleDetectsOnePauseAfterACrash(t *testing.T) {
	const script = `name oracle
duration 3m
groups 1
recording 4 channels 16 cameras 16
standby 2 channels 32
at 10s crash rec-1 for 30s
at 20s partition rec-2 for 20s
at 30s pause rec-3 for 6s
at 50020ms crash rec-4 for 30s
expect takeover rec-1
`
	run := func(oracle bool) *Report {
		sc, err := ParseScenario(strings.NewReader(script))
		if err != nil {
			t.Fatal(err)
		}
		cfg := Config{Oracle: oracle}
		cfg.ApplyScenario(sc)
		return mustRun(t, cfg)
	}
	nv, or := run(false), run(true)
	if !or.Oracle || !strings.HasPrefix(or.Detector, "oracle: ") || !strings.Contains(or.Replay, " -oracle") {
		t.Errorf("oracle report: Oracle %v, detector %q, replay %q", or.Oracle, or.Detector, or.Replay)
	}
	pause := Config{}.withDefaults(newRNG(0)).pauseScale
	tick := DefaultTickInterval
	taken := map[string]bool{}
	for _, inc := range or.Incidents {
		if inc.Takeovers > 0 {
			taken[string(inc.Server)] = true
		}
		if inc.Server != "rec-1" && inc.Server != "rec-4" {
			continue
		}
		if !inc.Detected || inc.Detect < pause || inc.Detect > pause+tick {
			t.Errorf("%s detected %v %v after its crash, want within a tick after %v", inc.Server, inc.Detected, inc.Detect, pause)
		}
	}
	if !taken["rec-1"] || !taken["rec-4"] || taken["rec-2"] || taken["rec-3"] || or.FalseTakeovers != 0 {
		t.Errorf("oracle took over %v, %d false takeovers; want rec-1 and rec-4 only", taken, or.FalseTakeovers)
	}
	if nv.FalseTakeovers == 0 {
		t.Error("nvrha took over neither the partitioned nor the hung server: the test proves nothing")
	}
}

func TestOracleAndBaselineRefused(t *testing.T) {
	if _, err := New(Config{Oracle: true, Baseline: true}); err == nil {
		t.Error("New accepted a world that is both the oracle and the baseline")
	}
}
