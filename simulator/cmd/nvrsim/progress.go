package main

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/nvrha/nvrha/simulator"
)

// autoAfter is how long a run must have taken before the automatic
// progress bar appears: short runs print nothing but their result.
const autoAfter = time.Second

// meter drives worlds with World.RunUntil in steps of simulated time and
// draws a progress bar of the simulated time on stderr.
type meter struct {
	out   io.Writer
	on    bool // draw it at once
	auto  bool // draw it once the run has taken autoAfter
	total time.Duration
	past  time.Duration // simulated time of the runs already over
	began time.Time
	bar   *progressbar.ProgressBar
}

func newMeter(out io.Writer, f progressFlag, terminal bool) *meter {
	return &meter{out: out, on: f.set && f.on, auto: !f.set && terminal, began: time.Now()}
}

// plan adds d of simulated time to what the bar counts to.
func (m *meter) plan(d time.Duration) { m.total += d }

// run runs w to its end and returns its report.
func (m *meter) run(w *simulator.World, label string) *simulator.Report {
	d := w.Config().Duration
	step := max(d/1000, 100*time.Millisecond)
	for t := step; ; t += step {
		t = min(t, d)
		more := w.RunUntil(t)
		m.show(m.past+t, label)
		if !more || t >= d {
			break
		}
	}
	m.past += d
	return w.Report()
}

func (m *meter) show(at time.Duration, label string) {
	if m.bar == nil {
		if !m.on && !(m.auto && time.Since(m.began) >= autoAfter) {
			return
		}
		m.bar = progressbar.NewOptions64(int64(m.total/time.Second),
			progressbar.OptionSetWriter(m.out),
			progressbar.OptionSetDescription(label),
			progressbar.OptionSetWidth(32),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("simulated s"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetRenderBlankState(true),
		)
	}
	m.bar.Describe(label)
	_ = m.bar.Set64(int64(at / time.Second))
}

// done clears the bar.
func (m *meter) done() {
	if m.bar != nil {
		_ = m.bar.Finish()
		m.bar = nil
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
