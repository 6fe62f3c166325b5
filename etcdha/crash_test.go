package etcdha_test

import (
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/etcdha"
	"github.com/nvrha/nvrha/failover/detector"
	"github.com/nvrha/nvrha/transport"
)

// crashDetection is how long after its last answer a center with the
// failover defaults declares a crashed server failed: about the acceptable
// pause and two probe intervals (1.4 s; docs/performance.md measures it).
const crashDetection = detector.DefaultAcceptablePause + 2*detector.DefaultProbeInterval

// crashDuringFailover brings up centers a and b on prefix with a lease of
// ttl, kills a, and crashes rec-1 at the kill, or once b leads if
// atElection. It checks that b alone ordered the takeover and that one
// standby records rec-1's cameras, and returns how long after the crash
// that standby confirmed the takeover to b.
func crashDuringFailover(t testing.TB, e *testEtcd, f *fleet, prefix string, ttl time.Duration, atElection bool) time.Duration {
	t.Helper()
	a := startCenter(t, e, f, "center-a", prefix, ttl)
	sa := a.waitRole(etcdha.RoleLeader, 10*time.Second)
	b := startCenter(t, e, f, "center-b", prefix, ttl)
	b.waitRole(etcdha.RoleFollower, 10*time.Second)
	a.join(f)
	var crashed time.Time
	if !atElection {
		crashed = time.Now()
		f.agents["rec-1"].Crash()
	}
	a.kill()
	sb := b.waitRole(etcdha.RoleLeader, 3*ttl)
	if atElection {
		crashed = time.Now()
		f.agents["rec-1"].Crash()
	}
	if sb.Term <= sa.Term {
		t.Errorf("center-b leads at term %d, not above center-a's %d", sb.Term, sa.Term)
	}
	ev := b.waitEvent(ttl+crashDetection+10*time.Second, "takeover of rec-1", isTakeoverOfRec1)
	for _, s := range f.sent() {
		if s.method == transport.MethodTakeover && s.term != sb.Term {
			t.Errorf("a takeover was ordered at term %d, not center-b's %d: %+v", s.term, sb.Term, s)
		}
	}
	covering := 0
	for _, id := range []nvrha.ServerID{"sb-1", "sb-2"} {
		if cov, cams := f.agents[id].Covering(); cov == "rec-1" && len(cams) == 2 {
			covering++
		}
	}
	if covering != 1 {
		t.Errorf("%d standbys record rec-1's cameras, want 1", covering)
	}
	return ev.At.Sub(crashed)
}

// TestRecordingServerCrashesDuringCenterFailover crashes a recording
// server while no center leads: at the instant the leader dies (the new
// leader must find the crash on its own, with no probe history), and at
// the instant the follower is elected. A standby records its cameras
// within the lease, the detection and 2 s of the crash.
func TestRecordingServerCrashesDuringCenterFailover(t *testing.T) {
	for _, tc := range []struct {
		name       string
		atElection bool
	}{
		{"at the leader's death", false},
		{"at the follower's election", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startEtcd(t)
			f := newFleet(t)
			took := crashDuringFailover(t, e, f, "/crash/", testTTL, tc.atElection)
			t.Logf("rec-1 crashed %s; a standby records its cameras %v later", tc.name, took.Round(time.Millisecond))
			// TestMeasureCrashDuringCenterFailover measures the figure at
			// the default lease; a second more keeps a loaded machine from
			// failing this.
			if limit := testTTL + crashDetection + 2*time.Second; took > limit+time.Second {
				t.Errorf("a standby recorded rec-1's cameras %v after its crash, want within the lease + detection + 2s (%v)", took, limit)
			}
		})
	}
}
