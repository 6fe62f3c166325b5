package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nvrha/nvrha/center/daemon"
	"github.com/nvrha/nvrha/etcdha/internal/etcdtest"
)

// The hash of "secret", for the file's [[admin]].
const adminHash = "$2a$10$gZupDmz8X1bd2zVwVyt3fe6w8kogF3wqMEzY0nYcF8m.1/GsTY9mq"

// watchLog closes elected when the daemon logs that it leads.
type watchLog struct {
	once    sync.Once
	elected chan struct{}
}

func (w *watchLog) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "elected; serving the page") {
		w.once.Do(func() { close(w.elected) })
	}
	return len(p), nil
}

type haCenter struct {
	url    string
	log    *watchLog
	cancel context.CancelFunc
	done   chan error
}

func startHA(t *testing.T, endpoint, name string) *haCenter {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".toml")
	file := fmt.Sprintf(`store = "etcd"
[etcd]
endpoints = [%q]
name = %q
prefix = "/ha-test/"
lease_ttl = "1s"

[[admin]]
user = "admin"
bcrypt = %q
`, endpoint, name, adminHash)
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &haCenter{log: &watchLog{elected: make(chan struct{})}, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	urls := make(chan string, 1)
	go func() {
		c.done <- daemon.Run(ctx, []string{"-config", path, "-listen", "127.0.0.1:0", "-log-level", "info"}, nil, io.Discard, c.log,
			daemon.Options{HA: runHA, OnServe: func(u string) { urls <- u }})
	}()
	select {
	case c.url = <-urls:
	case err := <-c.done:
		t.Fatalf("%s did not start: %v", name, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not serve within 10s", name)
	}
	t.Cleanup(func() { c.stop(t) })
	return c
}

func (c *haCenter) stop(t *testing.T) {
	c.cancel()
	select {
	case err := <-c.done:
		if err != nil {
			t.Errorf("stopped with %v", err)
		}
		c.done <- nil
	case <-time.After(10 * time.Second):
		t.Error("did not stop within 10s")
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestTwoCentersServeOneAtATime(t *testing.T) {
	endpoint := etcdtest.Start(t)
	a := startHA(t, endpoint, "center-a")
	select {
	case <-a.log.elected:
	case <-time.After(10 * time.Second):
		t.Fatal("center-a was not elected within 10s")
	}
	b := startHA(t, endpoint, "center-b")
	if code, _ := get(t, a.url); code != http.StatusOK {
		t.Errorf("the leader's page: %d", code)
	}
	if code, body := get(t, b.url+"api/v1/groups"); code != http.StatusServiceUnavailable || !strings.Contains(body, "stands by") {
		t.Errorf("the follower's API: %d %s, want 503 saying it stands by", code, body)
	}
	if code, _ := get(t, b.url+"healthz"); code != http.StatusOK {
		t.Errorf("the follower's /healthz: %d, want 200: it is alive", code)
	}
	if code, _ := get(t, b.url+"readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("the follower's /readyz: %d, want 503: it does not serve", code)
	}

	a.stop(t)
	select {
	case <-b.log.elected:
	case <-time.After(5 * time.Second):
		t.Fatal("center-b was not elected within 5s of center-a stopping")
	}
	if code, _ := get(t, b.url); code != http.StatusOK {
		t.Errorf("the new leader's page: %d", code)
	}
}
