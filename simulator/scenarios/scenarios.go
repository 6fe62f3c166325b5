// Package scenarios holds the scenario files shipped with the simulator:
// scripted incidents, each stating what it expects, and the standard world
// of the performance figures. README.md lists them.
package scenarios

import (
	"embed"
	"strings"

	"github.com/nvrha/nvrha/simulator/scenario"
)

// FS holds every shipped scenario file, by its name.
//
//go:embed *.nvrsim
var FS embed.FS

// NoisyLAN returns the standard noisy-LAN scenario of the performance
// figures, noisy-lan.nvrsim: one group of 56 recording servers and 8
// standbys with 32 cameras each, 1% message loss and 0-100 ms of jitter,
// random crashes (about one a server-day) and pauses of up to the
// acceptable pause (about two a server-day), camera streams that take 1 s
// to start, for a day. Apply it to a Config and set the Seed; nvrbench
// pools many seeds.
func NoisyLAN() *scenario.Scenario {
	text, err := FS.ReadFile("noisy-lan.nvrsim")
	if err != nil {
		panic("scenarios: noisy-lan.nvrsim is not embedded: " + err.Error())
	}
	sc, err := scenario.Parse(strings.NewReader(string(text)))
	if err != nil {
		// The file is part of the package and its tests parse it.
		panic("scenarios: noisy-lan.nvrsim: " + err.Error())
	}
	return sc
}
