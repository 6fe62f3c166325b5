package httptransport_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/httptransport"
)

// TestMain checks that no test leaves a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeAgentServer answers every request with status, content type and body,
// as something in front of an agent (or in its place) might.
func fakeAgentServer(t *testing.T, status int, contentType, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func newClient(t *testing.T, cfg httptransport.ClientConfig) *httptransport.Client {
	t.Helper()
	if cfg.Auth.Keys == nil {
		cfg.Auth.Keys = []httptransport.Key{testKey}
	}
	c, err := httptransport.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestAnswersNotOfTheProtocolAreUnreachable: whatever answers that is not an
// agent of this protocol says nothing about whether the order took effect.
func TestAnswersNotOfTheProtocolAreUnreachable(t *testing.T) {
	cases := []struct {
		name         string
		status       int
		contentType  string
		body         string
		probeOnly    bool
		wantRefusal  bool
		wantContains string
	}{
		{name: "proxy error page", status: 502, contentType: "text/html", body: "<html>Bad Gateway</html>"},
		{name: "gateway timeout", status: 504, contentType: "text/plain", body: "timeout"},
		{name: "plain 400", status: 400, contentType: "text/plain", body: "bad"},
		{name: "JSON without code", status: 500, contentType: "application/json", body: `{"message":"x"}`},
		{name: "JSON with a malformed code", status: 409, contentType: "application/json", body: `{"code":"Stale Epoch"}`},
		{name: "truncated JSON", status: 409, contentType: "application/json", body: `{"code":"stale_epoch","got":`},
		{name: "garbled success", status: 200, contentType: "application/json", body: `{"server":`, probeOnly: true},
		{name: "success of the wrong shape", status: 200, contentType: "application/json", body: `[1,2]`, probeOnly: true},
		{name: "unknown code behind 503", status: 503, contentType: "application/json", body: `{"code":"maintenance","message":"later"}`},
		{name: "unknown code, agent's own status", status: 418, contentType: "application/json", body: `{"code":"teapot","message":"no"}`, wantRefusal: true, wantContains: "no"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := fakeAgentServer(t, c.status, c.contentType, c.body)
			cl := newClient(t, httptransport.ClientConfig{Resolver: httptransport.StaticResolver{"rec-1": u}})
			_, err := cl.Probe(context.Background(), "rec-1")
			errs := []error{err}
			if !c.probeOnly {
				errs = append(errs, cl.Takeover(context.Background(), "rec-1", transport.TakeoverOrder{Recording: "rec-2", Epoch: 1}))
			}
			for _, err := range errs {
				if c.wantRefusal {
					var re *httptransport.RemoteError
					if err == nil || errors.Is(err, transport.ErrUnreachable) || !errors.As(err, &re) || !strings.Contains(err.Error(), c.wantContains) {
						t.Errorf("got %v, want a definite refusal", err)
					}
					continue
				}
				if !errors.Is(err, transport.ErrUnreachable) {
					t.Errorf("got %v, want ErrUnreachable", err)
				}
			}
		})
	}
}

func TestResponseTooLargeIsUnreachable(t *testing.T) {
	u := fakeAgentServer(t, 200, "application/json", `{"id":"rec-1","name":"`+strings.Repeat("n", 4096)+`"}`)
	c := newClient(t, httptransport.ClientConfig{Resolver: httptransport.StaticResolver{"rec-1": u}, MaxResponseBytes: 1024})
	if _, err := c.Inventory(context.Background(), "rec-1"); !errors.Is(err, transport.ErrUnreachable) {
		t.Errorf("oversize inventory: %v", err)
	}
}

// TestVerifyResponses puts a proxy between client and agent that changes the
// answer, or an impostor in the agent's place, and checks that a client that
// verifies responses believes neither, while one that does not is fooled.
func TestVerifyResponses(t *testing.T) {
	agent := newStandby()
	auth := httptransport.Auth{Keys: []httptransport.Key{testKey}}
	h, err := httptransport.NewHandler(agent, httptransport.HandlerConfig{Server: "standby-1", Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	real := httptest.NewServer(h)
	defer real.Close()
	target, _ := url.Parse(real.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(r *http.Response) error {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		b = bytes.Replace(b, []byte(`"healthy":true`), []byte(`"healthy":false`), 1)
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
		r.Header.Del("Content-Length")
		return nil
	}
	tamper := httptest.NewServer(rp)
	defer tamper.Close()
	impostor := fakeAgentServer(t, 200, "application/json", `{"server":"standby-1","healthy":true}`)

	for _, c := range []struct {
		name   string
		url    string
		verify bool
		fooled bool
	}{
		{"direct, verifying", real.URL, true, false},
		{"tampering proxy, verifying", tamper.URL, true, false},
		{"tampering proxy, not verifying", tamper.URL, false, true},
		{"impostor, verifying", impostor, true, false},
		{"impostor, not verifying", impostor, false, true},
	} {
		cl := newClient(t, httptransport.ClientConfig{Resolver: httptransport.StaticResolver{"standby-1": c.url}, VerifyResponses: c.verify})
		r, err := cl.Probe(context.Background(), "standby-1")
		switch {
		case c.url == real.URL:
			if err != nil || !r.Healthy {
				t.Errorf("%s: %+v %v", c.name, r, err)
			}
		case c.fooled:
			if err != nil {
				t.Errorf("%s: %v (the test expects this client to be fooled)", c.name, err)
			}
		default:
			if !errors.Is(err, httptransport.ErrResponseNotAuthentic) || !errors.Is(err, transport.ErrUnreachable) {
				t.Errorf("%s: got %+v, %v; want ErrResponseNotAuthentic", c.name, r, err)
			}
		}
	}
	// A verified error answer is believed: a stale epoch stays a stale epoch.
	cl := newClient(t, httptransport.ClientConfig{Resolver: httptransport.StaticResolver{"standby-1": real.URL}, VerifyResponses: true})
	if err := cl.Takeover(context.Background(), "standby-1", transport.TakeoverOrder{Recording: "rec-1", Epoch: 4}); err != nil {
		t.Fatal(err)
	}
	if err := cl.Takeover(context.Background(), "standby-1", transport.TakeoverOrder{Recording: "rec-1", Epoch: 3}); !errors.Is(err, transport.ErrStaleEpoch) {
		t.Errorf("stale takeover, verified: %v", err)
	}
	// An unsigned 401 (the agent did not know the key) cannot be trusted.
	other := newClient(t, httptransport.ClientConfig{Resolver: httptransport.StaticResolver{"standby-1": real.URL}, VerifyResponses: true,
		Auth: httptransport.Auth{Keys: []httptransport.Key{{ID: "other", Secret: testKey.Secret}}}})
	_, err = other.Probe(context.Background(), "standby-1")
	if !errors.Is(err, httptransport.ErrResponseNotAuthentic) || !strings.Contains(err.Error(), "unauthenticated") {
		t.Errorf("unsigned 401: %v", err)
	}
}

func TestBaseURLPrefixAndStripPrefix(t *testing.T) {
	agent := newStandby()
	auth := httptransport.Auth{Keys: []httptransport.Key{testKey}}
	h, err := httptransport.NewHandler(agent, httptransport.HandlerConfig{Server: "standby-1", Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/vendor/", http.StripPrefix("/vendor", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := newClient(t, httptransport.ClientConfig{Resolver: httptransport.StaticResolver{"standby-1": srv.URL + "/vendor/"}, VerifyResponses: true})
	if r, err := c.Probe(context.Background(), "standby-1"); err != nil || r.Server != "standby-1" {
		t.Errorf("probe behind a prefix: %+v %v", r, err)
	}
	bad := newClient(t, httptransport.ClientConfig{Resolver: httptransport.StaticResolver{"standby-1": "ftp://x", "rec-1": "::"}})
	for _, id := range []nvrha.ServerID{"standby-1", "rec-1"} {
		if _, err := bad.Probe(context.Background(), id); !errors.Is(err, transport.ErrUnreachable) {
			t.Errorf("bad base URL for %s: %v", id, err)
		}
	}
}

func TestClientNeverFollowsRedirects(t *testing.T) {
	var followed atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { followed.Store(true) }))
	defer target.Close()
	redirect := httptest.NewServer(http.RedirectHandler(target.URL+"/nvrha/v1/takeover", http.StatusTemporaryRedirect))
	defer redirect.Close()
	cl := newClient(t, httptransport.ClientConfig{Resolver: httptransport.StaticResolver{"standby-1": redirect.URL}})
	err := cl.Takeover(context.Background(), "standby-1", transport.TakeoverOrder{Recording: "rec-1", Epoch: 1})
	if !errors.Is(err, transport.ErrUnreachable) || followed.Load() {
		t.Errorf("redirect: %v, followed %v", err, followed.Load())
	}
}

func TestDefaultTimeoutBoundsACallWithoutDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := newClient(t, httptransport.ClientConfig{Resolver: httptransport.StaticResolver{"rec-1": srv.URL}, Timeout: 100 * time.Millisecond})
	begin := time.Now()
	_, err := c.Probe(context.Background(), "rec-1")
	if !errors.Is(err, transport.ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("probe of a silent server: %v", err)
	}
	if took := time.Since(begin); took > 3*time.Second {
		t.Errorf("took %v", took)
	}
}

func TestNewServerBoundsSlowClients(t *testing.T) {
	s := httptransport.NewServer("127.0.0.1:0", http.NotFoundHandler())
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.WriteTimeout <= 0 || s.IdleTimeout <= 0 || s.MaxHeaderBytes <= 0 {
		t.Errorf("NewServer leaves a limit unset: %+v", s)
	}
	if s.ReadHeaderTimeout > 10*time.Second || s.ReadTimeout > time.Minute || s.MaxHeaderBytes > 64<<10 {
		t.Errorf("NewServer limits too loose: %+v", s)
	}
}

// TestLostAnswerIsNeverResent: a request whose connection breaks before the
// answer is not sent again: its nonce is single-use and
// the order may have been carried out.
func TestLostAnswerIsNeverResent(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()
	c := newClient(t, httptransport.ClientConfig{Resolver: httptransport.StaticResolver{"rec-1": srv.URL}})
	for i := range 2 { // the second on a connection the first may have left
		if _, err := c.Probe(context.Background(), "rec-1"); !errors.Is(err, transport.ErrUnreachable) {
			t.Errorf("probe %d: %v", i, err)
		}
		err := c.Takeover(context.Background(), "rec-1", transport.TakeoverOrder{Recording: "rec-2", Epoch: 1})
		if !errors.Is(err, transport.ErrUnreachable) {
			t.Errorf("takeover %d: %v", i, err)
		}
	}
	if n := requests.Load(); n != 4 {
		t.Errorf("the server got %d requests for 4 calls", n)
	}
}
