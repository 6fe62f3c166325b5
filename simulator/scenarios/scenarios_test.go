package scenarios

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/nvrha/nvrha/simulator/scenario"
)

// TestShippedScenariosParse parses every embedded scenario file.
func TestShippedScenariosParse(t *testing.T) {
	names, err := fs.Glob(FS, "*.nvrsim")
	if err != nil || len(names) < 6 {
		t.Fatalf("%d scenario files embedded: %v", len(names), err)
	}
	for _, n := range names {
		text, err := FS.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := scenario.Parse(strings.NewReader(string(text))); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	if sc := NoisyLAN(); len(sc.World.Servers()) != 64 {
		t.Errorf("the noisy LAN has %d servers, want 64", len(sc.World.Servers()))
	}
}
