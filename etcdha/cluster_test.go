package etcdha_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/nvrha/nvrha/etcdha"
	"github.com/nvrha/nvrha/etcdha/internal/etcdtest"
)

// TestEtcdMemberLostMidTakeover loses one member of a three-member etcd
// cluster while the leading center is in the middle of a takeover; both
// centers reach etcd through all three members. Whether the leader keeps
// its term through the loss or the follower takes over, the takeover is
// finished once, by sb-1 under the saved epoch; no order of a term gets
// through once one of a newer term has; no epoch etcd ever held goes down;
// nothing of the ledger is lost.
//
// The etcd client spreads its requests over every member (round robin),
// so the member the leader's client talks to is any member: losing Raft's
// leader also stops the writes until another is elected, losing a
// follower member breaks the streams (watches, keep-alives) it served.
// In the last case the leading center dies with the member, as when both
// share a host: the follower is elected by the two members left, whatever
// its watch of the State was on.
func TestEtcdMemberLostMidTakeover(t *testing.T) {
	for _, tc := range []struct {
		name       string
		leader     bool // lose Raft's leader, or a member that follows
		crash      bool // Crash, or Stop
		killCenter bool // kill center-a too
	}{
		{"etcd leader crashes", true, true, false},
		{"etcd leader stops", true, false, false},
		{"etcd follower crashes", false, true, false},
		{"etcd leader crashes with the leading center", true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startEtcdCluster(t, 3)
			f := newFleet(t)
			const prefix = "/member/"
			a, b, h := midTakeover(t, e, f, prefix, testTTL)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			leader, err := etcdtest.LeaderOf(ctx, e.members)
			if err != nil {
				t.Fatal(err)
			}
			victim := leader
			if !tc.leader {
				victim = e.members[(slices.Index(e.members, leader)+1)%len(e.members)]
			}
			var survivors []string
			for _, m := range e.members {
				if m != victim {
					survivors = append(survivors, m.URL)
				}
			}
			lost := time.Now()
			if tc.crash {
				victim.Crash()
			} else {
				go victim.Stop()
			}
			if tc.killCenter {
				a.kill()
			}
			// Hold the takeover until the cluster of two writes again and
			// a center leads through it: then it is that center, with the
			// term etcd says it holds, that finishes it.
			cli := e.client(survivors...)
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				// Short tries: a write that Raft's lost leader was to commit
				// waits etcd's whole request timeout (5 s) for nothing, and
				// the takeover would be given up meanwhile.
				pctx, pcancel := context.WithTimeout(ctx, 100*time.Millisecond)
				_, err := cli.Put(pctx, prefix+"probe", "x")
				pcancel()
				if err == nil {
					break
				}
				select {
				case <-ctx.Done():
					t.Fatalf("the two members left took no write within 10s: %v", err)
				case <-tick.C:
				}
			}
			wrote := time.Since(lost)
			name, term := waitLeading(t, cli, prefix, a, b)
			f.setBlock(nil)
			final := a
			if name == b.name {
				final = b
			}
			final.waitEvent(10*time.Second, "takeover of rec-1", isTakeoverOfRec1)
			done := time.Since(lost)
			t.Logf("member %s lost (%s); the two left wrote after %v; %s leads at term %d (was %d); takeover done after %v",
				victim.Name, tc.name, wrote.Round(time.Millisecond), name, term, h.oldTerm, done.Round(time.Millisecond))
			h.newTerm = term
			if tc.killCenter && name != b.name {
				t.Fatalf("%s leads after center-a was killed", name)
			}
			if term == h.oldTerm {
				checkTakeoverOnce(t, f, final, h)
			} else {
				checkHandover(t, f, final, h)
			}
			if got := f.agents["sb-1"].Term(); got != term {
				t.Errorf("sb-1 is at term %d, want the leader's %d", got, term)
			}
			checkEpochsOnlyGrow(t, cli, prefix)
		})
	}
}

// waitLeading polls etcd until it names one of centers as the leader and
// that center leads, at the term etcd says, and returns its name and term.
func waitLeading(t *testing.T, cli *clientv3.Client, prefix string, centers ...*testCenter) (string, uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if resp, err := cli.Get(ctx, prefix+"leader/", clientv3.WithFirstCreate()...); err == nil && len(resp.Kvs) > 0 {
			name, term := string(resp.Kvs[0].Value), uint64(resp.Kvs[0].CreateRevision)
			for _, c := range centers {
				if s, _ := c.node.Status(); c.name == name && s.Role == etcdha.RoleLeader && s.Term == term {
					return name, term
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatal("no center led within 10s, as etcd says")
		case <-tick.C:
		}
	}
}

// checkEpochsOnlyGrow reads every value the state's epoch keys ever had in
// etcd, in the order of its revisions, and checks that none went down and
// none was deleted.
func checkEpochsOnlyGrow(t *testing.T, cli *clientv3.Client, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dir := prefix + "state/epoch/"
	now, err := cli.Get(ctx, dir, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(now.Kvs) == 0 {
		t.Fatal("no epoch in etcd")
	}
	last := map[string]uint64{}
	wch := cli.Watch(clientv3.WithRequireLeader(ctx), dir, clientv3.WithPrefix(), clientv3.WithRev(1))
	for wr := range wch {
		if err := wr.Err(); err != nil {
			t.Fatal(err)
		}
		for _, ev := range wr.Events {
			key := strings.TrimPrefix(string(ev.Kv.Key), dir)
			if ev.Type == clientv3.EventTypeDelete {
				t.Errorf("the epoch of %s was deleted at revision %d", key, ev.Kv.ModRevision)
				continue
			}
			v, err := strconv.ParseUint(string(ev.Kv.Value), 10, 64)
			if err != nil {
				t.Fatalf("epoch of %s: %v", key, err)
			}
			if v < last[key] {
				t.Errorf("the epoch of %s went from %d down to %d at revision %d", key, last[key], v, ev.Kv.ModRevision)
			}
			last[key] = v
		}
		if wr.Header.Revision >= now.Header.Revision {
			break
		}
	}
	for _, kv := range now.Kvs {
		key := strings.TrimPrefix(string(kv.Key), dir)
		if fmt.Sprint(last[key]) != string(kv.Value) {
			t.Errorf("the history of %s's epoch ends at %d, etcd holds %s", key, last[key], kv.Value)
		}
	}
}
