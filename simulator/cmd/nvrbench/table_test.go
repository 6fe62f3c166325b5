package main

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// The text table fits a terminal of 100 columns whatever its cells, and
// loses none of their words; the oracle's column lines up under its
// header.
func TestTextTableFits100Columns(t *testing.T) {
	rows := []row{
		{Figure: "noisy LAN: 5 worlds of 1h0m0s, seeds 1-5, 20s, which is a heading long enough to need a second line of its own"},
		{Figure: "controller CPU probing 8 agents every 200ms (httptransport defaults; baseline: every probe over HTTP)",
			Target: "<= 10% of a core (1,024)", Measured: "1.2% (293 µs/probe)", Ratio: "0.41", Met: "yes"},
		{Figure: "protected servers and channels, 32 of 48 recording servers failing at once with 16 standbys",
			Target: "= optimum", Measured: "optimum in 3/3 groups", Baseline: "first-fit: 76.2% of the optimum's channels (worst 70.4%)", Met: "yes"},
		{Figure: "time to detect p99", Target: "<= 2s", Measured: "1.521s", Baseline: "5.353s", Oracle: "1.045s", Ratio: "0.28", Met: "yes"},
		{Figure: "  95% interval of nvrha ÷ base", Target: "below 1", Measured: "0.40 to ∞", Met: "no"},
		{Figure: "  95% interval of nvrha - base", Measured: "-1234567s to -1100000s"},
		{Figure: "camera availability", Measured: "99.99781%", Baseline: "99.99460%", Oracle: "99.99821%"},
		{Figure: "lost ÷ all", Measured: "564s", Baseline: "1392s", Oracle: "462s", Ratio: "0.41"},
		// The widest targets and ratios the costs print keep their words whole.
		{Figure: "Machine probe results/s, 1024 servers (1 core)", Target: ">= 1,000,000", Measured: "2,612,114", Met: "yes"},
		{Figure: "the Tick that assigns standbys", Target: "<= 50µs (32 failures)", Measured: "38µs", Met: "yes"},
		{Figure: "bytes per persisted change", Measured: "2,012 B", Baseline: "1,792,221 B", Ratio: "0.0011"},
	}
	var b bytes.Buffer
	writeText(&b, rows)
	out := b.String()
	for i, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if n := len([]rune(l)); n > textWidth {
			t.Errorf("line %d is %d columns: %q", i+1, n, l)
		}
	}
	lines := strings.Split(out, "\n")
	col := strings.Index(lines[0], "oracle")
	for _, l := range lines {
		for _, oracle := range []string{"99.99821%", "462s"} {
			if i := strings.Index(l, oracle); i >= 0 && utf8.RuneCountInString(l[:i]) != col {
				t.Errorf("the oracle's %s at column %d, its header at %d:\n%s", oracle, utf8.RuneCountInString(l[:i]), col, out)
			}
		}
	}
	words := strings.Fields(out)
	for _, r := range rows {
		for _, c := range []string{r.Figure, r.Target, r.Measured, r.Baseline, r.Oracle, r.Ratio, r.Met} {
			for _, word := range strings.Fields(c) {
				if !containsWord(words, word) {
					t.Errorf("%q lost in:\n%s", word, out)
				}
			}
		}
	}
}

func containsWord(words []string, w string) bool {
	for _, x := range words {
		if x == w {
			return true
		}
	}
	return false
}

func TestBusyNote(t *testing.T) {
	if n := busyNote("5.31 4.02 3.00 3/512 9999", 2); !strings.Contains(n, "load 5.3 on 2 cores") {
		t.Errorf("a load of 5.3 on 2 cores gives %q", n)
	}
	if n := busyNote("0.40 0.52 0.60 1/200 42", 2); n != "" {
		t.Errorf("a quiet machine gives %q", n)
	}
	if n := busyNote("", 2); n != "" {
		t.Errorf("no load average gives %q", n)
	}
}
