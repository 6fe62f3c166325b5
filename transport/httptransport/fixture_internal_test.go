package httptransport

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/agenttest"
)

// internalKey is the key of the package's own tests.
var internalKey = Key{ID: "center-2026", Secret: []byte("0123456789abcdef0123456789abcdef")}

// internalFixture is a handler serving an agenttest standby, on a clock the
// test sets, called without sockets.
type internalFixture struct {
	t     testing.TB
	agent *agenttest.Server
	h     http.Handler
	now   time.Time
}

func newInternalFixture(t testing.TB, cfg HandlerConfig) *internalFixture {
	t.Helper()
	// The handler has been running for an hour: it refuses requests
	// signed before it started.
	f := &internalFixture{t: t, now: time.Unix(1767254400, 0).Add(-time.Hour), agent: agenttest.New(nvrha.Facts{
		ID: "standby-1", Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 32,
		RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", Empty: true}},
	})}
	cfg.Server = "standby-1"
	if cfg.Auth.Keys == nil {
		cfg.Auth.Keys = []Key{internalKey}
	}
	cfg.Now = func() time.Time { return f.now }
	h, err := NewHandler(f.agent, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.h, f.now = h, f.now.Add(time.Hour)
	return f
}

// request returns a signed request to the path of m with body.
func (f *internalFixture) request(m transport.Method, body []byte) *http.Request {
	r := httptest.NewRequestWithContext(context.Background(), http.MethodPost, Path(m), bytes.NewReader(body))
	if err := SignRequest(r, body, "standby-1", internalKey, f.now); err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *internalFixture) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

func (f *internalFixture) probe() *httptest.ResponseRecorder {
	return f.serve(f.request(transport.MethodProbe, nil))
}
