package report

import (
	"testing"
	"time"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
)

// TestMeasuresOfOneIncident measures a hand-written history: rec-1
// crashes at 10 s, is declared failed at 11 s, sb-1 records its cameras
// from 12.5 s, rec-1 restarts at 60 s, records again from 61 s, and its
// cameras fail back at 62 s.
func TestMeasuresOfOneIncident(t *testing.T) {
	v := history.NewStatic(history.UniformWorld(1, 2, 1, 4, 0, 0), failover.Config{})
	m := NewMeasures(v)
	rec, sb := v.S("rec-1"), v.S("sb-1")
	at := func(d time.Duration, events ...*history.Event) {
		t.Helper()
		v.At = d
		for _, e := range events {
			e.At = d
			m.Observe(e)
		}
	}
	machine := func(k failover.EventKind) *history.Event {
		return &history.Event{Kind: history.MachineEvent, MachineEvent: &failover.Event{Kind: k, Server: "rec-1", Peer: "sb-1"}}
	}
	footage := func(s *history.ServerTruth, cover, on bool) *history.Event {
		return &history.Event{Kind: history.FootageChanged, Server: s.Index, Cover: cover, On: on, Cams: rec.OwnCams, Of: "rec-1"}
	}
	for _, s := range v.Truth {
		if len(s.OwnCams) > 0 {
			m.Observe(&history.Event{Kind: history.FootageChanged, Server: s.Index, On: true, Cams: s.OwnCams})
		}
	}
	rec.Crashed, rec.Own.On = true, false
	at(10*time.Second, footage(rec, false, false), &history.Event{Kind: history.FaultStarted, Server: rec.Index, Fault: history.FaultCrash})
	at(11*time.Second, machine(failover.EventServerDown), machine(failover.EventTakeoverStarted))
	at(12500*time.Millisecond, footage(sb, true, true), machine(failover.EventTakeoverSucceeded))
	rec.Crashed = false
	at(60*time.Second, &history.Event{Kind: history.FaultEnded, Server: rec.Index})
	rec.Own.On = true
	at(61*time.Second, footage(rec, false, true))
	at(62*time.Second, machine(failover.EventFailbackStarted), footage(sb, true, false), machine(failover.EventFailbackCompleted))
	at(62050*time.Millisecond, &history.Event{Kind: history.Tick})
	at(70*time.Second, &history.Event{Kind: history.Finish})

	var r Report
	m.Fill(&r, true)
	if len(r.Incidents) != 1 {
		t.Fatalf("%d incidents, want 1: %+v", len(r.Incidents), r.Incidents)
	}
	inc := r.Incidents[0]
	if !inc.LostFootage || inc.Detect != time.Second || inc.Takeover != 2500*time.Millisecond || inc.Failback != 2*time.Second ||
		inc.Closed != 62050*time.Millisecond {
		t.Errorf("incident %+v: want footage lost, detected after 1s, taken over after 2.5s, failed back 2s after the restart, closed at 62.05s", inc)
	}
	if r.GapPerCamera.N != 4 || r.GapPerCamera.Max != 2500*time.Millisecond || r.GapPerCamera.P50 != 2500*time.Millisecond {
		t.Errorf("gap per camera %+v, want 2.5s for each of 4 cameras", r.GapPerCamera)
	}
	if r.TakeoversConfirmed != 1 || r.Recoveries[history.RecoveryTakeover] != 1 || r.Recoveries[history.RecoveryFailback] != 1 {
		t.Errorf("takeovers %d, recoveries %v", r.TakeoversConfirmed, r.Recoveries)
	}
	if want := 1 - float64(4*2500*time.Millisecond)/float64(8*70*time.Second); r.Availability != want {
		t.Errorf("availability %v, want %v", r.Availability, want)
	}
	if tk := r.TakeoverSpans; len(tk) != 1 || tk[0].Outcome != "failback" || tk[0].Confirmed != 12500*time.Millisecond {
		t.Errorf("takeover spans %+v", tk)
	}
}
