package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nvrha/nvrha/simulator"
)

// replayArgs turns a replay command into nvrsim's arguments.
func replayArgs(t *testing.T, cmd string) []string {
	t.Helper()
	cmd, _, _ = strings.Cut(cmd, "  #")
	fields := strings.Fields(cmd)
	if len(fields) < 3 || fields[0] != "go" || fields[2] != "./simulator/cmd/nvrsim" {
		t.Fatalf("not a replay command: %q", cmd)
	}
	return fields[3:]
}

// TestReplayReproduces runs a world from a Config, then runs the command
// its report prints, and compares the trace hashes.
func TestReplayReproduces(t *testing.T) {
	for _, cfg := range []simulator.Config{
		{Seed: 5, Duration: 3 * time.Minute, RandomWorld: true,
			Nemesis: simulator.NemesisConfig{Enabled: true, Rate: 4, QuietTail: time.Minute}},
		{Seed: 6, Duration: 2 * time.Minute, World: simulator.UniformWorld(2, 3, 1, 8, 0, 0), Net: simulator.NoisyLAN(),
			Nemesis: simulator.NemesisConfig{Enabled: true, Kinds: []simulator.FaultKind{simulator.FaultCrash, simulator.FaultPartition}, Rate: 3}},
	} {
		cfg.Center.Failover.Failback.HoldDown = 10 * time.Second
		cfg.Center.Failover.Failback.FlapWindow = time.Minute
		cfg.Tolerate = []string{simulator.IssueStoodDownNeverResumed, simulator.IssueRestoreReusesFailbackEpoch}
		w, err := simulator.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		want := w.Run()
		var out, errOut bytes.Buffer
		args := append(replayArgs(t, want.Replay), "-json")
		if _, err := run(args, &out, &errOut); err != nil {
			t.Fatalf("%v: %v %s", args, err, errOut.String())
		}
		var got simulator.Report
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if got.TraceHash != want.TraceHash {
			t.Errorf("%s replays to trace %s, the run had %s", want.Replay, got.TraceHash, want.TraceHash)
		}
	}
}

func TestScenarioFromCommandLine(t *testing.T) {
	var out, errOut bytes.Buffer
	code, err := run([]string{"-scenario", "../../scenarios/standby-without-license.nvrsim"}, &out, &errOut)
	if err != nil || code != 0 {
		t.Fatalf("code %d, %v: %s%s", code, err, out.String(), errOut.String())
	}
	for _, want := range []string{"standby without enough license channels", "insufficient-license-channels", "invariants            all held"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}
