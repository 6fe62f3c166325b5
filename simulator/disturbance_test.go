package simulator

import (
	"strings"
	"testing"
)

// TestDisturbanceLastsThePause: a server disturbed until the end of its
// long pause stays so when another action touches it meanwhile. rec-1's
// disk fails (degraded) while it hangs; it can be stood down only once the
// hang ends, and the release budget counts from then.
func TestDisturbanceLastsThePause(t *testing.T) {
	sc, err := ParseScenario(strings.NewReader(`name a recording server whose disk fails while it hangs
duration 2m
groups 1
recording 2 channels 16 cameras 2
standby 1 channels 32
failback hold-down 10s
at 10s pause rec-1 for 8s
on takeover-confirm abnormal recording recording for 50s
expect takeover rec-1 by sb-1
`))
	if err != nil {
		t.Fatal(err)
	}
	var cfg Config
	cfg.ApplyScenario(sc)
	if r := mustRun(t, cfg); !r.OK() {
		t.Fatalf("expectations: %+v", r.Expectations)
	}
}
