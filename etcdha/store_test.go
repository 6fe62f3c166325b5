package etcdha_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/etcdha"
	"github.com/nvrha/nvrha/failover"
)

// pad makes an ID of n bytes from a short one, as long as an operator's
// IDs may be.
func pad(id string, n int) string {
	if len(id) >= n {
		return id
	}
	return id + strings.Repeat("x", n-len(id))
}

// sampleState is a State with every part filled: groups of recording
// servers and standbys, epochs, takeovers, owed orders and ledgers of
// ledgerLen intervals for the first cameras.
func sampleState(groups, perGroup, cams, ledgerCams, ledgerLen, idLen int) failover.State {
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	st := failover.State{Version: failover.StateVersion, NextGroupID: failover.GroupID(groups + 1), NextCommandID: 1 << 40}
	for g := range groups {
		gs := failover.GroupState{ID: failover.GroupID(g + 1), Name: fmt.Sprintf("Failover Group %d", g+1), Protection: g%2 == 0}
		for s := range perGroup {
			id := nvrha.ServerID(pad(fmt.Sprintf("g%02d-s%02d", g, s), idLen))
			f := nvrha.Facts{ID: id, Name: "NVR " + string(id[:7]), Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 1024,
				RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", CapacityBytes: 1 << 40}}}
			role := failover.RoleRecording
			if s >= perGroup-2 {
				role = failover.RoleStandby
				f.RecordingSpaces[0].Empty = true
			} else {
				for c := range cams {
					f.Cameras = append(f.Cameras, nvrha.CameraID(pad(fmt.Sprintf("%s/cam-%04d", id[:7], c), idLen)))
				}
			}
			gs.Members = append(gs.Members, failover.MemberState{Facts: f, Role: role, Enabled: true, Priority: s % 3,
				Failovers: []time.Time{t0.Add(time.Duration(s) * time.Minute)}})
			st.Epochs = append(st.Epochs, failover.EpochState{Server: id, Epoch: nvrha.Epoch(s + 1)})
		}
		st.Groups = append(st.Groups, gs)
		rec, sb := gs.Members[0].Facts, gs.Members[perGroup-1].Facts
		st.Takeovers = append(st.Takeovers, failover.TakeoverState{Recording: rec.ID, Standby: sb.ID, Epoch: 1, Since: t0, Started: t0.Add(time.Second), Phase: failover.PhaseActive})
		st.Owed = append(st.Owed, failover.OwedState{Server: gs.Members[perGroup-2].Facts.ID, Kind: failover.CmdRelease, Recording: gs.Members[1].Facts.ID, Epoch: 2, Cameras: gs.Members[1].Facts.Cameras})
		for c, cam := range rec.Cameras {
			if c >= ledgerCams {
				break
			}
			cl := failover.CameraLedger{Camera: cam}
			for i := range ledgerLen {
				from := t0.Add(time.Duration(i) * time.Hour)
				server := rec.ID
				if i%2 == 1 {
					server = sb.ID
				}
				cl.Intervals = append(cl.Intervals, failover.Interval{Server: server, For: rec.ID, Epoch: nvrha.Epoch(i + 1), From: from, To: from.Add(59 * time.Minute)})
			}
			st.Ledger = append(st.Ledger, cl)
		}
	}
	// Epochs are sorted by server, as a Machine writes them.
	for i := 1; i < len(st.Epochs); i++ {
		for j := i; j > 0 && st.Epochs[j].Server < st.Epochs[j-1].Server; j-- {
			st.Epochs[j], st.Epochs[j-1] = st.Epochs[j-1], st.Epochs[j]
		}
	}
	return st
}

// sameState compares two States as a JSON round trip would: what a
// MemoryStore gives back is what a Store must.
func sameState(t *testing.T, got, want failover.State) {
	t.Helper()
	norm := func(st failover.State) string {
		b, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		var back failover.State
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		b, _ = json.Marshal(back)
		return strings.NewReplacer(`"takeovers":null`, `"takeovers":[]`, `"owed":null`, `"owed":[]`,
			`"ledger":null`, `"ledger":[]`, `"epochs":null`, `"epochs":[]`, `"members":null`, `"members":[]`).Replace(string(b))
	}
	if g, w := norm(got), norm(want); g != w {
		t.Fatalf("loaded State differs from the saved one:\n got %.600s\nwant %.600s", g, w)
	}
}

func TestStoreRoundTrip(t *testing.T) {
	e := startEtcd(t)
	cli := e.client()
	ctx := t.Context()
	s := etcdha.NewStore(cli, etcdha.StoreConfig{Prefix: "/rt/"}, nil)
	if _, err := s.Load(ctx); !errors.Is(err, failover.ErrNoState) {
		t.Fatalf("Load of an empty prefix: %v, want ErrNoState", err)
	}
	st := sampleState(3, 6, 4, 2, 5, 16)
	st.Groups[1].Members[0].Facts.Cameras = []nvrha.CameraID{"cam/with/slashes", "Caméra «2» 東", "cam 3"}
	if err := s.Save(ctx, st); err != nil {
		t.Fatal(err)
	}
	for _, store := range []*etcdha.Store{s, etcdha.NewStore(cli, etcdha.StoreConfig{Prefix: "/rt/"}, nil)} {
		got, err := store.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sameState(t, got, st)
	}
	// Another prefix is another State.
	if _, err := etcdha.NewStore(cli, etcdha.StoreConfig{Prefix: "/rt2/"}, nil).Load(ctx); !errors.Is(err, failover.ErrNoState) {
		t.Errorf("Load of another prefix: %v, want ErrNoState", err)
	}
	// A key that belongs to no State is a corrupt store, not an empty one.
	if _, err := cli.Put(ctx, "/rt/state/stray", "{}"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx); !errors.Is(err, failover.ErrCorruptStore) {
		t.Errorf("Load with a stray key: %v, want ErrCorruptStore", err)
	}
}

// modified returns the keys under prefix written at revision rev.
func modified(t *testing.T, cli *clientv3.Client, prefix string, rev int64) []string {
	t.Helper()
	resp, err := cli.Get(t.Context(), prefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, kv := range resp.Kvs {
		if kv.ModRevision == rev {
			keys = append(keys, strings.TrimPrefix(string(kv.Key), prefix))
		}
	}
	return keys
}

func TestStoreWritesOnlyTheKeysThatChanged(t *testing.T) {
	e := startEtcd(t)
	cli := e.client()
	ctx := t.Context()
	s := etcdha.NewStore(cli, etcdha.StoreConfig{Prefix: "/diff/"}, nil)
	st := sampleState(2, 5, 3, 3, 4, 12)
	if err := s.Save(ctx, st); err != nil {
		t.Fatal(err)
	}
	before, err := cli.Get(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	// Saving the same State writes nothing at all.
	if err := s.Save(ctx, st); err != nil {
		t.Fatal(err)
	}
	// One member's refusals, one camera's ledger, one epoch.
	m := &st.Groups[1].Members[2]
	m.Refusals++
	st.Ledger[0].Intervals[3].To = time.Time{}
	st.Epochs[4].Epoch += 10
	if err := s.Save(ctx, st); err != nil {
		t.Fatal(err)
	}
	after, err := cli.Get(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	if got := after.Header.Revision - before.Header.Revision; got != 1 {
		t.Errorf("two saves took %d revisions, want 1: the unchanged one wrote, or the change took several transactions", got)
	}
	got := modified(t, cli, "/diff/state/", after.Header.Revision)
	want := []string{
		"epoch/" + string(st.Epochs[4].Server),
		"ledger/" + string(st.Ledger[0].Camera),
		"member/" + string(m.Facts.ID),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("keys written: %v, want %v", got, want)
	}
	// Removing a takeover deletes its key, and only that.
	st.Takeovers = st.Takeovers[:1]
	if err := s.Save(ctx, st); err != nil {
		t.Fatal(err)
	}
	loaded, err := etcdha.NewStore(cli, etcdha.StoreConfig{Prefix: "/diff/"}, nil).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, loaded, st)
}

func TestStoreSplitsALargeSaveAndNeverLoadsAMix(t *testing.T) {
	e := startEtcd(t)
	cli := e.client()
	ctx := t.Context()
	cfg := etcdha.StoreConfig{Prefix: "/big/", MaxTxnOps: 16, MaxTxnBytes: 64 << 10}
	s := etcdha.NewStore(cli, cfg, nil)
	st1 := sampleState(4, 8, 6, 6, 20, 24)
	if err := s.Save(ctx, st1); err != nil {
		t.Fatal(err)
	}
	got, err := etcdha.NewStore(cli, cfg, nil).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, got, st1)
	if resp, err := cli.Get(ctx, "/big/saving"); err != nil || len(resp.Kvs) != 0 {
		t.Fatalf("the marker of a finished save is left: %v %v", resp, err)
	}

	// A writer that dies half way leaves the marker and a mix of keys:
	// Load gives the last whole State.
	st2 := sampleState(4, 8, 6, 6, 21, 24)
	st2.Groups[0].Name = "renamed"
	if _, err := cli.Put(ctx, "/big/saving", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "/big/state/group/0000000001", `{"id":1,"name":"renamed","protection":true,"members":[]}`); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Delete(ctx, "/big/state/epoch/", clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	got, err = etcdha.NewStore(cli, cfg, nil).Load(ctx)
	if err != nil {
		t.Fatalf("Load beside an unfinished save: %v", err)
	}
	sameState(t, got, st1)

	// The next save, from a Store that has not read anything yet, writes
	// every key that differs from st2 and ends the marker.
	if err := etcdha.NewStore(cli, cfg, nil).Save(ctx, st2); err != nil {
		t.Fatal(err)
	}
	got, err = etcdha.NewStore(cli, cfg, nil).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, got, st2)
	if resp, err := cli.Get(ctx, "/big/saving"); err != nil || len(resp.Kvs) != 0 {
		t.Fatalf("the marker is left after a save that finished: %v %v", resp, err)
	}
}

func TestStoreRefusesTheWritesOfADeposedLeader(t *testing.T) {
	e := startEtcd(t)
	cli1, cli2 := e.client(), e.client()
	ctx := t.Context()
	cfg := etcdha.StoreConfig{Prefix: "/dep/"}
	elect := func(cli *clientv3.Client) (*concurrency.Session, *etcdha.Leadership) {
		sess, err := concurrency.NewSession(cli, concurrency.WithTTL(1))
		if err != nil {
			t.Fatal(err)
		}
		el := concurrency.NewElection(sess, "/dep/leader")
		if err := el.Campaign(ctx, "c"); err != nil {
			t.Fatal(err)
		}
		return sess, etcdha.NewLeadershipForTest(el.Key(), el.Rev(), time.Now().Add(time.Hour))
	}
	sess1, lead1 := elect(cli1)
	s1 := etcdha.NewStore(cli1, cfg, lead1)
	st := sampleState(1, 4, 2, 1, 2, 8)
	if err := s1.Save(ctx, st); err != nil {
		t.Fatal(err)
	}
	// Its lease ends (as when its host is cut from etcd for longer than
	// the TTL) and another center is elected.
	sess1.Orphan()
	if _, err := cli1.Revoke(ctx, sess1.Lease()); err != nil {
		t.Fatal(err)
	}
	_, lead2 := elect(cli2)
	if t2, _ := lead2.Term(); t2 <= mustTerm(t, lead1) {
		t.Fatalf("the new term %d is not above the old %d", t2, mustTerm(t, lead1))
	}
	s2 := etcdha.NewStore(cli2, cfg, lead2)
	st2 := clone(t, st)
	st2.NextCommandID++
	if err := s2.Save(ctx, st2); err != nil {
		t.Fatal(err)
	}
	before, err := cli1.Get(ctx, "/dep/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	st3 := clone(t, st)
	st3.Groups[0].Name = "written by the deposed leader"
	err = s1.Save(ctx, st3)
	if !errors.Is(err, etcdha.ErrNotLeader) || !errors.Is(err, failover.ErrTermRevoked) {
		t.Fatalf("Save of a deposed leader: %v, want ErrNotLeader and ErrTermRevoked", err)
	}
	after, err := cli1.Get(ctx, "/dep/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if after.Header.Revision != before.Header.Revision {
		t.Errorf("the refused save changed etcd: revision %d, was %d", after.Header.Revision, before.Header.Revision)
	}
	got, err := etcdha.NewStore(cli2, cfg, nil).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, got, st2)

	// A revoked leadership does not even try.
	lead2.RevokeForTest(errors.New("lost"))
	if err := s2.Save(ctx, st3); !errors.Is(err, etcdha.ErrNotLeader) {
		t.Errorf("Save under a revoked leadership: %v, want ErrNotLeader", err)
	}
}

func clone(t *testing.T, st failover.State) failover.State {
	t.Helper()
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var out failover.State
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustTerm(t *testing.T, l *etcdha.Leadership) uint64 {
	t.Helper()
	term, err := l.Term()
	if err != nil {
		t.Fatal(err)
	}
	return term
}

// TestStoreValuesStayWellUnderEtcdLimits encodes a center at every limit,
// 16 groups of 64 servers, with full ledgers (failover.DefaultLedgerLimit
// intervals a camera) and IDs of the longest length, and checks every value
// and every transaction against etcd's default request limit (1.5 MiB).
func TestStoreValuesStayWellUnderEtcdLimits(t *testing.T) {
	const idLen = 128 // nvrha's longest ID
	st := sampleState(failover.MaxGroups, 64, 64, 2, failover.DefaultLedgerLimit, idLen)
	// One recording server with the most cameras, for its member key and
	// the owed release that lists them.
	big := &st.Groups[0].Members[0]
	big.Facts.Cameras = nil
	for c := range nvrha.MaxCamerasPerServer {
		big.Facts.Cameras = append(big.Facts.Cameras, nvrha.CameraID(pad(fmt.Sprintf("big/cam-%04d", c), idLen)))
	}
	st.Owed[0].Cameras = big.Facts.Cameras
	vals, err := etcdha.EncodeStateForTest(st)
	if err != nil {
		t.Fatal(err)
	}
	const limit = 1536 << 10 // etcd's default --max-request-bytes
	largest, which, total := 0, "", 0
	for k, v := range vals {
		total += len(v)
		if len(k)+len(v) > largest {
			largest, which = len(k)+len(v), k
		}
	}
	t.Logf("%d keys, %d bytes in all; the largest, %.60s..., has %d bytes (%.0f%% of etcd's request limit)",
		len(vals), total, which, largest, 100*float64(largest)/limit)
	if largest > limit/3 {
		t.Errorf("key %.60s... has %d bytes, more than a third of etcd's %d", which, largest, limit)
	}
	for i, b := range etcdha.SplitForTest(etcdha.StoreConfig{}, vals) {
		if b.Bytes > etcdha.DefaultMaxTxnBytes+largest || b.Ops > etcdha.DefaultMaxTxnOps {
			t.Errorf("transaction %d: %d operations, %d bytes", i, b.Ops, b.Bytes)
		}
	}
}

// TestStoreAppliesChanges drives a Machine through joins, a failure, its
// takeover and failback, and admin operations, and applies its Changes:
// the Store then loads as the Machine's State, and each Apply writes only
// the keys its Changes name that changed (an admin operation on one
// member: that member's key). A Store that no longer knows what etcd
// holds refuses Changes until a Save.
func TestStoreAppliesChanges(t *testing.T) {
	e := startEtcd(t)
	cli := e.client()
	ctx := t.Context()
	f := newFleet(t)
	m, err := failover.NewMachine(failover.Config{Failback: failover.FailbackPolicy{HoldDown: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.AddRecordingServers(failover.DefaultGroupID, fleetRecording...); err != nil {
		t.Fatal(err)
	}
	if err := m.AddStandbyServers(failover.DefaultGroupID, fleetStandby...); err != nil {
		t.Fatal(err)
	}
	s := etcdha.NewStore(cli, etcdha.StoreConfig{Prefix: "/delta/"}, nil)
	var last failover.State
	apply := func() {
		t.Helper()
		c := m.TakeChanges()
		last = m.State()
		if err := s.Apply(ctx, c); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}
	apply() // the whole State
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	run := func(d time.Duration) {
		for end := now.Add(d); now.Before(end); {
			now = now.Add(50 * time.Millisecond)
			m.Tick(now)
			for m.HasReady() {
				if _, err := failover.Exchange(ctx, m, f.tr, nil, now); err != nil {
					t.Fatal(err)
				}
			}
			apply()
		}
	}
	run(3 * time.Second)
	f.agents["rec-1"].Crash()
	run(5 * time.Second)
	if m.Snapshot().Groups[0].Members[0].Peer == "" {
		t.Fatal("rec-1 was not taken over")
	}
	f.agents["rec-1"].Restart()
	run(10 * time.Second)
	if _, err := m.AddGroup("Annex"); err != nil {
		t.Fatal(err)
	}
	apply()
	loaded, err := etcdha.NewStore(cli, etcdha.StoreConfig{Prefix: "/delta/"}, nil).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, loaded, last)

	if err := m.SetServerPriority("rec-2", 7); err != nil {
		t.Fatal(err)
	}
	apply()
	resp, err := cli.Get(ctx, "/delta/state/meta")
	if err != nil {
		t.Fatal(err)
	}
	got := modified(t, cli, "/delta/state/", resp.Header.Revision)
	if want := []string{"member/rec-2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("keys written for one member's priority: %v, want %v", got, want)
	}

	// A Store that lost track of etcd (another writer, here) refuses
	// changes; a Save sets it right.
	other := etcdha.NewStore(cli, etcdha.StoreConfig{Prefix: "/delta/"}, nil)
	if err := m.SetServerPriority("rec-2", 8); err != nil {
		t.Fatal(err)
	}
	if err := other.Apply(ctx, m.TakeChanges()); !errors.Is(err, failover.ErrStoreNeedsState) {
		t.Fatalf("Apply by a Store that never read etcd: %v, want ErrStoreNeedsState", err)
	}
	if err := other.Save(ctx, m.State()); err != nil {
		t.Fatal(err)
	}
	if err := m.SetServerPriority("rec-2", 9); err != nil {
		t.Fatal(err)
	}
	c := m.TakeChanges()
	last = m.State()
	if err := other.Apply(ctx, c); err != nil {
		t.Fatal(err)
	}
	loaded, err = etcdha.NewStore(cli, etcdha.StoreConfig{Prefix: "/delta/"}, nil).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, loaded, last)
}

// TestStoreRequestsAreBounded: an etcd that takes a request and never
// answers (Raft's leader lost with the write, a member hung, a link that
// drops everything) fails a Save after RequestTimeout, while the caller's
// context still runs, so that the Controller saves again rather than
// hold its orders for as long as etcd holds the request.
func TestStoreRequestsAreBounded(t *testing.T) {
	e := startEtcd(t)
	hole := startProxy(t, strings.TrimPrefix(e.endpoint(), "http://"))
	cli := e.client(hole.endpoint())
	s := etcdha.NewStore(cli, etcdha.StoreConfig{Prefix: "/bounded/", RequestTimeout: 200 * time.Millisecond}, nil)
	ctx := t.Context()
	if _, err := cli.Get(ctx, "/bounded/"); err != nil { // connected
		t.Fatal(err)
	}
	st := sampleState(1, 4, 2, 1, 2, 8)
	if err := s.Save(ctx, st); err != nil {
		t.Fatal(err)
	}
	hole.hold()
	st.NextCommandID++
	err := s.Save(ctx, st)
	if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		t.Fatalf("Save into a black hole: %v (caller's context: %v), want the request's deadline", err, ctx.Err())
	}
	if _, err := s.Load(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Load from a black hole: %v, want the request's deadline", err)
	}
}
