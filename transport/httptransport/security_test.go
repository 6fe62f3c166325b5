package httptransport_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/agenttest"
	"github.com/nvrha/nvrha/transport/httptransport"
)

// countingAgent counts the calls that reach it, and otherwise behaves as the
// agenttest.Server it wraps.
type countingAgent struct {
	*agenttest.Server
	calls atomic.Int64
}

func (a *countingAgent) Probe(ctx context.Context) (transport.ProbeReport, error) {
	a.calls.Add(1)
	return a.Server.Probe(ctx)
}

func (a *countingAgent) Inventory(ctx context.Context) (nvrha.Facts, error) {
	a.calls.Add(1)
	return a.Server.Inventory(ctx)
}

func (a *countingAgent) Takeover(ctx context.Context, o transport.TakeoverOrder) error {
	a.calls.Add(1)
	return a.Server.Takeover(ctx, o)
}

func (a *countingAgent) Release(ctx context.Context, o transport.ReleaseOrder) error {
	a.calls.Add(1)
	return a.Server.Release(ctx, o)
}

func (a *countingAgent) StandDown(ctx context.Context, o transport.StandDownOrder) error {
	a.calls.Add(1)
	return a.Server.StandDown(ctx, o)
}

func (a *countingAgent) Resume(ctx context.Context, o transport.ResumeOrder) error {
	a.calls.Add(1)
	return a.Server.Resume(ctx, o)
}

