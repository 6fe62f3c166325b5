package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestQuickstartTellsTheWholeStory checks the lines a reader relies on: every
// refusal reason, the takeover by the smallest fitting standby, the failback
// and a ledger that finds the footage on the standby.
func TestQuickstartTellsTheWholeStory(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"[advanced-mode-disabled]",
		"[no-empty-recording-space]",
		"[camera-list-not-empty]",
		"[insufficient-license-channels]",
		"nvr-lobby  takeover-succeeded (standby-a, epoch 1)",
		"nvr-lobby  failback-completed (standby-a, epoch 2)",
		"standby-a  Normal, protecting -> Normal, protection ready",
		"standby-a  epoch 1",
		"recording gap: 1.40s",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	var again bytes.Buffer
	if err := run(&again); err != nil {
		t.Fatal(err)
	}
	if again.String() != s {
		t.Error("two runs printed different output; the quickstart must be deterministic")
	}
}
