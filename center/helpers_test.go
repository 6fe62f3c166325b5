package center_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/nvrha/nvrha/center"
	"github.com/nvrha/nvrha/center/demo"
	"github.com/nvrha/nvrha/failover"
)

const (
	adminPassword = "first-admin-password"
	otherPassword = "operator-password"
)

// env is a running center over the demo fleet, served by httptest, with
// its state in a FileStore.
type env struct {
	t      *testing.T
	c      *center.Center
	fleet  *demo.Fleet
	srv    *httptest.Server
	store  string
	events chan failover.Event
	stop   func() // stops the center and its server; the test's cleanup does too
}

func hash(t testing.TB, pw string) []byte {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// newEnv starts a center with the demo fleet's default group in place.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := startEnv(t, demo.New(), filepath.Join(t.TempDir(), "state.json"), nil)
	pctx, pcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer pcancel()
	if err := e.fleet.Populate(pctx, e.c.Controller()); err != nil {
		t.Fatal(err)
	}
	return e
}

// startEnv starts a center over fleet with its state in the file store,
// as it is: a second center on the same file is the first restarted.
func startEnv(t *testing.T, fleet *demo.Fleet, store string, log *slog.Logger) *env {
	t.Helper()
	e := &env{t: t, fleet: fleet, store: store, events: make(chan failover.Event, 4096)}
	ctx, cancel := context.WithCancel(context.Background())
	c, err := center.New(ctx, center.Config{
		Controller: failover.ControllerConfig{
			Machine:   failover.Config{Failback: failover.FailbackPolicy{HoldDown: time.Second}},
			Transport: e.fleet.Transport(),
			Store:     failover.NewFileStore(e.store),
			OnEvent: func(ev failover.Event) {
				select {
				case e.events <- ev:
				default:
				}
			},
		},
		Servers:  e.fleet.Servers(),
		Users:    []center.User{{Name: "admin", PasswordHash: hash(t, adminPassword)}, {Name: "operator", PasswordHash: hash(t, otherPassword)}},
		Demo:     e.fleet,
		Registry: prometheus.NewRegistry(),
		Logger:   log,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	e.c = c
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	e.srv = httptest.NewServer(c.Handler())
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			e.srv.CloseClientConnections()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			e.srv.Close()
		})
	}
	t.Cleanup(e.stop)
	return e
}

// client is an API client with its own cookie jar.
type client struct {
	t    testing.TB
	base string
	hc   *http.Client
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: e.t, base: e.srv.URL, hc: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
}

func (e *env) login(user, pw string) *client {
	cl := e.client()
	cl.must(http.StatusOK, "POST", "/api/v1/session", map[string]string{"user": user, "password": pw}, nil)
	return cl
}

// do sends a request and decodes a JSON answer into out (if not nil). It
// returns the status code and the raw body. Every exchange is checked
// against docs/center-openapi.yaml.
func (cl *client) do(method, path string, body any, out any, headers ...string) (int, []byte) {
	cl.t.Helper()
	var rd io.Reader
	var sent []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			cl.t.Fatal(err)
		}
		rd, sent = bytes.NewReader(b), b
	}
	req, err := http.NewRequest(method, cl.base+path, rd)
	if err != nil {
		cl.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := cl.hc.Do(req)
	if err != nil {
		cl.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		cl.t.Fatal(err)
	}
	cl.checkOpenAPI(req, sent, res, raw)
	if out != nil && len(raw) > 0 && res.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			cl.t.Fatalf("%s %s: decoding %s: %v", method, path, raw, err)
		}
	}
	return res.StatusCode, raw
}

func (cl *client) must(code int, method, path string, body, out any, headers ...string) []byte {
	cl.t.Helper()
	got, raw := cl.do(method, path, body, out, headers...)
	if got != code {
		cl.t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, code, raw)
	}
	return raw
}

// errorOf decodes an error body.
func errorOf(t *testing.T, raw []byte) apiErr {
	t.Helper()
	var e struct {
		Error apiErr `json:"error"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("not an error body: %s", raw)
	}
	return e.Error
}

type apiErr struct {
	Code    string           `json:"code"`
	Message string           `json:"message"`
	Refused []center.Refusal `json:"refused"`
}

// waitEvent waits for a Machine event matching ok, from the Controller's
// OnEvent hook; the Controller's own clock drives it, the test only waits.
func (e *env) waitEvent(what string, ok func(failover.Event) bool) failover.Event {
	e.t.Helper()
	timeout := time.NewTimer(20 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case ev := <-e.events:
			if ok(ev) {
				return ev
			}
		case <-timeout.C:
			e.t.Fatalf("no %s within 20s", what)
		}
	}
}
