package etcdtest

import (
	"context"
	"net"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestStartRetriesATakenPort: a port found free but taken before etcd
// listens on it (here, the first port handed out is held by a listener)
// does not fail the test: the cluster starts again on other ports, and
// serves.
func TestStartRetriesATakenPort(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	taken := held.Addr().(*net.TCPAddr).Port
	first := true
	pickPort = func(t testing.TB) int {
		if first {
			first = false
			return taken
		}
		return freePort(t)
	}
	defer func() { pickPort = freePort }()

	url := Start(t)
	if first {
		t.Fatal("the taken port was never handed out")
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{url}, DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, "k", "v"); err != nil {
		t.Fatalf("the cluster started on other ports does not serve: %v", err)
	}
}
