package httptransport

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/agenttest"
)

// logLines is an io.Writer that keeps what a text logger writes.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logLines) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSuffix(l.buf.String(), "\n"), "\n")[:strings.Count(l.buf.String(), "\n")]
}

// testClock is a clock that a test moves and a listener's goroutine reads.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestForgedDatagramsAreCountedNotLogged floods the probe channel with
// forged datagrams: the log gets one line at once, then one line per
// RefusalLogInterval with the counts, never one per datagram, and each
// line names the server once, as the Logger the agent gave does.
func TestForgedDatagramsAreCountedNotLogged(t *testing.T) {
	clock := &testClock{now: time.Unix(1767254400, 0).Add(-time.Hour)}
	out := &logLines{}
	log := slog.New(slog.NewTextHandler(out, nil)).With("server", "standby-1")
	a := agenttest.New(nvrha.Facts{ID: "standby-1", Product: nvrha.ProductQVRPro})
	h, err := NewHandler(a, HandlerConfig{Server: "standby-1", Auth: Auth{Keys: []Key{internalKey}}, Now: clock.Now, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Hour)
	l, err := ListenProbes("127.0.0.1:0", h)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	to := l.Addr().(*net.UDPAddr).AddrPort()
	forger := Key{ID: internalKey.ID, Secret: bytes.Repeat([]byte("f"), 32)}
	// send sends n forged datagrams, each batch of them followed by a valid
	// probe whose answer it waits for: the listener handles datagrams in
	// order, so by then it has refused the forged ones, and the socket's
	// buffer never holds more than a batch.
	var send func(n int)
	send = func(n int) {
		t.Helper()
		const batch = 50
		for n > batch {
			send(batch)
			n -= batch
		}
		for range n {
			b, _ := datagram(t, forger, "standby-1", clock.Now())
			if _, err := conn.WriteToUDPAddrPort(b, to); err != nil {
				t.Fatal(err)
			}
		}
		b, _ := datagram(t, internalKey, "standby-1", clock.Now())
		if _, err := conn.WriteToUDPAddrPort(b, to); err != nil {
			t.Fatal(err)
		}
		if err := conn.SetReadDeadline(time.Now().Add(patience)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := conn.ReadFromUDPAddrPort(make([]byte, maxDatagram)); err != nil {
			t.Fatalf("no answer to the valid probe: %v", err)
		}
	}
	const flood = 1000
	send(flood)
	lines := out.lines()
	if len(lines) != 1 || !strings.Contains(lines[0], "count=1 ") || !strings.Contains(lines[0], "codes.unauthenticated=1 ") {
		t.Fatalf("after %d forged datagrams, the log holds %d lines, want the first refusal alone:\n%s", flood, len(lines), strings.Join(lines[:min(len(lines), 5)], "\n"))
	}
	clock.Add(RefusalLogInterval)
	send(1)
	lines = out.lines()
	if len(lines) != 2 || !strings.Contains(lines[1], "count=1000 ") || !strings.Contains(lines[1], "last_code=unauthenticated") {
		t.Fatalf("one interval later, the log holds %d lines, want a second with the count (1000):\n%s", len(lines), strings.Join(lines[:min(len(lines), 5)], "\n"))
	}
	send(5)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines = out.lines()
	if len(lines) != 3 || !strings.Contains(lines[2], "count=5 ") {
		t.Fatalf("closing the listener does not log what is pending:\n%s", strings.Join(lines, "\n"))
	}
	for _, line := range lines {
		if n := strings.Count(line, "server="); n != 1 {
			t.Errorf("%q names the server %d times", line, n)
		}
		if !strings.Contains(line, "level=WARN") || !strings.Contains(line, `msg="probe datagrams refused"`) {
			t.Errorf("%q", line)
		}
	}
}

// TestUnauthenticatedRequestsAreCountedNotLogged does the same with HTTP
// requests, and checks that a refusal of an authenticated request still
// gets a line of its own.
func TestUnauthenticatedRequestsAreCountedNotLogged(t *testing.T) {
	out := &logLines{}
	fx := newInternalFixture(t, HandlerConfig{Logger: slog.New(slog.NewTextHandler(out, nil)).With("server", "standby-1")})
	for range 500 {
		r := fx.request(transport.MethodProbe, nil)
		r.Header.Set(HeaderSignature, strings.Repeat("0", 64))
		if w := fx.serve(r); w.Code != http.StatusUnauthorized {
			t.Fatalf("a forged probe: %d", w.Code)
		}
	}
	if lines := out.lines(); len(lines) != 1 {
		t.Fatalf("500 forged requests logged %d lines, want 1", len(lines))
	}
	fx.now = fx.now.Add(RefusalLogInterval)
	r := fx.request(transport.MethodProbe, nil)
	r.Header.Del(HeaderNonce)
	fx.serve(r)
	// An authenticated request refused: its own line.
	if w := fx.serve(fx.request(transport.MethodStandDown, []byte(`{"epoch":0}`))); w.Code != http.StatusBadRequest {
		t.Fatalf("a stand-down with epoch 0: %d", w.Code)
	}
	lines := out.lines()
	if len(lines) != 3 || !strings.Contains(lines[1], `msg="requests refused"`) || !strings.Contains(lines[1], "count=500 ") ||
		!strings.Contains(lines[1], "codes.unauthenticated=500") || !strings.Contains(lines[2], `msg="request refused"`) || !strings.Contains(lines[2], "code=invalid_order") {
		t.Fatalf("log:\n%s", strings.Join(lines, "\n"))
	}
	for _, line := range lines {
		if n := strings.Count(line, "server="); n != 1 {
			t.Errorf("%q names the server %d times", line, n)
		}
	}
}

// TestRequestSignedBeforeTheAgentStartedIsRefused replays, to an agent that
// has restarted, a probe and an order that the agent accepted before: its
// new process does not know their nonces, and refuses them for being
// signed before it started, over HTTP and over UDP.
func TestRequestSignedBeforeTheAgentStartedIsRefused(t *testing.T) {
	fx := newInternalFixture(t, HandlerConfig{})
	body := []byte(`{"recording":"rec-1","epoch":3}`)
	order := fx.request(transport.MethodTakeover, body)
	probe, _ := datagram(t, internalKey, "standby-1", fx.now)
	if w := fx.serve(order); w.Code != http.StatusNoContent {
		t.Fatalf("takeover: %d %s", w.Code, w.Body)
	}

	// The agent restarts five seconds later, its epochs on disk.
	clock := &testClock{now: fx.now.Add(5 * time.Second)}
	h, err := NewHandler(fx.agent, HandlerConfig{Server: "standby-1", Auth: Auth{Keys: []Key{internalKey}}, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	replay := order.Clone(order.Context())
	replay.Body = &recordingBody{r: bytes.NewReader(body)}
	w := &internalFixture{t: t, h: h}
	resp := w.serve(replay)
	if resp.Code != http.StatusUnauthorized || !strings.Contains(resp.Body.String(), "before this agent started") {
		t.Errorf("the order replayed after a restart: %d %s, want 401", resp.Code, resp.Body)
	}
	l, err := ListenProbes("127.0.0.1:0", h)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	from := l.Addr().(*net.UDPAddr).AddrPort()
	if _, ok := l.authenticate(probe, from); ok {
		t.Error("the probe replayed after a restart was accepted")
	}
	if c := l.refusals.counts(); c[CodeUnauthenticated] != 1 {
		t.Errorf("refusals %v, want one unauthenticated", c)
	}
	// What the center signs from the second the agent started in on is
	// accepted.
	fresh, _ := datagram(t, internalKey, "standby-1", clock.Now().Truncate(time.Second))
	if _, ok := l.authenticate(fresh, from); !ok {
		t.Error("a probe signed after the restart was refused")
	}
	w.now = clock.Now()
	if resp := w.serve(w.request(transport.MethodProbe, nil)); resp.Code != http.StatusOK {
		t.Errorf("a probe signed after the restart: %d %s", resp.Code, resp.Body)
	}
}
