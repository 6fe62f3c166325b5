package report

import (
	"testing"
	"time"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
	"github.com/nvrha/nvrha/status"
)

// TestCentersMeasures measures two hand-written failovers of three
// centers: at 10 s the leader crashes, rec-1 crashes at 11 s while sb-1 is
// ready, the next leader's first probe leaves at 14.5 s and sb-1 records
// rec-1's cameras from 16 s; at 100 s the leader crashes again, and the
// store goes down during that failover, which is then not clean.
func TestCentersMeasures(t *testing.T) {
	v, m, at := threeCenters()
	rec, sb := v.S("rec-1"), v.S("sb-1")
	probe := &history.Event{Kind: history.CommandSent, Known: true, Command: &failover.Command{ID: 1, Kind: failover.CmdProbe, Server: "rec-2"}}
	crashMidFailover(v, at)
	v.Centre.Up, v.Centre.Elections = true, 2
	at(14500*time.Millisecond, probe)
	at(16*time.Second, &history.Event{Kind: history.FootageChanged, Server: sb.Index, Cover: true, On: true, Cams: rec.OwnCams, Of: "rec-1"})

	v.Centre.Up = false
	at(100*time.Second, &history.Event{Kind: history.CenterCrash, Detail: "crash"})
	at(101*time.Second, &history.Event{Kind: history.ActionTaken, Action: &history.Action{Verb: "store-down"}, Fault: history.FaultStoreUnavailable})
	v.Centre.Up, v.Centre.Elections = true, 3
	at(120*time.Second, probe)
	at(130*time.Second, &history.Event{Kind: history.Finish})

	var r Report
	m.Fill(&r, true)
	c := r.Centers
	if c == nil || c.Elections != 3 || c.LeaderCrashes != 2 || c.ResumeTarget != 6*time.Second {
		t.Fatalf("centers %+v", c)
	}
	if c.Resume.N != 1 || c.Resume.Max != 4500*time.Millisecond || c.ResumeCompound.N != 1 || c.ResumeCompound.Max != 20*time.Second {
		t.Errorf("resume %+v, compound %+v: want 4.5s for the clean failover, 20s for the other", c.Resume, c.ResumeCompound)
	}
	if c.Covered.N != 1 || c.Covered.Max != 5*time.Second || c.NotCovered != 0 || c.Contended != 0 {
		t.Errorf("covered %+v, not covered %d, contended %d: want rec-1 covered 5s after its crash", c.Covered, c.NotCovered, c.Contended)
	}
}

// TestOneCenterMeasuresNoCenters: a world of one center reports no
// centers part, so that its report is what it was.
func TestOneCenterMeasuresNoCenters(t *testing.T) {
	v := history.NewStatic(history.UniformWorld(1, 2, 1, 4, 0, 0), failover.Config{})
	m := NewMeasures(v)
	m.Observe(v.Event(history.Event{Kind: history.CenterCrash, Detail: "crash"}))
	var r Report
	m.Fill(&r, true)
	if r.Centers != nil {
		t.Errorf("centers %+v", r.Centers)
	}
}

// TestCrashWithoutAStandbyThatFitsIsContended: a recording server that
// crashes during a failover of the centers is measured against the target
// only if a standby of its group could take it over, by the license rule
// the Machine applies (the standby's license channels against the
// recording server's, not its cameras): otherwise it counts as contended.
func TestCrashWithoutAStandbyThatFitsIsContended(t *testing.T) {
	v, m, at := threeCenters()
	rec, sb := v.S("rec-1"), v.S("sb-1")
	rec.Facts.LicenseChannels, sb.Facts.LicenseChannels = 16, 8 // 8 channels cover rec-1's 4 cameras, not its license
	crashMidFailover(v, at)
	at(30*time.Second, &history.Event{Kind: history.Finish})
	var r Report
	m.Fill(&r, true)
	if c := r.Centers; c == nil || c.Contended != 1 || c.Covered.N != 0 || c.NotCovered != 0 {
		t.Fatalf("centers %+v: want rec-1's crash contended", c)
	}
}

// threeCenters is a world of rec-1, rec-2 and sb-1 under three centers
// (lease 5 s), its Measures, and at, which shows the Measures events at
// a time.
func threeCenters() (*history.Static, *Measures, func(time.Duration, ...*history.Event)) {
	v := history.NewStatic(history.UniformWorld(1, 2, 1, 4, 0, 0), failover.Config{})
	v.Set.Centers, v.Set.Lease = 3, 5*time.Second
	v.Centre.Followers, v.Centre.Elections = 2, 1
	m := NewMeasures(v)
	return v, m, observeAt(v, m)
}

// observeAt returns a func that shows m events at a time of v.
func observeAt(v *history.Static, m *Measures) func(time.Duration, ...*history.Event) {
	return func(d time.Duration, events ...*history.Event) {
		v.At = d
		for _, e := range events {
			e.At = d
			m.Observe(e)
		}
	}
}

// crashMidFailover shows sb-1 ready at 1 s, the leading center crashing
// at 10 s and rec-1 crashing at 11 s, before the next leader is up.
func crashMidFailover(v *history.Static, at func(time.Duration, ...*history.Event)) {
	rec := v.S("rec-1")
	at(time.Second, &history.Event{Kind: history.MachineEvent,
		MachineEvent: &failover.Event{Kind: failover.EventStatusChanged, Server: "sb-1", To: status.StandbyNormalProtectionReady.Label()}})
	v.Centre.Up = false
	at(10*time.Second, &history.Event{Kind: history.CenterCrash, Detail: "crash"})
	rec.Crashed = true
	at(11*time.Second, &history.Event{Kind: history.FaultStarted, Server: rec.Index, Fault: history.FaultCrash})
}
