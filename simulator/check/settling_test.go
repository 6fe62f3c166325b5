package check

import (
	"testing"
	"time"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/failover/detector"
	"github.com/nvrha/nvrha/simulator/history"
)

// TestShortPauseDeclaredFailed: a server declared failed while it was
// neither down nor disturbed within the detection budget breaks invariant
// 7; one disturbed a moment ago does not.
func TestShortPauseDeclaredFailed(t *testing.T) {
	for _, disturbed := range []bool{true, false} {
		v, c, s := small(t)
		v.At = time.Minute
		if disturbed {
			v.S("rec-1").DisturbedAt = v.At - time.Second
		}
		c.Observe(v.Event(history.Event{Kind: history.MachineEvent, MachineEvent: &failover.Event{Kind: failover.EventServerDown, Server: "rec-1"}}))
		if disturbed {
			wantNone(t, s)
		} else {
			wantViolation(t, s, 7, "rec-1 declared failed, but it only paused within the acceptable pause")
		}
	}
}

// TestConsecutiveMissSilenceAroundAPause replays seed 6396 of the
// baseline's batch: a consecutive-miss detector (probes every 500 ms,
// 400 ms timeout, 5 s acceptable pause) finds rec-1 failed just after a
// 4.8 s pause, counting from its last answer before the pause. That is
// the detector's own rule, not a violation; a failure declared once the
// answers after the pause are due is one, and a phi accrual detector is
// held to the pause alone.
func TestConsecutiveMissSilenceAroundAPause(t *testing.T) {
	miss := detector.Config{Kind: detector.KindConsecutiveMiss, ProbeInterval: 500 * time.Millisecond, Misses: 10,
		AcceptablePause: 5 * time.Second}
	phi := detector.Config{Kind: detector.KindPhiAccrual, AcceptablePause: 5 * time.Second}
	for _, tc := range []struct {
		name     string
		det      detector.Config
		declared time.Duration // after the pause ends
		violated bool
	}{
		{"consecutive misses, just after the pause", miss, 70 * time.Millisecond, false},
		{"consecutive misses, once answers are due", miss, 2 * time.Second, true},
		{"phi accrual, just after the pause", phi, 70 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := history.NewStatic(history.UniformWorld(1, 2, 2, 4, 0, 0), failover.Config{Detector: tc.det})
			s := &sink{}
			c := New(v, s, nil)
			pause := 4800 * time.Millisecond
			rec := v.S("rec-1")
			rec.PausedAt, rec.PauseUntil = time.Minute, time.Minute+pause
			v.At = rec.PauseUntil + tc.declared
			c.Observe(v.Event(history.Event{Kind: history.MachineEvent, MachineEvent: &failover.Event{Kind: failover.EventServerDown, Server: "rec-1"}}))
			if tc.violated {
				wantViolation(t, s, 7, "rec-1 declared failed, but it only paused within the acceptable pause")
			} else {
				wantNone(t, s)
			}
		})
	}
}

// TestHoldDownOfTheOutageAPauseCauses replays the shape of seed 178 of the
// default world: rec-1 had two outages in the flap window when a long
// pause starts; the disturbance is noted until the pause's end, but the
// outage it causes is noted (failover.State's Failovers) only when the
// Machine declares rec-1 failed, a moment later. The Machine then holds
// rec-1's failback for a hold-down doubled twice (2 minutes), and
// assignments have not settled before that.
func TestHoldDownOfTheOutageAPauseCauses(t *testing.T) {
	for _, tc := range []struct {
		failback time.Duration // after the pause
		broken   bool
	}{{2*time.Minute + 50*time.Millisecond, false}, {10 * time.Minute, true}} {
		v, c, s := small(t)
		m := withMachine(v)
		outages := func(at ...time.Duration) {
			var fo []time.Time
			for _, d := range at {
				fo = append(fo, history.Abs(d))
			}
			st := &failover.State{Groups: []failover.GroupState{{ID: failover.DefaultGroupID, Members: []failover.MemberState{
				{Facts: v.S("rec-1").Facts, Role: failover.RoleRecording, Enabled: true, Failovers: fo}}}}}
			v.Centre.Persisted = st
			c.Observe(v.Event(history.Event{Kind: history.Persisted, State: st}))
		}
		event := func(k failover.EventKind) {
			c.Observe(v.Event(history.Event{Kind: history.MachineEvent, MachineEvent: &failover.Event{Kind: k, Server: "rec-1", Peer: "sb-1"}}))
		}
		m.Snap = v.Snapshot()
		outages(20*time.Minute, 24*time.Minute)
		v.At = 28 * time.Minute
		pause := 20 * time.Second
		rec := v.S("rec-1")
		rec.Paused, rec.PausedLong, rec.PauseUntil = true, true, v.At+pause
		rec.DisturbedAt, v.Last = v.At+pause, v.At+pause
		ticks(v, c, v.At+1300*time.Millisecond)
		outages(20*time.Minute, 24*time.Minute, v.At)
		event(failover.EventServerDown)
		event(failover.EventTakeoverStarted)
		ticks(v, c, rec.PauseUntil)
		rec.Paused, rec.PausedLong = false, false
		event(failover.EventServerUp)
		ticks(v, c, rec.PauseUntil+tc.failback)
		event(failover.EventFailbackStarted)
		if tc.broken {
			wantViolation(t, s, 7, "failback-started rec-1")
		} else {
			wantNone(t, s)
		}
	}
}
