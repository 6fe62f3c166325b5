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
	"sync/atomic"
	"testing"
	"time"

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

// failures returns the lines of the checks that failed, without "FAIL ".
func failures(out string) []string {
	var lines []string
	for line := range strings.Lines(out) {
		if rest, ok := strings.CutPrefix(line, "FAIL "); ok {
			lines = append(lines, rest)
		}
	}
	return lines
}

// failedExactly reports whether the checks that failed in out are those
// whose names start with want, in order.
func failedExactly(out string, want ...string) bool {
	got := failures(out)
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !strings.HasPrefix(got[i], want[i]) {
			return false
		}
	}
	return true
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
// checks (from its center) still passes: the semantics and epoch-fencing
// checks go above them, and leave its term as it was.
func TestSemanticsGoAboveTheAgentsEpochAndTerm(t *testing.T) {
	key := textKey()
	sb := referenceStandby()
	ctx := context.Background()
	if err := sb.Release(ctx, transport.ReleaseOrder{Recording: "rec-9", Epoch: 40, Term: 5}); err != nil {
		t.Fatal(err)
	}
	out, err := check(t, serveAgent(t, "standby-1", sb, key, nil), "standby-1", key, "-semantics", "-fencing", "-peer", "rec-9")
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
	if !errors.Is(err, errFailed) || !failedExactly(out, "orders are fenced by center term (8, then 7): ") {
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

// Flags that make no sense are refused before anything is sent.
func TestFlagsChecked(t *testing.T) {
	key := textKey()
	file := keyFile(t, key)
	for _, args := range [][]string{
		{"-peer", "rec-1"},     // the agent itself
		{"-peer", "bad id "},   // not an ID
		{"-max-body", "0"},     // no body at all
		{"-max-header", "-1"},  // negative
		{"-max-skew", "0s"},    // no window
		{"-no-such-flag", "x"}, // unknown
	} {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"-url", "http://127.0.0.1:1", "-id", "rec-1", "-secret-file", file}, args...), &out, &out)
		if err == nil || errors.Is(err, errFailed) || strings.Contains(out.String(), "PASS") {
			t.Errorf("run %v: %v, want a flag error and no checks\n%s", args, err, out.String())
		}
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
	for _, want := range []string{"FAIL probe over HTTP", "FAIL a wrong key is refused", "FAIL a replayed request is refused", "FAIL a malformed order is refused",
		"FAIL a body over the limit", "FAIL a probe with a body is refused", "FAIL headers over the limit", "FAIL a request signed 1m0s ago", "FAIL a request signed 1m0s ahead",
		"SKIP probe over UDP answers as rec-1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out.String())
		}
	}
}

// startedAnHourAgo is a handler's clock that tells it it started an hour
// ago: its first reading is then, every later one now. A handler refuses
// what was signed before it started, so the clock of one just started
// would hide that it accepts timestamps too old.
func startedAnHourAgo() func() time.Time {
	var read atomic.Bool
	return func() time.Time {
		if !read.Swap(true) {
			return time.Now().Add(-time.Hour)
		}
		return time.Now()
	}
}

// Each limit check fails for an agent that is right in everything but
// that limit.
func TestAgentOverItsLimitsFails(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(*httptransport.HandlerConfig, *http.Server)
		want   []string
	}{
		{"accepts bodies of 4 MiB", func(c *httptransport.HandlerConfig, _ *http.Server) { c.MaxBodyBytes = 4 << 20 },
			[]string{"a body over the limit (1048577 bytes) is refused (413 too_large)"}},
		{"refuses bodies over 512 KiB", func(c *httptransport.HandlerConfig, _ *http.Server) { c.MaxBodyBytes = 512 << 10 },
			[]string{"a body at the limit (1048576 bytes) is read and judged (400 bad_request, not 413)"}},
		{"accepts 1 MiB of headers", func(_ *httptransport.HandlerConfig, s *http.Server) { s.MaxHeaderBytes = 1 << 20 },
			[]string{"headers over the limit (17408 bytes) are refused (431)"}},
		{"allows clocks 2 hours apart", func(c *httptransport.HandlerConfig, _ *http.Server) {
			c.Auth.MaxSkew = 2 * time.Hour
			c.Now = startedAnHourAgo()
		},
			[]string{"a request signed 1m0s ago is refused (401 unauthenticated)", "a request signed 1m0s ahead is refused (401 unauthenticated)"}},
		{"allows clocks 5 s apart", func(c *httptransport.HandlerConfig, _ *http.Server) { c.Auth.MaxSkew = 5 * time.Second },
			[]string{"a request signed 10s ahead, within the window, is accepted"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			key := textKey()
			out, err := check(t, serveAgent(t, "rec-1", referenceAgent(), key, c.change), "rec-1", key)
			if !errors.Is(err, errFailed) || !failedExactly(out, c.want...) {
				t.Fatalf("run: %v; failed %q, want %q\n%s", err, failures(out), c.want, out)
			}
		})
	}
}

