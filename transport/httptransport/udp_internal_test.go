package httptransport

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/agenttest"
)

// patience bounds every wait of these tests for something that should
// happen at once: it is a deadline, not a pause.
const patience = 10 * time.Second

// logRecords is a slog.Handler that hands every record to a channel.
type logRecords chan slog.Record

func (l logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l logRecords) Handle(_ context.Context, r slog.Record) error {
	l <- r
	return nil
}
func (l logRecords) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l logRecords) WithGroup(string) slog.Handler      { return l }

// udpFixture is a handler serving an agenttest standby with its probe
// channel on loopback, on a clock the test sets, and a socket to send it
// hand-made datagrams from.
type udpFixture struct {
	t     *testing.T
	agent *countingAgent
	h     *handler
	pl    *ProbeListener
	to    netip.AddrPort
	conn  *net.UDPConn
	logs  logRecords
	now   time.Time
}

// newUDPFixture returns a fixture whose clock says now.
func newUDPFixture(t *testing.T, now time.Time) *udpFixture {
	t.Helper()
	// The handler has been running for an hour: it refuses requests
	// signed before it started.
	f := &udpFixture{t: t, now: now.Add(-time.Hour), logs: make(logRecords, 64)}
	f.agent = &countingAgent{Agent: agenttest.New(nvrha.Facts{ID: "standby-1", Product: nvrha.ProductQVRPro,
		AdvancedMode: true, LicenseChannels: 32, RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", Empty: true}}})}
	h, err := NewHandler(f.agent, HandlerConfig{Server: "standby-1", Auth: Auth{Keys: []Key{internalKey}},
		Now: func() time.Time { return f.now }, Logger: slog.New(f.logs)})
	if err != nil {
		t.Fatal(err)
	}
	f.h, f.now = h.(*handler), now
	if f.pl, err = ListenProbes("127.0.0.1:0", h); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.pl.Close() })
	f.to = f.pl.Addr().(*net.UDPAddr).AddrPort()
	if f.conn, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.conn.Close() })
	return f
}

// datagram returns a probe request signed with key for server at time at,
// and its nonce.
func datagram(t testing.TB, key Key, server nvrha.ServerID, at time.Time) ([]byte, [nonceSize]byte) {
	var nonce [nonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		t.Fatal(err)
	}
	b := appendProbeRequest(nil, key.ID, server, uint64(at.Unix()), &nonce, 1000)
	return newMACPool(key.Secret).appendMAC(b, b), nonce
}

func (f *udpFixture) send(b []byte) {
	f.t.Helper()
	if _, err := f.conn.WriteToUDPAddrPort(b, f.to); err != nil {
		f.t.Fatal(err)
	}
}

// refused sends b, then a valid probe, and checks that b was refused with
// code and nothing else: the listener handles datagrams in order, so once
// the valid probe is answered, b has been counted.
func (f *udpFixture) refused(b []byte, code string) {
	f.t.Helper()
	before := f.pl.refusals.counts()
	f.send(b)
	f.valid()
	after := f.pl.refusals.counts()
	for c, n := range after {
		want := before[c]
		if c == code {
			want++
		}
		if n != want {
			f.t.Errorf("refusals with %s: %d, then %d; want %d", c, before[c], n, want)
		}
	}
	if after[code] != before[code]+1 {
		f.t.Errorf("not refused with %s: counts %v, then %v", code, before, after)
	}
}

// answer reads the next answer and checks it is an authentic, healthy
// report for nonce: every datagram sent before it and refused got no
// answer, since the listener handles datagrams in order and refuses before
// it answers.
func (f *udpFixture) answer(nonce [nonceSize]byte) transport.ProbeReport {
	f.t.Helper()
	if err := f.conn.SetReadDeadline(time.Now().Add(patience)); err != nil {
		f.t.Fatal(err)
	}
	buf := make([]byte, maxDatagram)
	n, _, err := f.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		f.t.Fatal(err)
	}
	a, ok := parseProbeAnswer(buf[:n])
	if !ok {
		f.t.Fatalf("answer %x does not parse", buf[:n])
	}
	if a.nonce != nonce {
		f.t.Fatal("the first answer is not the answer to the valid request")
	}
	if !newMACPool(internalKey.Secret).verifyMAC(a.signed, a.mac) || string(a.keyID) != internalKey.ID || string(a.server) != "standby-1" {
		f.t.Fatal("the answer is not signed for its request")
	}
	if a.status != http.StatusOK {
		f.t.Fatalf("status %d: %s", a.status, a.body)
	}
	rep, ok := parseReport(a.body, "standby-1")
	if !ok || rep.Server != "standby-1" || !rep.Healthy {
		f.t.Fatalf("report %+v (parsed %v)", rep, ok)
	}
	return rep
}

