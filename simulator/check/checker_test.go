package check

import (
	"strings"
	"testing"
	"time"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
)

// The tests of this package are hand-written histories: a Static view of
// a small world, the events the world would report, and the changes to
// the view between them.

// sink records what a Checker reports.
type sink struct {
	notes      []string
	violations int
	inv        int
	detail     string
}

func (s *sink) Note(line string) { s.notes = append(s.notes, line) }

func (s *sink) Violated(inv int, detail string) {
	s.violations++
	s.inv, s.detail = inv, detail
}

// small is a world of one group: rec-1 and rec-2 with 4 cameras (16
// channels), sb-1 and sb-2 with 32 channels, a checker on it, and what
// the checker reports.
func small(t *testing.T) (*history.Static, *Checker, *sink) {
	t.Helper()
	v := history.NewStatic(history.UniformWorld(1, 2, 2, 4, 0, 0), failover.Config{})
	s := &sink{}
	return v, New(v, s, nil), s
}

// withMachine gives v a Machine that shows the world as set up, no
// takeover running, and a persisted State.
func withMachine(v *history.Static) *history.Canned {
	m := &history.Canned{Snap: v.Snapshot()}
	v.M = m
	v.Centre.Persisted = &failover.State{}
	return m
}

func wantViolation(t *testing.T, s *sink, inv int, detail string) {
	t.Helper()
	if s.violations != 1 || s.inv != inv || !strings.Contains(s.detail, detail) {
		t.Fatalf("got %d violations, the last of invariant %d: %q; want one of invariant %d containing %q",
			s.violations, s.inv, s.detail, inv, detail)
	}
}

func wantNone(t *testing.T, s *sink) {
	t.Helper()
	if s.violations != 0 {
		t.Fatalf("invariant %d violated: %s", s.inv, s.detail)
	}
}

// ticks shows the checker a tick every 50 ms from v.At to until.
func ticks(v *history.Static, c *Checker, until time.Duration) {
	for ; v.At <= until && !c.Failed(); v.At += 50 * time.Millisecond {
		c.Observe(v.Event(history.Event{Kind: history.Tick}))
		c.Observe(v.Event(history.Event{Kind: history.Done}))
	}
}

// TestFirstViolationOnly: after a violation the checker reports nothing
// more, whatever follows.
func TestFirstViolationOnly(t *testing.T) {
	v, c, s := small(t)
	c.Observe(v.Event(history.Event{Kind: history.ReadyStuck, Round: 64}))
	c.Observe(v.Event(history.Event{Kind: history.ReadyStuck, Round: 64}))
	wantViolation(t, s, 0, "after 64 rounds")
}

// TestKnownIssueTolerated: a known issue is a violation of its invariant
// unless the Checker tolerates it; tolerated, it is counted in Known and
// the run goes on.
func TestKnownIssueTolerated(t *testing.T) {
	saved := knownIssues
	t.Cleanup(func() { knownIssues = saved })
	knownIssues = []KnownIssue{{ID: "some-defect", Invariant: 4, Description: "a defect"}}
	for _, tolerate := range []bool{false, true} {
		v := history.NewStatic(history.UniformWorld(1, 2, 2, 4, 0, 0), failover.Config{})
		s := &sink{}
		var tol []string
		if tolerate {
			tol = []string{"some-defect"}
		}
		withMachine(v)
		c := New(v, s, tol)
		v.At = time.Second
		for range 3 {
			c.Observe(v.Event(history.Event{Kind: history.Tick}))
			c.knownIssue("some-defect", "it happened")
		}
		if !tolerate {
			wantViolation(t, s, 4, "it happened")
			continue
		}
		wantNone(t, s)
		if k := c.Known(); len(k) != 1 || k[0].ID != "some-defect" || k[0].Count != 3 || k[0].First != time.Second || k[0].Detail != "it happened" {
			t.Fatalf("known issues %+v, want some-defect 3 times from 1s", k)
		}
	}
}
