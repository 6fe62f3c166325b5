package report

import (
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
)

// TestScarcityEfficiency: rec-1 (8 cameras) and rec-2 (4 cameras) fail
// together and their one standby can cover only one of them. Covering
// rec-1 is the best choice (efficiency 1); covering rec-2 records half of
// what it could (0.5). When only one fails there is no scarcity.
func TestScarcityEfficiency(t *testing.T) {
	world := history.WorldSpec{Groups: []history.GroupSpec{{
		Recording: []history.ServerSpec{{ID: "rec-1", Channels: 16, Cameras: 8}, {ID: "rec-2", Channels: 16, Cameras: 4}},
		Standby:   []history.ServerSpec{{ID: "sb-1", Channels: 32}},
	}}}
	run := func(fail []string, covered string) Scarcity {
		v := history.NewStatic(world, failover.Config{})
		m := NewMeasures(v)
		at := observeAt(v, m)
		for _, s := range v.Truth {
			if len(s.OwnCams) > 0 {
				m.Observe(&history.Event{Kind: history.FootageChanged, Server: s.Index, On: true, Cams: s.OwnCams})
			}
		}
		at(time.Second, &history.Event{Kind: history.Tick})
		for _, id := range fail {
			s := v.S(nvrha.ServerID(id))
			s.Crashed, s.Own.On = true, false
			at(time.Second, &history.Event{Kind: history.FootageChanged, Server: s.Index, Cams: s.OwnCams},
				&history.Event{Kind: history.FaultStarted, Server: s.Index, Fault: history.FaultCrash})
		}
		rec := v.S(nvrha.ServerID(covered))
		at(time.Second, &history.Event{Kind: history.FootageChanged, Server: v.S("sb-1").Index, Cover: true, On: true,
			Cams: rec.OwnCams, Of: rec.ID})
		for k := 2; k <= 4; k++ {
			at(time.Duration(k)*time.Second, &history.Event{Kind: history.Tick})
		}
		var r Report
		m.Fill(&r, false)
		return r.Scarcity
	}
	if s := run([]string{"rec-1", "rec-2"}, "rec-1"); s.Time != 3*time.Second || s.Optimal != 24*time.Second ||
		s.Efficiency() != 1 {
		t.Errorf("the best cover: %+v, efficiency %v; want 3s scarce, 24s optimal, efficiency 1", s, s.Efficiency())
	}
	if s := run([]string{"rec-1", "rec-2"}, "rec-2"); s.Optimal != 24*time.Second || s.Covered != 12*time.Second ||
		s.Efficiency() != 0.5 {
		t.Errorf("the smaller server covered: %+v, efficiency %v; want 12s of 24s, 0.5", s, s.Efficiency())
	}
	if s := run([]string{"rec-1"}, "rec-1"); s.Time != 0 || s.Efficiency() != 1 {
		t.Errorf("one failure, one standby: %+v; want no scarcity", s)
	}
}