// udpLies answers probes over UDP (whose context, unlike HTTP's, carries
// no http.Server) with a report lie changed.
type udpLies struct {
	*agenttest.Server
	lie func(*transport.ProbeReport)
}

func (a udpLies) Probe(ctx context.Context) (transport.ProbeReport, error) {
	r, err := a.Server.Probe(ctx)
	if ctx.Value(http.ServerContextKey) == nil {
		a.lie(&r)
	}
	return r, err
}

// noCovering never reports whom it covers.
type noCovering struct{ *agenttest.Server }

func (a noCovering) Probe(ctx context.Context) (transport.ProbeReport, error) {
	r, err := a.Server.Probe(ctx)
	r.Covering = ""
	return r, err
}

// strict refuses an order whose epoch equals the newest accepted, as if
// epochs had to grow: every retry of an order whose answer was lost would
// fail.
type strict struct{ *agenttest.Server }

func (a strict) equal(key nvrha.ServerID, e nvrha.Epoch) error {
	if n := a.Newest(key); n == e {
		return &transport.StaleEpochError{Key: key, Got: e, Newest: n}
	}
	return nil
}

func (a strict) Takeover(ctx context.Context, o transport.TakeoverOrder) error {
	if err := a.equal(o.Recording, o.Epoch); err != nil {
		return err
	}
	return a.Server.Takeover(ctx, o)
}

func (a strict) Release(ctx context.Context, o transport.ReleaseOrder) error {
	if err := a.equal(o.Recording, o.Epoch); err != nil {
		return err
	}
	return a.Server.Release(ctx, o)
}

func (a strict) StandDown(ctx context.Context, o transport.StandDownOrder) error {
	if err := a.equal(a.ID(), o.Epoch); err != nil {
		return err
	}
	return a.Server.StandDown(ctx, o)
}

func (a strict) Resume(ctx context.Context, o transport.ResumeOrder) error {
	if err := a.equal(a.ID(), o.Epoch); err != nil {
		return err
	}
	return a.Server.Resume(ctx, o)
}

// unfenced takes an order with an old epoch for one with the newest, as an
// agent that does not fence would: a late order is carried out.
type unfenced struct{ *agenttest.Server }

func (a unfenced) newest(key nvrha.ServerID, e nvrha.Epoch) nvrha.Epoch { return max(e, a.Newest(key)) }

func (a unfenced) Takeover(ctx context.Context, o transport.TakeoverOrder) error {
	o.Epoch = a.newest(o.Recording, o.Epoch)
	return a.Server.Takeover(ctx, o)
}

func (a unfenced) StandDown(ctx context.Context, o transport.StandDownOrder) error {
	o.Epoch = a.newest(a.ID(), o.Epoch)
	return a.Server.StandDown(ctx, o)
}

// lazy accepts the orders of kind and does nothing with them.
type lazy struct {
	*agenttest.Server
	kind transport.Method
}

func (a lazy) Release(ctx context.Context, o transport.ReleaseOrder) error {
	if a.kind == transport.MethodRelease {
		return nil
	}
	return a.Server.Release(ctx, o)
}

func (a lazy) StandDown(ctx context.Context, o transport.StandDownOrder) error {
	if a.kind == transport.MethodStandDown {
		return nil
	}
	return a.Server.StandDown(ctx, o)
}

func (a lazy) Resume(ctx context.Context, o transport.ResumeOrder) error {
	if a.kind == transport.MethodResume {
		// Its epoch is recorded (so that only what it does is wrong).
		return a.Server.Release(ctx, transport.ReleaseOrder{Recording: a.ID(), Epoch: o.Epoch, Term: o.Term})
	}
	return a.Server.Resume(ctx, o)
}