// valid sends a valid probe and checks its answer.
func (f *udpFixture) valid() {
	f.t.Helper()
	b, nonce := datagram(f.t, internalKey, "standby-1", f.now)
	f.send(b)
	f.answer(nonce)
}

// TestProbeDatagramSecurity sends the probe channel what an attacker could:
// every datagram that fails a check is refused without an answer and
// without calling the agent.
func TestProbeDatagramSecurity(t *testing.T) {
	f := newUDPFixture(t, time.Unix(1767254400, 0))
	f.valid()
	if got := f.agent.calls.Load(); got != 1 {
		t.Fatalf("agent called %d times for one valid probe", got)
	}
	otherSecret := Key{ID: internalKey.ID, Secret: bytes.Repeat([]byte("x"), 32)}
	unknownKey := Key{ID: "someone-else", Secret: internalKey.Secret}
	replay, _ := datagram(t, internalKey, "standby-1", f.now)
	cases := []struct {
		name string
		make func() []byte
		code string
	}{
		{"not a datagram of the protocol", func() []byte { return []byte("GET / HTTP/1.1\r\n\r\n") }, CodeBadRequest},
		{"wrong secret", func() []byte { b, _ := datagram(t, otherSecret, "standby-1", f.now); return b }, CodeUnauthenticated},
		{"unknown key", func() []byte { b, _ := datagram(t, unknownKey, "standby-1", f.now); return b }, CodeUnauthenticated},
		{"wrong server", func() []byte { b, _ := datagram(t, internalKey, "standby-2", f.now); return b }, CodeWrongServer},
		{"stale timestamp", func() []byte { b, _ := datagram(t, internalKey, "standby-1", f.now.Add(-31*time.Second)); return b }, CodeUnauthenticated},
		{"future timestamp", func() []byte { b, _ := datagram(t, internalKey, "standby-1", f.now.Add(31*time.Second)); return b }, CodeUnauthenticated},
		{"tampered server", func() []byte {
			b, _ := datagram(t, internalKey, "standby-1", f.now)
			i := bytes.Index(b, []byte("standby-1"))
			b[i+len("standby-")] = '2'
			return b
		}, CodeUnauthenticated},
		{"tampered timestamp", func() []byte {
			b, _ := datagram(t, internalKey, "standby-1", f.now)
			i := len(datagramMagic) + 1 + 1 + len(internalKey.ID) + 1 + len("standby-1")
			b[i+7] ^= 1
			return b
		}, CodeUnauthenticated},
		{"tampered signature", func() []byte { b, _ := datagram(t, internalKey, "standby-1", f.now); b[len(b)-1] ^= 1; return b }, CodeUnauthenticated},
		{"truncated", func() []byte { b, _ := datagram(t, internalKey, "standby-1", f.now); return b[:len(b)-1] }, CodeBadRequest},
		{"an answer sent back", func() []byte {
			var n [nonceSize]byte
			b := appendProbeAnswer(nil, internalKey.ID, []byte("standby-1"), &n, 200, appendReport(nil, transport.ProbeReport{Server: "standby-1"}))
			return newMACPool(internalKey.Secret).appendMAC(b, b)
		}, CodeBadRequest},
		{"first copy of a request", func() []byte { return replay }, ""},
		{"replayed", func() []byte { return replay }, CodeReplayed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.t = t
			before := f.agent.calls.Load()
			if c.code == "" {
				// Accepted: drain its answer.
				f.send(c.make())
				if err := f.conn.SetReadDeadline(time.Now().Add(patience)); err != nil {
					t.Fatal(err)
				}
				if _, _, err := f.conn.ReadFromUDPAddrPort(make([]byte, maxDatagram)); err != nil {
					t.Fatal(err)
				}
				return
			}
			f.refused(c.make(), c.code)
			if got := f.agent.calls.Load() - before; got != 1 {
				t.Errorf("agent called %d times, want 1 (the valid probe only)", got)
			}
		})
	}
}

