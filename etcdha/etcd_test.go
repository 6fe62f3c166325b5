package etcdha_test

import (
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/nvrha/nvrha/etcdha/internal/etcdtest"
)

// testEtcd is an etcd in this process, of one member (startEtcd) or three
// (startEtcdCluster); see etcdtest.
type testEtcd struct {
	t       testing.TB
	members []*etcdtest.Member
}

func startEtcd(t testing.TB) *testEtcd {
	t.Helper()
	return startEtcdCluster(t, 1)
}

// startEtcdCluster starts a cluster of n members.
func startEtcdCluster(t testing.TB, n int) *testEtcd {
	t.Helper()
	ms := etcdtest.StartCluster(t, n)
	return &testEtcd{t: t, members: ms}
}

// endpoint returns the first member's client URL.
func (e *testEtcd) endpoint() string { return e.members[0].URL }

// endpoints returns the client URLs of every member.
func (e *testEtcd) endpoints() []string { return etcdtest.URLs(e.members) }

// client returns a new client of e's first member, or of endpoints, closed
// at the end of the test.
func (e *testEtcd) client(endpoints ...string) *clientv3.Client {
	e.t.Helper()
	if len(endpoints) == 0 {
		endpoints = []string{e.endpoint()}
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 2 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = cli.Close() })
	return cli
}
