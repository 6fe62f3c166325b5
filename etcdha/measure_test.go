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
	spend, err := time.ParseDuration(os.Getenv("NVRHA_MEASURE_FAILOVER"))
	if err != nil {
		t.Skip("set NVRHA_MEASURE_FAILOVER to a duration to measure")
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
					f := newFleet(t)
					a, b, _ := midTakeover(t, e, f, fmt.Sprintf("/m%d-%d/", w, i), etcdha.DefaultLeaseTTL, e.endpoint)
					killed := time.Now()
					a.kill()
					b.waitRole(etcdha.RoleLeader, 3*etcdha.DefaultLeaseTTL)
					f.setBlock(nil)
					ev := b.waitEvent(10*time.Second, "takeover of rec-1", isTakeoverOfRec1)
					mu.Lock()
					times = append(times, ev.At.Sub(killed))
					mu.Unlock()
				})
			}
		})
	}
	wg.Wait()
	slices.Sort(times)
	if len(times) == 0 {
		t.Fatal("no run finished")
	}
	q := func(p float64) time.Duration { return times[min(len(times)-1, int(p*float64(len(times))))] }
	t.Logf("leader killed mid-takeover -> takeover done by the follower, lease %v, %d runs: min %v, p50 %v, p99 %v, max %v",
		etcdha.DefaultLeaseTTL, len(times), times[0].Round(time.Millisecond), q(0.5).Round(time.Millisecond),
		q(0.99).Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond))
	if p99 := q(0.99); p99 > etcdha.DefaultLeaseTTL+time.Second {
		t.Errorf("p99 %v, want within the lease + 1s", p99)
	}
}