// TestForgedAnswersAreIgnored puts a fake probe channel in front of a real
// agent: a client given forged, tampered or misdirected answers over UDP
// ignores them and gets its report over HTTP, within its deadline.
func TestForgedAnswersAreIgnored(t *testing.T) {
	fx := newInternalFixture(t, HandlerConfig{})
	fx.now = time.Now()
	srv := httptest.NewServer(fx.h)
	defer srv.Close()
	fake, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	fx.h.(*handler).probePort.Store(uint32(fake.LocalAddr().(*net.UDPAddr).Port))

	forgers := []struct {
		name  string
		forge func(req probeRequest) []byte
	}{
		{"unsigned", func(r probeRequest) []byte {
			b := appendProbeAnswer(nil, string(r.keyID), r.server, &r.nonce, 200, appendReport(nil, transport.ProbeReport{Server: "standby-1", Epoch: 666}))
			return append(b, make([]byte, macSize)...)
		}},
		{"wrong secret", func(r probeRequest) []byte {
			b := appendProbeAnswer(nil, string(r.keyID), r.server, &r.nonce, 200, appendReport(nil, transport.ProbeReport{Server: "standby-1", Epoch: 666}))
			return newMACPool(bytes.Repeat([]byte("y"), 32)).appendMAC(b, b)
		}},
		{"other nonce", func(r probeRequest) []byte {
			n := r.nonce
			n[0] ^= 1
			b := appendProbeAnswer(nil, string(r.keyID), r.server, &n, 200, appendReport(nil, transport.ProbeReport{Server: "standby-1", Epoch: 666}))
			return newMACPool(internalKey.Secret).appendMAC(b, b)
		}},
		{"other server", func(r probeRequest) []byte {
			b := appendProbeAnswer(nil, string(r.keyID), []byte("standby-2"), &r.nonce, 200, appendReport(nil, transport.ProbeReport{Server: "standby-1", Epoch: 666}))
			return newMACPool(internalKey.Secret).appendMAC(b, b)
		}},
		{"tampered", func(r probeRequest) []byte {
			b := appendProbeAnswer(nil, string(r.keyID), r.server, &r.nonce, 200, appendReport(nil, transport.ProbeReport{Server: "standby-1", Epoch: 1}))
			b = newMACPool(internalKey.Secret).appendMAC(b, b)
			b[len(b)-macSize-len("standby-1")-2-8+7] = 0x9a // the epoch's last byte
			return b
		}},
	}
	for _, fg := range forgers {
		t.Run(fg.name, func(t *testing.T) {
			forged := make(chan struct{}, 1)
			go func() {
				buf := make([]byte, maxDatagram)
				n, from, err := fake.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				req, ok := parseProbeRequest(buf[:n])
				if !ok {
					t.Errorf("the client sent %x", buf[:n])
					return
				}
				_, _ = fake.WriteToUDPAddrPort(fg.forge(req), from)
				forged <- struct{}{}
			}()
			c, err := NewClient(ClientConfig{Resolver: StaticResolver{"standby-1": srv.URL}, Auth: Auth{Keys: []Key{internalKey}},
				UDPProbeWait: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), patience)
			defer cancel()
			for i := range 2 { // the first over HTTP, which names the port
				rep, err := c.Probe(ctx, "standby-1")
				if err != nil {
					t.Fatal(err)
				}
				if rep.Epoch != 0 || rep.Server != "standby-1" {
					t.Fatalf("probe %d: the client took a forged report: %+v", i, rep)
				}
			}
			select {
			case <-forged:
			case <-ctx.Done():
				t.Fatal("the client never sent a probe over UDP")
			}
		})
	}
}

// blockingPacketConn drops every datagram the client sends, as a firewall
// would, and counts them.
type blockingPacketConn struct {
	net.PacketConn
	dropped *atomic.Int64
	block   *atomic.Bool
}

func (c blockingPacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.block.Load() {
		c.dropped.Add(1)
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, addr)
}

