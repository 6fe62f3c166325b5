package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/agenttest"
	"github.com/nvrha/nvrha/transport/httptransport"
)

func agentServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// textKey is a key whose secret is text, as a secret file holds it.
func textKey() httptransport.Key {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	return httptransport.Key{ID: "center", Secret: []byte(hex.EncodeToString(raw))}
}

func keyFile(t *testing.T, key httptransport.Key) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(p, append(key.Secret, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// serveAgent serves agent as rec-1 behind httptransport's handler, with
// probes over UDP, and returns its base URL.
func serveAgent(t *testing.T, agent transport.Agent, key httptransport.Key) string {
	t.Helper()
	h, err := httptransport.NewHandler(agent, httptransport.HandlerConfig{Server: "rec-1", Auth: httptransport.Auth{Keys: []httptransport.Key{key}}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	probes, err := httptransport.ListenProbes(ln.Addr().String(), h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = probes.Close() })
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

func referenceAgent() *agenttest.Server {
	f := nvrha.Facts{ID: "rec-1", Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 8,
		Cameras: []nvrha.CameraID{"rec-1/cam-1"}, RecordingSpaces: []nvrha.RecordingSpace{{Name: "v", CapacityBytes: 1 << 30}}}
	return agenttest.New(f)
}

// The reference agent (agenttest behind httptransport's handler, with
// probes over UDP) passes every check, the fencing ones included.
func TestReferenceAgentPasses(t *testing.T) {
	key := textKey()
	url := serveAgent(t, referenceAgent(), key)
	var out bytes.Buffer
	err := run(context.Background(), []string{"-url", url, "-id", "rec-1", "-secret-file", keyFile(t, key), "-fencing", "-term-fencing", "7"}, &out, &out)
	if err != nil || strings.Contains(out.String(), "FAIL") || !strings.Contains(out.String(), "13 passed, 0 failed") {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
}

// termBlind passes every order on without its center term, as an agent
// written before terms would.
type termBlind struct{ *agenttest.Server }

func (a termBlind) Release(ctx context.Context, o transport.ReleaseOrder) error {
	o.Term = 0
	return a.Server.Release(ctx, o)
}

// An agent that fences by epoch but ignores center terms passes the epoch
// check and fails the term check: a deposed center could still order it.
func TestTermBlindAgentFails(t *testing.T) {
	key := textKey()
	url := serveAgent(t, termBlind{referenceAgent()}, key)
	var out bytes.Buffer
	err := run(context.Background(), []string{"-url", url, "-id", "rec-1", "-secret-file", keyFile(t, key), "-fencing", "-term-fencing", "7"}, &out, &out)
	if !errors.Is(err, errFailed) || !strings.Contains(out.String(), "PASS orders are fenced by epoch") ||
		!strings.Contains(out.String(), "FAIL orders are fenced by center term (8, then 7)") {
		t.Fatalf("run: %v, want errFailed with only the term check failing\n%s", err, out.String())
	}
}

// The largest term leaves no room for a newer one: refused up front.
func TestTermFencingFlagBounded(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-url", "http://127.0.0.1:1", "-id", "rec-1", "-secret-file", "x", "-term-fencing", "18446744073709551615"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "-term-fencing") {
		t.Fatalf("run: %v, want a -term-fencing error", err)
	}
}

// An agent that answers everything with 200 and a probe report fails the
// checks of what it must refuse.
func TestCarelessAgentFails(t *testing.T) {
	key := textKey()
	url := agentServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"server":"rec-1","healthy":true,"recording":true,"epoch":0,"has_empty_recording_space":false}`))
	}))
	var out bytes.Buffer
	err := run(context.Background(), []string{"-url", url, "-id", "rec-1", "-secret-file", keyFile(t, key)}, &out, &out)
	if !errors.Is(err, errFailed) {
		t.Fatalf("run: %v, want errFailed\n%s", err, out.String())
	}
	for _, want := range []string{"FAIL probe over HTTP", "FAIL a wrong key is refused", "FAIL a replayed request is refused", "FAIL a malformed order is refused"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out.String())
		}
	}
}
