package main

import (
	"context"
	"strings"
	"testing"
)

func TestThreeCenters(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"-lease", "1s"}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"leads (term", "takeover-succeeded rec-1", "dies with its host", "failback-completed rec-1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