// Each semantics check fails for an agent broken in what it checks.
func TestBrokenSemanticsFail(t *testing.T) {
	const (
		takeover      = "semantics: takeover of rec-9: the probe over HTTP shows it covering, at the order's epoch"
		takeoverUDP   = "semantics: takeover of rec-9: the probe over UDP shows it covering too"
		takeoverAgain = "semantics: the same takeover again (a retry, same epoch) is accepted and changes nothing"
		release       = "semantics: a release with a newer epoch ends covering"
		lateTakeover  = "semantics: the takeover arriving late (older epoch) after the release is refused (409 stale_epoch) and changes nothing"
		releaseAgain  = "semantics: the same release again (a retry) is accepted"
		standDown     = "semantics: stand-down (a takeover's half): the probe over HTTP shows it not recording, at the order's epoch"
		standDownUDP  = "semantics: stand-down: the probe over UDP shows it not recording too"
		sdAgain       = "semantics: the same stand-down again (a retry, same epoch) is accepted and changes nothing"
		resume        = "semantics: resume with a newer epoch (failback's first half) records again"
		resumeUDP     = "semantics: after the resume the probe over UDP shows it recording too"
		lateSD        = "semantics: the stand-down arriving late (older epoch) after the resume is refused (409 stale_epoch) and changes nothing"
		resumeAgain   = "semantics: the same resume again (a retry) is accepted"
		probeUDP      = "probe over UDP (port"
	)
	for _, c := range []struct {
		name  string
		agent func() transport.Agent
		want  []string
	}{
		{"standby that never reports covering", func() transport.Agent { return noCovering{referenceStandby()} },
			[]string{takeover, takeoverUDP, takeoverAgain}},
		{"standby that reports over UDP no covering", func() transport.Agent {
			return udpLies{referenceStandby(), func(r *transport.ProbeReport) { r.Covering = "" }}
		}, []string{takeoverUDP}},
		{"standby that refuses retries", func() transport.Agent { return strict{referenceStandby()} },
			[]string{takeoverAgain, releaseAgain}},
		{"standby that does not release", func() transport.Agent { return lazy{referenceStandby(), transport.MethodRelease} },
			[]string{release, "semantics: after the release the probe over UDP shows it covering nobody too", lateTakeover, releaseAgain}},
		{"standby that does not fence", func() transport.Agent { return unfenced{referenceStandby()} },
			[]string{lateTakeover}},
		{"recording server that does not stand down", func() transport.Agent { return lazy{referenceAgent(), transport.MethodStandDown} },
			[]string{standDown, standDownUDP, sdAgain, lateSD}},
		{"recording server that does not resume", func() transport.Agent {
			return lazy{referenceAgent(), transport.MethodResume}
		}, []string{resume, resumeUDP, lateSD, resumeAgain}},
		{"recording server that reports over UDP recording", func() transport.Agent {
			return udpLies{referenceAgent(), func(r *transport.ProbeReport) { r.Recording = true }}
		}, []string{standDownUDP}},
		{"recording server that refuses retries", func() transport.Agent { return strict{referenceAgent()} },
			[]string{sdAgain, resumeAgain}},
		{"recording server that does not fence", func() transport.Agent { return unfenced{referenceAgent()} },
			[]string{lateSD}},
		{"agent whose probes over UDP differ from HTTP's", func() transport.Agent {
			return udpLies{referenceAgent(), func(r *transport.ProbeReport) { r.Healthy = false }}
		}, []string{probeUDP}},
	} {
		t.Run(c.name, func(t *testing.T) {
			key := textKey()
			a := c.agent()
			id := nvrha.ServerID("rec-1")
			if f, _ := a.Inventory(context.Background()); len(f.Cameras) == 0 {
				id = "standby-1"
			}
			out, err := check(t, serveAgent(t, id, a, key, nil), id, key, "-semantics", "-peer", "rec-9")
			if !errors.Is(err, errFailed) || !failedExactly(out, c.want...) {
				t.Fatalf("run: %v; failed %q, want %q\n%s", err, failures(out), c.want, out)
			}
		})
	}
}
