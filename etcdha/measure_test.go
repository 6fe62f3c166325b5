package etcdha_test

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nvrha/nvrha/etcdha"
)

// TestMeasureCenterFailover measures, at the default lease, how long after
// the leader dies mid-takeover the follower has finished that takeover. It
// runs only when NVRHA_MEASURE_FAILOVER names a duration to spend, e.g.
//
//	NVRHA_MEASURE_FAILOVER=2m go test -run TestMeasureCenterFailover -v ./etcdha
//
// Four pairs of centers run at once, each pair on its own prefix of one
// embedded etcd, one kill after another until the time is spent.
func TestMeasureCenterFailover(t *testing.T) {
	times := measure(t, "NVRHA_MEASURE_FAILOVER", func(t *testing.T, e *testEtcd, prefix string) time.Duration {
		f := newFleet(t)
		a, b, _ := midTakeover(t, e, f, prefix, etcdha.DefaultLeaseTTL)
		killed := time.Now()
		a.kill()
		b.waitRole(etcdha.RoleLeader, 3*etcdha.DefaultLeaseTTL)
		f.setBlock(nil)
		ev := b.waitEvent(10*time.Second, "takeover of rec-1", isTakeoverOfRec1)
		return ev.At.Sub(killed)
	})
	report(t, "leader killed mid-takeover -> takeover done by the follower", times, etcdha.DefaultLeaseTTL+time.Second)
}

// TestMeasureCrashDuringCenterFailover measures, at the default lease, how
// long after a recording server crashes at the instant the leading center
// dies a standby records its cameras for the follower: the worst moment
// for a crash during a center failover, as no center watches it for a
// whole lease and the new leader has no probe history of it. It runs only
// when NVRHA_MEASURE_CRASH_FAILOVER names a duration to spend, e.g.
//
//	NVRHA_MEASURE_CRASH_FAILOVER=4m go test -run TestMeasureCrashDuringCenterFailover -v ./etcdha
//
// as TestMeasureCenterFailover runs.
func TestMeasureCrashDuringCenterFailover(t *testing.T) {
	times := measure(t, "NVRHA_MEASURE_CRASH_FAILOVER", func(t *testing.T, e *testEtcd, prefix string) time.Duration {
		return crashDuringFailover(t, e, newFleet(t), prefix, etcdha.DefaultLeaseTTL, false)
	})
	report(t, "recording server crashed as the leader died -> recording on a standby for the follower", times,
		etcdha.DefaultLeaseTTL+crashDetection+2*time.Second)
}

// measure runs run over and over, in four pairs of centers at once on
// prefixes of their own of one embedded etcd, until the duration the
// environment variable env names is spent, and returns the durations run
// returned, sorted. It skips the test unless env is set.
func measure(t *testing.T, env string, run func(t *testing.T, e *testEtcd, prefix string) time.Duration) []time.Duration {
	spend, err := time.ParseDuration(os.Getenv(env))
	if err != nil {
		t.Skipf("set %s to a duration to measure", env)
	}
	e := startEtcd(t)
	end := time.Now().Add(spend)
	var (
		mu    sync.Mutex
		times []time.Duration
		wg    sync.WaitGroup
	)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; time.Now().Add(etcdha.DefaultLeaseTTL + 3*time.Second).Before(end); i++ {
				t.Run(fmt.Sprintf("w%d-%d", w, i), func(t *testing.T) {
					d := run(t, e, fmt.Sprintf("/m%d-%d/", w, i))
					mu.Lock()
					times = append(times, d)
					mu.Unlock()
				})
			}
		})
	}
	wg.Wait()
	slices.Sort(times)
	return times
}

// report logs the distribution of times and fails the test if its p99 is
// above limit.
func report(t *testing.T, what string, times []time.Duration, limit time.Duration) {
	t.Helper()
	if len(times) == 0 {
		t.Fatal("no run finished")
	}
	q := func(p float64) time.Duration { return times[min(len(times)-1, int(p*float64(len(times))))] }
	t.Logf("%s, lease %v, %d runs: min %v, p50 %v, p99 %v, max %v", what,
		etcdha.DefaultLeaseTTL, len(times), times[0].Round(time.Millisecond), q(0.5).Round(time.Millisecond),
		q(0.99).Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond))
	if p99 := q(0.99); p99 > limit {
		t.Errorf("p99 %v, want within %v", p99, limit)
	}
}
