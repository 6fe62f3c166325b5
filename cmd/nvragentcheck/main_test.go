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

// The reference agent (agenttest behind httptransport's handler, with
// probes over UDP) passes every check.
func TestReferenceAgentPasses(t *testing.T) {
	key := textKey()
	f := nvrha.Facts{ID: "rec-1", Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 8,
		Cameras: []nvrha.CameraID{"rec-1/cam-1"}, RecordingSpaces: []nvrha.RecordingSpace{{Name: "v", CapacityBytes: 1 << 30}}}
	h, err := httptransport.NewHandler(agenttest.New(f), httptransport.HandlerConfig{Server: f.ID, Auth: httptransport.Auth{Keys: []httptransport.Key{key}}})
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
	defer probes.Close()
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	defer srv.Close()

	var out bytes.Buffer
	err = run(context.Background(), []string{"-url", "http://" + ln.Addr().String(), "-id", "rec-1", "-secret-file", keyFile(t, key), "-fencing"}, &out, &out)
	if err != nil || strings.Contains(out.String(), "FAIL") || !strings.Contains(out.String(), "12 passed, 0 failed") {
		t.Fatalf("run: %v\n%s", err, out.String())
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