// TestBlockedUDPFallsBackToHTTP checks that probes whose datagrams are
// dropped still succeed, over HTTP, within their deadline, and that the
// client soon stops trying UDP: a firewall costs CPU, never a failed probe.
func TestBlockedUDPFallsBackToHTTP(t *testing.T) {
	for _, answeredFirst := range []bool{false, true} {
		name := "blocked from the start"
		if answeredFirst {
			name = "blocked after it answered"
		}
		t.Run(name, func(t *testing.T) {
			f := newUDPFixture(t, time.Now())
			srv := httptest.NewServer(f.h)
			defer srv.Close()
			var dropped atomic.Int64
			var block atomic.Bool
			block.Store(!answeredFirst)
			c, err := NewClient(ClientConfig{Resolver: StaticResolver{"standby-1": srv.URL}, Auth: Auth{Keys: []Key{internalKey}},
				UDPProbeWait: 150 * time.Millisecond, // at most half of each probe's 400 ms
				ListenPacket: func(network, address string) (net.PacketConn, error) {
					conn, err := net.ListenPacket(network, address)
					return blockingPacketConn{PacketConn: conn, dropped: &dropped, block: &block}, err
				}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			probe := func() {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
				defer cancel()
				rep, err := c.Probe(ctx, "standby-1")
				if err != nil || rep.Server != "standby-1" {
					t.Fatalf("probe: %+v, %v", rep, err)
				}
			}
			probe() // over HTTP: learns the port
			if answeredFirst {
				probe() // over UDP
				block.Store(true)
			}
			for range 10 {
				probe()
			}
			want := int64(1) // never answered: one try, then HTTP
			if answeredFirst {
				want = 2 // one lost datagram is forgiven, the second is not
			}
			if got := dropped.Load(); got != want {
				t.Errorf("%d datagrams sent into the firewall, want %d", got, want)
			}
		})
	}
}

// TestAgentWithoutProbeChannel checks that a client probing an agent that
// offers no UDP channel (an older one, or one without ListenProbes) uses
// HTTP alone and never opens a UDP socket.
func TestAgentWithoutProbeChannel(t *testing.T) {
	fx := newInternalFixture(t, HandlerConfig{})
	fx.now = time.Now()
	srv := httptest.NewServer(fx.h)
	defer srv.Close()
	var opened atomic.Int64
	c, err := NewClient(ClientConfig{Resolver: StaticResolver{"standby-1": srv.URL}, Auth: Auth{Keys: []Key{internalKey}},
		ListenPacket: func(network, address string) (net.PacketConn, error) {
			opened.Add(1)
			return net.ListenPacket(network, address)
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 5 {
		if _, err := c.Probe(context.Background(), "standby-1"); err != nil {
			t.Fatal(err)
		}
	}
	if got := opened.Load(); got != 0 {
		t.Errorf("opened %d UDP sockets for an agent without a probe channel", got)
	}
}

// TestProbeChannelClosed checks that an agent that closes its probe
// channel and keeps serving HTTP is still probed, and that its HTTP
// answers stop offering the port.
func TestProbeChannelClosed(t *testing.T) {
	f := newUDPFixture(t, time.Now())
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	c, err := NewClient(ClientConfig{Resolver: StaticResolver{"standby-1": srv.URL}, Auth: Auth{Keys: []Key{internalKey}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	for range 3 {
		if _, err := c.Probe(ctx, "standby-1"); err != nil {
			t.Fatal(err)
		}
	}
	if c.udp.peer("standby-1") == nil {
		t.Fatal("the client did not learn the probe channel")
	}
	if err := f.pl.Close(); err != nil {
		t.Fatal(err)
	}
	if f.h.udpPort() != 0 {
		t.Fatal("a closed probe channel is still advertised")
	}
	for range 3 {
		if _, err := c.Probe(ctx, "standby-1"); err != nil {
			t.Fatal(err)
		}
	}
	if c.udp.peer("standby-1") != nil {
		t.Error("the client still holds the port of a closed probe channel")
	}
}

// TestProbeErrorsOverUDP checks that an agent's refusal crosses the UDP
// channel as it crosses HTTP: as the same error.
func TestProbeErrorsOverUDP(t *testing.T) {
	boom := errors.New("disks on fire")
	for _, c := range []struct {
		err  error
		want func(error) bool
	}{
		{transport.ErrUnreachable, func(err error) bool { return errors.Is(err, transport.ErrUnreachable) }},
		{boom, func(err error) bool { return errors.Is(err, boom) }},
	} {
		a := &failingProbes{Agent: agenttest.New(nvrha.Facts{ID: "rec-1", Product: nvrha.ProductQVRPro})}
		h, err := NewHandler(a, HandlerConfig{Server: "rec-1", Auth: Auth{Keys: []Key{internalKey}}, Reasons: []Reason{{Code: "fire", Err: boom}}})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		pl, err := ListenProbes(srv.Listener.Addr().String(), h)
		if err != nil {
			t.Fatal(err)
		}
		cl, err := NewClient(ClientConfig{Resolver: StaticResolver{"rec-1": srv.URL}, Auth: Auth{Keys: []Key{internalKey}},
			Reasons: []Reason{{Code: "fire", Err: boom}}, UDPProbeWait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Probe(context.Background(), "rec-1"); err != nil { // over HTTP
			t.Fatal(err)
		}
		a.fail.Store(&c.err)
		_, perr := cl.Probe(context.Background(), "rec-1")
		var re *RemoteError
		if !c.want(perr) || !errors.As(perr, &re) {
			t.Errorf("agent error %v: got %v", c.err, perr)
		}
		if got := a.probes.Load(); got != 2 {
			t.Errorf("agent saw %d probes, want 2 (the error came over UDP, not again over HTTP)", got)
		}
		cl.Close()
		_ = pl.Close()
		srv.Close()
	}
}

// failingProbes fails its probes with fail, once set.
type failingProbes struct {
	transport.Agent
	fail   atomic.Pointer[error]
	probes atomic.Int64
}

func (a *failingProbes) Probe(ctx context.Context) (transport.ProbeReport, error) {
	a.probes.Add(1)
	if err := a.fail.Load(); err != nil {
		return transport.ProbeReport{}, *err
	}
	return a.Agent.Probe(ctx)
}

// TestDatagramRoundTrip checks that what the encoders write the decoders
// read back.
func TestDatagramRoundTrip(t *testing.T) {
	nonce := [nonceSize]byte{1, 2, 3}
	b := appendProbeRequest(nil, "k.1", "Lobby NVR «2»", 1767254400, &nonce, 250)
	b = append(b, make([]byte, macSize)...)
	r, ok := parseProbeRequest(b)
	if !ok || string(r.keyID) != "k.1" || string(r.server) != "Lobby NVR «2»" || r.timestamp != 1767254400 || r.nonce != nonce || r.waitMillis != 250 {
		t.Fatalf("request read back as %+v (%v)", r, ok)
	}
	for _, rep := range []transport.ProbeReport{
		{},
		{Server: "rec-1", Healthy: true, Recording: true, HasEmptyRecordingSpace: true, Epoch: ^nvrha.Epoch(0), Covering: "standby «1»"},
	} {
		got, ok := parseReport(appendReport(nil, rep), "rec-1")
		if !ok || !reflect.DeepEqual(got, rep) {
			t.Errorf("report %+v read back as %+v (%v)", rep, got, ok)
		}
	}
}

// TestProbesGoOverUDP checks that once an agent has offered its probe
// channel, probes go there: one HTTP request, then datagrams only.
func TestProbesGoOverUDP(t *testing.T) {
	f := newUDPFixture(t, time.Now())
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		f.h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, err := NewClient(ClientConfig{Resolver: StaticResolver{"standby-1": srv.URL}, Auth: Auth{Keys: []Key{internalKey}},
		UDPProbeWait: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	for range 10 {
		if rep, err := c.Probe(ctx, "standby-1"); err != nil || rep.Server != "standby-1" {
			t.Fatal(rep, err)
		}
	}
	if got := requests.Load(); got != 1 {
		t.Errorf("%d HTTP requests for 10 probes, want 1", got)
	}
	if got := f.agent.calls.Load(); got != 10 {
		t.Errorf("agent saw %d probes, want 10", got)
	}
}

// TestUDPBackoffAfterMisses: a server that has answered over UDP is
// forgiven one miss, then probed over HTTP for 5 s, doubling with each
// further miss up to 5 min; one that never answered gets the 5 s at once.
func TestUDPBackoffAfterMisses(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		confirmed bool
		want      []time.Duration // backoff after miss 1, 2, ...; 0 for none
	}{
		{true, []time.Duration{0, 5 * time.Second, 10 * time.Second, 20 * time.Second}},
		{false, []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second}},
	} {
		p := &udpPeer{confirmed: tc.confirmed}
		for i, want := range tc.want {
			p.retryAt = time.Time{}
			p.missed(now)
			var got time.Duration
			if !p.retryAt.IsZero() {
				got = p.retryAt.Sub(now)
			}
			if got != want {
				t.Errorf("confirmed %v, miss %d: HTTP only for %v, want %v", tc.confirmed, i+1, got, want)
			}
		}
	}
	p := &udpPeer{}
	for range 20 {
		p.missed(now)
	}
	if got := p.retryAt.Sub(now); got != maxUDPBackoff {
		t.Errorf("after 20 misses: HTTP only for %v, want the cap %v", got, maxUDPBackoff)
	}
}
