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
	"slices"
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

// serveAgent serves agent as id behind httptransport's handler, with
// probes over UDP, from the http.Server NewServer returns, as an agent
// should (examples/agent does), and returns its base URL. change, if not
// nil, adjusts the handler's configuration and the server for a broken
// variant.
func serveAgent(t *testing.T, id nvrha.ServerID, agent transport.Agent, key httptransport.Key, change func(*httptransport.HandlerConfig, *http.Server)) string {
	t.Helper()
	cfg := httptransport.HandlerConfig{Server: id, Auth: httptransport.Auth{Keys: []httptransport.Key{key}}}
	srv := httptransport.NewServer("", nil)
	if change != nil {
		change(&cfg, srv)
	}
	h, err := httptransport.NewHandler(agent, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Handler = h
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	probes, err := httptransport.ListenProbes(ln.Addr().String(), h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = probes.Close() })
	go srv.Serve(ln)
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

func referenceAgent() *agenttest.Server {
	f := nvrha.Facts{ID: "rec-1", Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 8,
		Cameras: []nvrha.CameraID{"rec-1/cam-1"}, RecordingSpaces: []nvrha.RecordingSpace{{Name: "v", CapacityBytes: 1 << 30}}}
	return agenttest.New(f)
}

func referenceStandby() *agenttest.Server {
	f := nvrha.Facts{ID: "standby-1", Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 8,
		RecordingSpaces: []nvrha.RecordingSpace{{Name: "v", CapacityBytes: 1 << 30, Empty: true}}}
	return agenttest.New(f)
}

// check runs nvragentcheck against the agent at url with args besides
// -url, -id and -secret-file, and returns what it printed.
func check(t *testing.T, url string, id nvrha.ServerID, key httptransport.Key, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"-url", url, "-id", string(id), "-secret-file", keyFile(t, key)}, args...), &out, &out)
	return out.String(), err
}

// failures returns the names of the checks that failed, each up to its
// colon.
func failures(out string) []string {
	var names []string
	for line := range strings.Lines(out) {
		if name, ok := strings.CutPrefix(line, "FAIL "); ok {
			name, _, _ = strings.Cut(name, ": ")
			names = append(names, name)
		}
	}
	return names
}

// The reference agent (agenttest behind httptransport's handler, with
// probes over UDP) passes every check, semantics and fencing included, as
// a recording server and as a standby, and ends recording (or covering)
// as it began.
func TestReferenceAgentPasses(t *testing.T) {
	key := textKey()
	rec := referenceAgent()
	out, err := check(t, serveAgent(t, "rec-1", rec, key, nil), "rec-1", key, "-semantics", "-fencing", "-term-fencing", "7")
	if err != nil || strings.Contains(out, "FAIL") || strings.Contains(out, "SKIP") || !strings.Contains(out, "28 passed, 0 failed\n") {
		t.Fatalf("recording server: run: %v\n%s", err, out)
	}
	if !rec.Recording() || rec.Newest("rec-1") != 2 {
		t.Errorf("after the checks the recording server records: %v, at epoch %d; want true at 2", rec.Recording(), rec.Newest("rec-1"))
	}

	sb := referenceStandby()
	out, err = check(t, serveAgent(t, "standby-1", sb, key, nil), "standby-1", key, "-semantics", "-peer", "rec-9")
	if err != nil || strings.Contains(out, "FAIL") || !strings.Contains(out, "26 passed, 0 failed\n") {
		t.Fatalf("standby: run: %v\n%s", err, out)
	}
	if cov, _ := sb.Covering(); cov != "" || sb.Newest("rec-9") != 2 {
		t.Errorf("after the checks the standby covers %q, at epoch %d for rec-9; want nobody, 2", cov, sb.Newest("rec-9"))
	}
}

// An agent that has accepted orders of a newer term and epoch before the
// checks (from its center) still passes: the semantics checks go above
// them, and leave its term as it was.
func TestSemanticsGoAboveTheAgentsEpochAndTerm(t *testing.T) {
	key := textKey()
	sb := referenceStandby()
	ctx := context.Background()
	if err := sb.Release(ctx, transport.ReleaseOrder{Recording: "rec-9", Epoch: 40, Term: 5}); err != nil {
		t.Fatal(err)
	}
	out, err := check(t, serveAgent(t, "standby-1", sb, key, nil), "standby-1", key, "-semantics", "-peer", "rec-9")
	if err != nil || strings.Contains(out, "FAIL") {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if sb.Term() != 5 || sb.Newest("rec-9") != 42 {
		t.Errorf("term %d, epoch %d for rec-9; want 5 and 42", sb.Term(), sb.Newest("rec-9"))
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
	url := serveAgent(t, "rec-1", termBlind{referenceAgent()}, key, nil)
	out, err := check(t, url, "rec-1", key, "-fencing", "-term-fencing", "7")
	if !errors.Is(err, errFailed) || !slices.Equal(failures(out), []string{"orders are fenced by center term (8, then 7)"}) {
		t.Fatalf("run: %v, want errFailed with only the term check failing\n%s", err, out)
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