func newStandby() *countingAgent {
	return &countingAgent{Server: agenttest.New(nvrha.Facts{ID: "standby-1", Product: nvrha.ProductQVRPro, AdvancedMode: true,
		LicenseChannels: 32, RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", Empty: true}}})}
}

// fixture is one handler serving a standby agent, called directly (no
// sockets) with requests the test builds and signs by hand.
type fixture struct {
	t     *testing.T
	agent *countingAgent
	h     http.Handler
	now   time.Time
}

func newFixture(t *testing.T, cfg httptransport.HandlerConfig) *fixture {
	t.Helper()
	// The handler has been running for an hour: it refuses requests
	// signed before it started.
	f := &fixture{t: t, agent: newStandby(), now: time.Unix(1767254400, 0).Add(-time.Hour)}
	if cfg.Server == "" {
		cfg.Server = "standby-1"
	}
	if cfg.Auth.Keys == nil {
		cfg.Auth.Keys = []httptransport.Key{testKey}
	}
	cfg.Now = func() time.Time { return f.now }
	h, err := httptransport.NewHandler(f.agent, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.h, f.now = h, f.now.Add(time.Hour)
	return f
}

// signed returns a POST to path with body, signed with key for server at
// time at.
func signed(t testing.TB, path string, body []byte, server nvrha.ServerID, key httptransport.Key, at time.Time) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	if err := httptransport.SignRequest(r, body, server, key, at); err != nil {
		t.Fatal(err)
	}
	return r
}

// takeoverBody is a valid takeover order for standby-1.
func takeoverBody(epoch nvrha.Epoch) []byte {
	b, _ := json.Marshal(transport.TakeoverOrder{Recording: "rec-1", Epoch: epoch, Cameras: []nvrha.CameraID{"cam-1", "cam-2"}})
	return b
}

// serve runs r through the handler and returns the status and error body.
func (f *fixture) serve(r *http.Request) (int, httptransport.ErrorBody, *httptest.ResponseRecorder) {
	f.t.Helper()
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	var b httptransport.ErrorBody
	if w.Code >= 300 {
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			f.t.Errorf("error response with Content-Type %q", ct)
		}
		if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
			f.t.Errorf("error response is not an ErrorBody: %v: %q", err, w.Body.String())
		}
	}
	return w.Code, b, w
}

func (f *fixture) expect(r *http.Request, status int, code string) httptransport.ErrorBody {
	f.t.Helper()
	got, b, _ := f.serve(r)
	if got != status || b.Code != code {
		f.t.Errorf("got %d %q (%s), want %d %q", got, b.Code, b.Message, status, code)
	}
	return b
}

func TestHandlerServesAValidRequest(t *testing.T) {
	f := newFixture(t, httptransport.HandlerConfig{})
	r := signed(t, "/nvrha/v1/takeover", takeoverBody(3), "standby-1", testKey, f.now)
	if code, b, _ := f.serve(r); code != http.StatusNoContent {
		t.Fatalf("valid takeover: %d %+v", code, b)
	}
	if cov, cams := f.agent.Covering(); cov != "rec-1" || len(cams) != 2 {
		t.Errorf("agent covers %q %v after the takeover", cov, cams)
	}
}

func TestUnauthenticatedRequestsAreRefused(t *testing.T) {
	otherSecret := httptransport.Key{ID: testKey.ID, Secret: []byte("a different secret of enough size")}
	unknownKey := httptransport.Key{ID: "someone-else", Secret: testKey.Secret}
	cases := []struct {
		name string
		req  func(f *fixture) *http.Request
	}{
		{"no headers at all", func(f *fixture) *http.Request {
			return httptest.NewRequest(http.MethodPost, "/nvrha/v1/takeover", bytes.NewReader(takeoverBody(3)))
		}},
		{"wrong secret", func(f *fixture) *http.Request {
			return signed(t, "/nvrha/v1/takeover", takeoverBody(3), "standby-1", otherSecret, f.now)
		}},
		{"unknown key", func(f *fixture) *http.Request {
			return signed(t, "/nvrha/v1/takeover", takeoverBody(3), "standby-1", unknownKey, f.now)
		}},
		{"body changed after signing", func(f *fixture) *http.Request {
			r := signed(t, "/nvrha/v1/takeover", takeoverBody(3), "standby-1", testKey, f.now)
			r.Body = io.NopCloser(bytes.NewReader(takeoverBody(4)))
			return r
		}},
		{"signed for another path", func(f *fixture) *http.Request {
			r := signed(t, "/nvrha/v1/release", takeoverBody(3), "standby-1", testKey, f.now)
			r.URL.Path = "/nvrha/v1/takeover"
			return r
		}},
		{"server changed after signing", func(f *fixture) *http.Request {
			r := signed(t, "/nvrha/v1/takeover", takeoverBody(3), "standby-2", testKey, f.now)
			r.Header.Set(httptransport.HeaderServer, "standby-1")
			return r
		}},
		{"timestamp changed after signing", func(f *fixture) *http.Request {
			r := signed(t, "/nvrha/v1/takeover", takeoverBody(3), "standby-1", testKey, f.now)
			r.Header.Set(httptransport.HeaderTimestamp, strconv.FormatInt(f.now.Unix()+1, 10))
			return r
		}},
		{"nonce changed after signing", func(f *fixture) *http.Request {
			r := signed(t, "/nvrha/v1/takeover", takeoverBody(3), "standby-1", testKey, f.now)
			r.Header.Set(httptransport.HeaderNonce, "AAAAAAAAAAAAAAAAAAAAAA")
			return r
		}},
		{"signature in upper case", func(f *fixture) *http.Request {
			r := signed(t, "/nvrha/v1/takeover", takeoverBody(3), "standby-1", otherSecret, f.now)
			r.Header.Set(httptransport.HeaderSignature, strings.ToUpper(r.Header.Get(httptransport.HeaderSignature)))
			return r
		}},
		{"short nonce", func(f *fixture) *http.Request {
			r := signed(t, "/nvrha/v1/takeover", takeoverBody(3), "standby-1", testKey, f.now)
			r.Header.Set(httptransport.HeaderNonce, "short")
			return r
		}},
		{"negative timestamp", func(f *fixture) *http.Request {
			r := signed(t, "/nvrha/v1/takeover", takeoverBody(3), "standby-1", testKey, f.now)
			r.Header.Set(httptransport.HeaderTimestamp, "-1767254400")
			return r
		}},
		{"repeated header", func(f *fixture) *http.Request {
			r := signed(t, "/nvrha/v1/takeover", takeoverBody(3), "standby-1", testKey, f.now)
			r.Header.Add(httptransport.HeaderKeyID, "another")
			return r
		}},
	}
	for _, h := range []string{httptransport.HeaderKeyID, httptransport.HeaderTimestamp, httptransport.HeaderNonce, httptransport.HeaderServer, httptransport.HeaderSignature} {
		cases = append(cases, struct {
			name string
			req  func(f *fixture) *http.Request
		}{"without " + h, func(f *fixture) *http.Request {
			r := signed(t, "/nvrha/v1/takeover", takeoverBody(3), "standby-1", testKey, f.now)
			r.Header.Del(h)
			return r
		}})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, httptransport.HandlerConfig{})
			_, b, w := f.serve(c.req(f))
			if w.Code != http.StatusUnauthorized || b.Code != httptransport.CodeUnauthenticated {
				t.Errorf("got %d %+v, want 401 unauthenticated", w.Code, b)
			}
			if n := f.agent.calls.Load(); n != 0 {
				t.Errorf("the agent was called %d times", n)
			}
			if cov, _ := f.agent.Covering(); cov != "" || f.agent.Newest("rec-1") != 0 {
				t.Errorf("an unauthenticated takeover changed the agent: covers %q, epoch %d", cov, f.agent.Newest("rec-1"))
			}
		})
	}
}

