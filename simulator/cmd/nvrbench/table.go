package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"unicode/utf8"
)

// textWidth is the widest line the text table prints, so that it reads in
// a terminal of 100 columns.
const textWidth = 100

// columnCaps bounds each column of the text table (figure, target,
// measured, baseline, oracle, ratio, met); with a gap of two between
// columns they add up to at most textWidth, and the target column takes
// ">= 1,000,000" and "(32 failures)" whole. A longer cell wraps onto lines of its
// own.
var columnCaps = [...]int{25, 12, 16, 12, 12, 6, 3}

// writeText prints rows as a table of at most textWidth columns. A row with
// nothing but a figure is a heading (a campaign's worlds, say) and is
// printed across the table; a cell too wide for its column wraps at spaces.
func writeText(w io.Writer, rows []row) {
	cells := func(r row) [7]string {
		return [7]string{r.Figure, r.Target, r.Measured, r.Baseline, r.Oracle, r.Ratio, r.Met}
	}
	header := row{Figure: "figure", Target: "target", Measured: "measured", Baseline: "baseline", Oracle: "oracle",
		Ratio: "ratio", Met: "met"}
	var widths [7]int
	for i, h := range cells(header) {
		widths[i] = len(h)
	}
	for _, r := range rows {
		if heading(r) {
			continue
		}
		for i, c := range cells(r) {
			widths[i] = max(widths[i], min(utf8.RuneCountInString(c), columnCaps[i]))
		}
	}
	line := func(cs [7]string) {
		var wrapped [7][]string
		n := 1
		for i, c := range cs {
			wrapped[i] = wrap(c, widths[i])
			n = max(n, len(wrapped[i]))
		}
		for l := range n {
			var b strings.Builder
			for i := range cs {
				var s string
				if l < len(wrapped[i]) {
					s = wrapped[i][l]
				}
				if i < len(cs)-1 {
					fmt.Fprintf(&b, "%-*s  ", widths[i], s)
				} else {
					b.WriteString(s)
				}
			}
			fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		}
	}
	line(cells(header))
	for _, r := range rows {
		if heading(r) {
			for _, l := range wrap(r.Figure, textWidth) {
				fmt.Fprintln(w, l)
			}
			continue
		}
		line(cells(r))
	}
}

// heading reports whether r names a part of the table rather than a figure.
func heading(r row) bool {
	return r.Target == "" && r.Measured == "" && r.Baseline == "" && r.Oracle == "" && r.Ratio == "" && r.Met == ""
}

// wrap breaks s into lines of at most width characters, at spaces where
// it can.
func wrap(s string, width int) []string {
	rs := []rune(s)
	if len(rs) <= width || width <= 0 {
		return []string{s}
	}
	var out []string
	for len(rs) > width {
		cut := width
		for i := width; i > 0; i-- {
			if rs[i] == ' ' {
				cut = i
				break
			}
		}
		out = append(out, strings.TrimRight(string(rs[:cut]), " "))
		rs = []rune(strings.TrimLeft(string(rs[cut:]), " "))
	}
	if len(rs) > 0 {
		out = append(out, string(rs))
	}
	return out
}

// busyNote returns a warning when the machine was too busy for cost
// figures to mean anything: a one-minute load average, taken after the
// measurements, above the number of cores means other work competed for
// them (this command's own measurements use at most one core at a time,
// but for the campaign's workers). It returns "" when the load is low or
// cannot be read.
func busyNote(loadavg string, cores int) string {
	fields := strings.Fields(loadavg)
	if len(fields) == 0 {
		return ""
	}
	load, err := strconv.ParseFloat(fields[0], 64)
	if err != nil || load <= float64(cores) {
		return ""
	}
	return fmt.Sprintf("note: the machine was busy (load %.1f on %d cores): the cost figures (machine, sim, http) "+
		"measure the neighbours too; compare ratios from one run, or run again on a quiet machine", load, cores)
}

// machineBusy reads the load average of this machine; "" where there is none.
func machineBusy() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	return busyNote(string(b), runtime.NumCPU())
}
