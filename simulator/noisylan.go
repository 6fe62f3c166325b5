package simulator

import (
	_ "embed"
	"strings"
)

//go:embed scenarios/noisy-lan.nvrsim
var noisyLAN string

// NoisyLANScenario returns the standard noisy-LAN scenario of the
// performance figures, scenarios/noisy-lan.nvrsim: one group of 56
// recording servers and 8 standbys with 32 cameras each, 1% message loss
// and 0-100 ms of jitter, random crashes (about one a server-day) and
// pauses of up to the acceptable pause (about two a server-day), camera
// streams that take 1 s to start, for a day. Apply it to a Config and set
// the Seed; nvrbench pools many seeds.
func NoisyLANScenario() *Scenario {
	sc, err := ParseScenario(strings.NewReader(noisyLAN))
	if err != nil {
		// The file is part of the package and TestScenarios parses it.
		panic("simulator: scenarios/noisy-lan.nvrsim: " + err.Error())
	}
	return sc
}