func TestReplayedRequestIsRefused(t *testing.T) {
	f := newFixture(t, httptransport.HandlerConfig{})
	body := takeoverBody(3)
	first := signed(t, "/nvrha/v1/takeover", body, "standby-1", testKey, f.now)
	replay := first.Clone(context.Background())
	replay.Body = io.NopCloser(bytes.NewReader(body))
	if code, b, _ := f.serve(first); code != http.StatusNoContent {
		t.Fatalf("first copy: %d %+v", code, b)
	}
	// A Release in between: the replayed takeover must not undo it.
	rel, _ := json.Marshal(transport.ReleaseOrder{Recording: "rec-1", Epoch: 3})
	if code, b, _ := f.serve(signed(t, "/nvrha/v1/release", rel, "standby-1", testKey, f.now)); code != http.StatusNoContent {
		t.Fatalf("release: %d %+v", code, b)
	}
	f.now = f.now.Add(20 * time.Second) // still inside the window
	f.expect(replay, http.StatusUnauthorized, httptransport.CodeReplayed)
	if n := f.agent.calls.Load(); n != 2 {
		t.Errorf("the agent was called %d times, want 2 (the replay must not reach it)", n)
	}
	if cov, _ := f.agent.Covering(); cov != "" {
		t.Errorf("the replayed takeover made the standby cover %q again", cov)
	}
	// Once the window has passed, the copy is refused for its timestamp.
	f.now = f.now.Add(time.Minute)
	replay2 := first.Clone(context.Background())
	replay2.Body = io.NopCloser(bytes.NewReader(body))
	f.expect(replay2, http.StatusUnauthorized, httptransport.CodeUnauthenticated)
}

func TestClockSkew(t *testing.T) {
	for _, c := range []struct {
		offset time.Duration
		ok     bool
	}{
		{0, true}, {29 * time.Second, true}, {-29 * time.Second, true}, {30 * time.Second, true},
		{31 * time.Second, false}, {-31 * time.Second, false}, {-24 * time.Hour, false}, {10 * 365 * 24 * time.Hour, false},
	} {
		f := newFixture(t, httptransport.HandlerConfig{})
		code, b, _ := f.serve(signed(t, "/nvrha/v1/takeover", takeoverBody(3), "standby-1", testKey, f.now.Add(c.offset)))
		if c.ok && code != http.StatusNoContent {
			t.Errorf("client clock %v off: %d %+v, want 204", c.offset, code, b)
		}
		if !c.ok && (code != http.StatusUnauthorized || b.Code != httptransport.CodeUnauthenticated || f.agent.calls.Load() != 0) {
			t.Errorf("client clock %v off: %d %+v, agent called %d times; want 401 and no call", c.offset, code, b, f.agent.calls.Load())
		}
	}
	// A narrower window, by configuration.
	f := newFixture(t, httptransport.HandlerConfig{Auth: httptransport.Auth{Keys: []httptransport.Key{testKey}, MaxSkew: 5 * time.Second}})
	f.expect(signed(t, "/nvrha/v1/takeover", takeoverBody(3), "standby-1", testKey, f.now.Add(-6*time.Second)),
		http.StatusUnauthorized, httptransport.CodeUnauthenticated)
}

