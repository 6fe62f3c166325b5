// Package etcdtest starts an etcd in the test's process: one member, or a
// cluster of several on loopback ports whose members a test can stop.
package etcdtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// Start runs a single-member etcd in this process until the end of the
// test and returns its client URL. It is tuned to elect itself at once and
// to grant leases of one second (its shortest lease is a multiple of its
// election timeout), and syncs nothing to disk.
func Start(t testing.TB) string {
	t.Helper()
	return StartCluster(t, 1)[0].URL
}

// Member is one member of a cluster StartCluster started.
type Member struct {
	Name string
	URL  string // its client URL

	e        *embed.Etcd
	down     atomic.Bool // set when Stop or Crash begins
	stopOnce sync.Once
	stopped  chan struct{} // closed once the member has stopped serving
}

// StartCluster runs a cluster of n members in this process until the end
// of the test, tuned as Start's member is, and returns them once every one
// is ready.
func StartCluster(t testing.TB, n int) []*Member {
	t.Helper()
	// A port found free may be taken before etcd listens on it, by another
	// test's listener or as the local port of a connection: the cluster
	// starts again on other ports.
	const attempts = 5
	for attempt := 1; ; attempt++ {
		members, err := startCluster(t, n)
		if err == nil {
			return members
		}
		if !portTaken(err) || attempt == attempts {
			t.Fatal(err)
		}
	}
}

// portTaken reports whether err is a listener's port already in use.
func portTaken(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")
}

// startCluster makes one attempt of StartCluster: it returns the members
// once every one is ready, or, when one cannot start, stops the others and
// returns its error.
func startCluster(t testing.TB, n int) ([]*Member, error) {
	t.Helper()
	dir := t.TempDir()
	cfgs := make([]*embed.Config, n)
	members := make([]*Member, n)
	var cluster string
	for i := range cfgs {
		cfg := embed.NewConfig()
		cfg.Name = fmt.Sprintf("etcd-%d", i+1)
		if n == 1 {
			cfg.Name = "test"
		}
		cfg.Dir = filepath.Join(dir, cfg.Name)
		cfg.LogLevel = "fatal"
		cfg.TickMs, cfg.ElectionMs = 10, 100
		cfg.UnsafeNoFsync = true
		cu := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", pickPort(t))}
		pu := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", pickPort(t))}
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{pu}, []url.URL{pu}
		if i > 0 {
			cluster += ","
		}
		cluster += cfg.Name + "=" + pu.String()
		cfgs[i] = cfg
		members[i] = &Member{Name: cfg.Name, URL: cu.String(), stopped: make(chan struct{})}
	}
	// Members of a new cluster wait for each other: start them together.
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, cfg := range cfgs {
		cfg.InitialCluster = cluster
		wg.Go(func() { members[i].e, errs[i] = embed.StartEtcd(cfg) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, m := range members {
			if m.e != nil {
				m.Stop()
			}
		}
		return nil, err
	}
	for _, m := range members {
		t.Cleanup(m.Stop)
	}
	deadline := time.After(20 * time.Second)
	for _, m := range members {
		select {
		case <-m.e.Server.ReadyNotify():
		case <-deadline:
			t.Fatalf("embedded etcd of %d members not ready within 20s", n)
		}
	}
	return members, nil
}

// URLs returns the client URLs of members.
func URLs(members []*Member) []string {
	out := make([]string, len(members))
	for i, m := range members {
		out[i] = m.URL
	}
	return out
}

// IsLeader reports whether the member is up and the cluster's Raft leader
// now.
func (m *Member) IsLeader() bool {
	return !m.down.Load() && m.e.Server.Leader() == m.e.Server.MemberID()
}

// Stop stops the member as `systemctl stop` would: it hands its Raft
// leadership on, if it has it, waits for the requests in flight, and
// closes. It returns once the member is closed.
func (m *Member) Stop() {
	m.stopOnce.Do(func() {
		m.down.Store(true)
		m.e.Close()
		close(m.stopped)
	})
	<-m.stopped
}

// Crash stops the member as the loss of its host would: its Raft node stops
// at once, without handing its leadership on or answering what is in
// flight; its listeners close in the background (a stream open on it may
// stay silent until they do), and Stop waits for that.
func (m *Member) Crash() {
	m.stopOnce.Do(func() {
		m.down.Store(true)
		m.e.Server.HardStop()
		go func() {
			m.e.Close()
			close(m.stopped)
		}()
	})
}

// LeaderOf polls, until ctx ends, for a member that is up and leads, and
// returns it.
func LeaderOf(ctx context.Context, members []*Member) (*Member, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, m := range members {
			if m.IsLeader() {
				return m, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("etcdtest: no member leads: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// pickPort is freePort; a test of the retry replaces it.
var pickPort = freePort

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
