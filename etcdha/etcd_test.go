package etcdha_test

import (
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/nvrha/nvrha/etcdha/internal/etcdtest"
)

// testEtcd is an etcd in this process; see etcdtest.Start.
type testEtcd struct {
	t        testing.TB
	endpoint string
}

func startEtcd(t testing.TB) *testEtcd {
	t.Helper()
	return &testEtcd{t: t, endpoint: etcdtest.Start(t)}
}

// client returns a new client of e's, or of endpoint, closed at the end of
// the test.
func (e *testEtcd) client(endpoint ...string) *clientv3.Client {
	e.t.Helper()
	ep := e.endpoint
	if len(endpoint) > 0 {
		ep = endpoint[0]
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 2 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = cli.Close() })
	return cli
}