// TestClientClockSkew checks what a center with a wrong clock sees: a
// definite refusal wrapping ErrUnauthenticated, not an unreachable server.
func TestClientClockSkew(t *testing.T) {
	agent := newStandby()
	auth := httptransport.Auth{Keys: []httptransport.Key{testKey}}
	h, err := httptransport.NewHandler(agent, httptransport.HandlerConfig{Server: "standby-1", Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	c, err := httptransport.NewClient(httptransport.ClientConfig{
		Resolver: httptransport.StaticResolver{"standby-1": srv.URL}, Auth: auth,
		Now: func() time.Time { return time.Now().Add(-2 * time.Minute) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Probe(context.Background(), "standby-1")
	var re *httptransport.RemoteError
	if !errors.Is(err, httptransport.ErrUnauthenticated) || errors.Is(err, transport.ErrUnreachable) || !errors.As(err, &re) || re.Status != 401 {
		t.Errorf("probe with a skewed clock: %v", err)
	}
	if n := agent.calls.Load(); n != 0 {
		t.Errorf("the agent was called %d times", n)
	}
}

func TestKeyRotation(t *testing.T) {
	oldKey := httptransport.Key{ID: "k-2025", Secret: bytes.Repeat([]byte("o"), 32)}
	newKey := httptransport.Key{ID: "k-2026", Secret: bytes.Repeat([]byte("n"), 32)}
	agent := newStandby()
	var handler atomic.Pointer[http.Handler]
	setKeys := func(keys ...httptransport.Key) {
		h, err := httptransport.NewHandler(agent, httptransport.HandlerConfig{Server: "standby-1", Auth: httptransport.Auth{Keys: keys}})
		if err != nil {
			t.Fatal(err)
		}
		handler.Store(&h)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) }))
	defer srv.Close()
	client := func(keys ...httptransport.Key) *httptransport.Client {
		c, err := httptransport.NewClient(httptransport.ClientConfig{
			Resolver: httptransport.StaticResolver{"standby-1": srv.URL}, Auth: httptransport.Auth{Keys: keys}, VerifyResponses: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	probe := func(step string, c *httptransport.Client, wantOK bool) {
		t.Helper()
		_, err := c.Probe(context.Background(), "standby-1")
		if wantOK && err != nil {
			t.Errorf("%s: %v", step, err)
		}
		if !wantOK && err == nil {
			t.Errorf("%s: probe succeeded, want it refused", step)
		}
	}
	before, during, after := client(oldKey), client(newKey, oldKey), client(newKey)

	setKeys(oldKey)
	probe("1. old key only: old client", before, true)
	probe("1. old key only: new client", after, false)

	setKeys(oldKey, newKey) // 2. every agent learns the new key
	probe("2. both keys: old client", before, true)
	probe("2. both keys: rotating client", during, true)

	setKeys(newKey) // 3. the old key is retired
	probe("3. new key only: rotating client", during, true)
	probe("3. new key only: new client", after, true)
	probe("3. new key only: old client", before, false)

	if _, err := httptransport.NewHandler(agent, httptransport.HandlerConfig{Server: "standby-1", Auth: httptransport.Auth{Keys: []httptransport.Key{oldKey, oldKey}}}); err == nil {
		t.Error("a key listed twice was accepted")
	}
}

func TestWeakConfigurationIsRefused(t *testing.T) {
	agent := newStandby()
	for name, cfg := range map[string]httptransport.HandlerConfig{
		"no keys":      {Server: "standby-1"},
		"short secret": {Server: "standby-1", Auth: httptransport.Auth{Keys: []httptransport.Key{{ID: "k", Secret: []byte("short")}}}},
		"bad key ID":   {Server: "standby-1", Auth: httptransport.Auth{Keys: []httptransport.Key{{ID: "k\n1", Secret: testKey.Secret}}}},
		"no server":    {Auth: httptransport.Auth{Keys: []httptransport.Key{testKey}}},
		"bad reason":   {Server: "standby-1", Auth: httptransport.Auth{Keys: []httptransport.Key{testKey}}, Reasons: []httptransport.Reason{{Code: "Busy", Err: agenttest.ErrBusy}}},
		"nil reason":   {Server: "standby-1", Auth: httptransport.Auth{Keys: []httptransport.Key{testKey}}, Reasons: []httptransport.Reason{{Code: "busy"}}},
	} {
		if _, err := httptransport.NewHandler(agent, cfg); err == nil {
			t.Errorf("%s: NewHandler accepted it", name)
		}
	}
	if _, err := httptransport.NewHandler(nil, httptransport.HandlerConfig{Server: "s", Auth: httptransport.Auth{Keys: []httptransport.Key{testKey}}}); err == nil {
		t.Error("nil agent accepted")
	}
	if _, err := httptransport.NewClient(httptransport.ClientConfig{Auth: httptransport.Auth{Keys: []httptransport.Key{testKey}}}); err == nil {
		t.Error("client without resolver accepted")
	}
	if _, err := httptransport.NewClient(httptransport.ClientConfig{Resolver: httptransport.StaticResolver{}}); err == nil {
		t.Error("client without keys accepted")
	}
	for name, cfg := range map[string]httptransport.ClientConfig{
		"negative Timeout":          {Timeout: -1},
		"negative MaxResponseBytes": {MaxResponseBytes: -1},
		"negative UDPProbeWait":     {UDPProbeWait: -1},
	} {
		cfg.Resolver, cfg.Auth = httptransport.StaticResolver{}, httptransport.Auth{Keys: []httptransport.Key{testKey}}
		if _, err := httptransport.NewClient(cfg); err == nil {
			t.Errorf("client with %s accepted", name)
		}
	}
	k, err := httptransport.NewKey("fresh")
	if err != nil || len(k.Secret) != httptransport.MinSecretBytes {
		t.Errorf("NewKey: %v, %d bytes", err, len(k.Secret))
	}
}

func TestStaleEpochIs409(t *testing.T) {
	f := newFixture(t, httptransport.HandlerConfig{})
	if code, b, _ := f.serve(signed(t, "/nvrha/v1/takeover", takeoverBody(7), "standby-1", testKey, f.now)); code != http.StatusNoContent {
		t.Fatalf("takeover: %d %+v", code, b)
	}
	b := f.expect(signed(t, "/nvrha/v1/takeover", takeoverBody(6), "standby-1", testKey, f.now), http.StatusConflict, httptransport.CodeStaleEpoch)
	if b.Key != "rec-1" || b.Got != 6 || b.Newest != 7 {
		t.Errorf("stale epoch body %+v, want key rec-1, got 6, newest 7", b)
	}
	if f.agent.Newest("rec-1") != 7 {
		t.Errorf("the stale order changed the fence: %d", f.agent.Newest("rec-1"))
	}
}

// TestClientStaleEpoch checks the 409 as the center sees it.
func TestClientStaleEpoch(t *testing.T) {
	agent := newStandby()
	c, _ := serveAgents(t, map[nvrha.ServerID]transport.Agent{"standby-1": agent}, true)
	ctx := context.Background()
	if err := c.Takeover(ctx, "standby-1", transport.TakeoverOrder{Recording: "rec-1", Epoch: 7}); err != nil {
		t.Fatal(err)
	}
	err := c.Release(ctx, "standby-1", transport.ReleaseOrder{Recording: "rec-1", Epoch: 5})
	var se *transport.StaleEpochError
	if !errors.Is(err, transport.ErrStaleEpoch) || !errors.As(err, &se) || se.Got != 5 || se.Newest != 7 || se.Key != "rec-1" {
		t.Fatalf("stale release: %v", err)
	}
	var re *httptransport.RemoteError
	if !errors.As(err, &re) || re.Status != http.StatusConflict {
		t.Errorf("stale release: %v, want a 409 RemoteError", err)
	}
	if errors.Is(err, transport.ErrUnreachable) {
		t.Errorf("a stale epoch is a definite refusal, not an unknown outcome: %v", err)
	}
	if cov, _ := agent.Covering(); cov != "rec-1" {
		t.Errorf("the stale release changed the standby: covers %q", cov)
	}
}

func TestOversizeBodyIs413(t *testing.T) {
	f := newFixture(t, httptransport.HandlerConfig{MaxBodyBytes: 1 << 10})
	big := []byte(`{"recording":"rec-1","epoch":3,"cameras":["` + strings.Repeat("c", 2<<10) + `"]}`)
	f.expect(signed(t, "/nvrha/v1/takeover", big, "standby-1", testKey, f.now), http.StatusRequestEntityTooLarge, httptransport.CodeTooLarge)
	// Without a Content-Length the limit holds while reading.
	r := signed(t, "/nvrha/v1/takeover", big, "standby-1", testKey, f.now)
	r.ContentLength = -1
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(big)))
	f.expect(r, http.StatusRequestEntityTooLarge, httptransport.CodeTooLarge)
	if n := f.agent.calls.Load(); n != 0 {
		t.Errorf("the agent was called %d times", n)
	}

	// The default is 1 MiB.
	d := newFixture(t, httptransport.HandlerConfig{})
	huge := bytes.Repeat([]byte(" "), httptransport.DefaultMaxBodyBytes+1)
	d.expect(signed(t, "/nvrha/v1/takeover", huge, "standby-1", testKey, d.now), http.StatusRequestEntityTooLarge, httptransport.CodeTooLarge)
	justFits := append(bytes.Repeat([]byte(" "), httptransport.DefaultMaxBodyBytes-len(takeoverBody(3))), takeoverBody(3)...)
	if code, b, _ := d.serve(signed(t, "/nvrha/v1/takeover", justFits, "standby-1", testKey, d.now)); code != http.StatusNoContent {
		t.Errorf("a body of exactly the limit: %d %+v", code, b)
	}
}

func TestBadJSONIs400(t *testing.T) {
	bad := map[string]string{
		"empty":              ``,
		"null":               `null`,
		"array":              `[]`,
		"string":             `"takeover"`,
		"truncated":          `{"recording":"rec-1","epoch":3`,
		"epoch as string":    `{"recording":"rec-1","epoch":"3"}`,
		"negative epoch":     `{"recording":"rec-1","epoch":-3}`,
		"fractional epoch":   `{"recording":"rec-1","epoch":3.5}`,
		"epoch too large":    `{"recording":"rec-1","epoch":18446744073709551616}`,
		"unknown field":      `{"recording":"rec-1","epoch":3,"priority":"high"}`,
		"trailing object":    `{"recording":"rec-1","epoch":3}{"recording":"rec-2","epoch":4}`,
		"trailing garbage":   `{"recording":"rec-1","epoch":3} x`,
		"cameras not a list": `{"recording":"rec-1","epoch":3,"cameras":"cam-1"}`,
		"not UTF-8 JSON":     "\xff\xfe{}",
		// What encoding/json alone accepts, and the handler must not: an
		// order must mean one thing to every reader.
		"key in another case":       `{"Recording":"rec-1","epoch":3}`,
		"key in capitals":           `{"recording":"rec-1","EPOCH":3}`,
		"duplicate key":             `{"recording":"rec-1","epoch":3,"epoch":9}`,
		"duplicate key, other case": `{"recording":"rec-1","epoch":3,"Epoch":9}`,
		"invalid UTF-8 in an ID":    "{\"recording\":\"rec-\xff\",\"epoch\":3}",
		"invalid UTF-8 in a camera": "{\"recording\":\"rec-1\",\"epoch\":3,\"cameras\":[\"cam\xc3\"]}",
		"lone surrogate escape":     `{"recording":"rec-\udc00","epoch":3}`,
		"unpaired high surrogate":   `{"recording":"rec-\ud83d-1","epoch":3}`,
		"deep nesting":              `{"recording":"rec-1","epoch":3,"cameras":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
	}
	for name, body := range bad {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, httptransport.HandlerConfig{})
			f.expect(signed(t, "/nvrha/v1/takeover", []byte(body), "standby-1", testKey, f.now), http.StatusBadRequest, httptransport.CodeBadRequest)
			if n := f.agent.calls.Load(); n != 0 {
				t.Errorf("the agent was called %d times", n)
			}
		})
	}
	invalid := map[string]string{
		"epoch zero":        `{"recording":"rec-1","epoch":0}`,
		"no epoch":          `{"recording":"rec-1"}`,
		"empty recording":   `{"recording":"","epoch":3}`,
		"duplicate cameras": `{"recording":"rec-1","epoch":3,"cameras":["c","c"]}`,
		"control character": `{"recording":"rec-1","epoch":3,"cameras":["c\u0007"]}`,
	}
	for name, body := range invalid {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, httptransport.HandlerConfig{})
			f.expect(signed(t, "/nvrha/v1/takeover", []byte(body), "standby-1", testKey, f.now), http.StatusBadRequest, httptransport.CodeInvalidOrder)
			if n := f.agent.calls.Load(); n != 0 {
				t.Errorf("the agent was called %d times", n)
			}
		})
	}
}

func TestWrongServerIs421(t *testing.T) {
	f := newFixture(t, httptransport.HandlerConfig{})
	b := f.expect(signed(t, "/nvrha/v1/takeover", takeoverBody(3), "standby-2", testKey, f.now), http.StatusMisdirectedRequest, httptransport.CodeWrongServer)
	if !strings.Contains(b.Message, "standby-2") {
		t.Errorf("message %q does not name the server asked for", b.Message)
	}
	if n := f.agent.calls.Load(); n != 0 {
		t.Errorf("the agent was called %d times", n)
	}

	// Through a client whose address book points standby-2 at standby-1's
	// address: the center learns that it did not reach standby-2.
	agent := newStandby()
	h, err := httptransport.NewHandler(agent, httptransport.HandlerConfig{Server: "standby-1", Auth: httptransport.Auth{Keys: []httptransport.Key{testKey}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	var dir httptransport.Directory
	dir.Set("standby-2", srv.URL)
	c, err := httptransport.NewClient(httptransport.ClientConfig{Resolver: &dir, Auth: httptransport.Auth{Keys: []httptransport.Key{testKey}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Takeover(context.Background(), "standby-2", transport.TakeoverOrder{Recording: "rec-1", Epoch: 1})
	var re *httptransport.RemoteError
	if !errors.Is(err, transport.ErrUnreachable) || !errors.As(err, &re) || re.Body.Code != httptransport.CodeWrongServer {
		t.Errorf("takeover through a stale address: %v", err)
	}
	if n := agent.calls.Load(); n != 0 {
		t.Errorf("the wrong agent was called %d times", n)
	}
	dir.Remove("standby-2")
	if _, err := c.Probe(context.Background(), "standby-2"); !errors.Is(err, transport.ErrUnknownServer) {
		t.Errorf("probe of a removed server: %v", err)
	}
}

func TestRoutingErrors(t *testing.T) {
	f := newFixture(t, httptransport.HandlerConfig{})
	for _, path := range []string{"/", "/nvrha/v1/", "/nvrha/v2/probe", "/nvrha/v1/probe/", "/nvrha/v1/Probe", "/nvrha/v1/takeover/x", "/nvrha/v1//probe"} {
		r := httptest.NewRequest(http.MethodPost, path, nil)
		f.expect(r, http.StatusNotFound, httptransport.CodeNotFound)
	}
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodHead, http.MethodPatch} {
		r := signed(t, "/nvrha/v1/probe", nil, "standby-1", testKey, f.now)
		r.Method = m
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, r)
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != http.MethodPost {
			t.Errorf("%s: %d, Allow %q", m, w.Code, w.Header().Get("Allow"))
		}
	}
}
