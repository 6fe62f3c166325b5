package httptransport

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
)

// How long a probe over UDP waits for its answer before it asks over HTTP,
// unless ClientConfig.UDPProbeWait says otherwise: four times the server's
// smoothed round trip, within these bounds, and never more than half of
// what remains of the call's time.
const (
	minUDPWait = 20 * time.Millisecond
	maxUDPWait = 100 * time.Millisecond
)

// After a probe over UDP that got no answer, even late, the server is
// probed over HTTP for a while: for udpBackoff after the second miss in a
// row (or the first, before the server ever answered over UDP), doubling
// with each further miss up to maxUDPBackoff. An answer over UDP ends it.
const (
	udpBackoff    = 5 * time.Second
	maxUDPBackoff = 5 * time.Minute
)

// maxUDPPeers bounds the servers a client remembers UDP ports of; beyond it
// it starts afresh.
const maxUDPPeers = 1 << 16

// udpProber is the client side of the UDP probe channel: one socket, one
// goroutine reading it, and what the client knows of each server's port.
type udpProber struct {
	c         *Client
	listen    func(network, address string) (net.PacketConn, error)
	fixedWait time.Duration

	mu      sync.Mutex
	conn    net.PacketConn // nil until a probe needs it, and after close
	udp     *net.UDPConn   // conn, if it is one
	done    chan struct{}  // closed when the reader of conn has returned
	pending map[[nonceSize]byte]*udpCall

	peersMu sync.RWMutex
	peers   map[nvrha.ServerID]*udpPeer
}

func newUDPProber(c *Client, listen func(network, address string) (net.PacketConn, error), wait time.Duration) *udpProber {
	return &udpProber{c: c, listen: listen, fixedWait: wait,
		pending: make(map[[nonceSize]byte]*udpCall), peers: make(map[nvrha.ServerID]*udpPeer)}
}

// udpPeer is what the client knows of one server's probe channel.
type udpPeer struct {
	mu        sync.Mutex
	base      string         // the resolver's base URL when the port was learnt
	addr      netip.AddrPort // where its probes go
	confirmed bool           // it has answered over UDP
	misses    int            // probes in a row that got no answer
	retryAt   time.Time      // before it, probes go over HTTP
	srtt      time.Duration  // smoothed round trip
}

// udpCall is one probe over UDP in flight. The reader fills status and
// body and signals answered once, under udpProber.mu, while the call is
// registered.
type udpCall struct {
	server   nvrha.ServerID
	keyID    string
	mac      *macPool
	nonce    [nonceSize]byte
	answered chan struct{} // capacity 1
	timer    *time.Timer
	sent     time.Time
	req      []byte
	// Set by the reader.
	delivered bool
	at        time.Time
	status    uint16
	body      []byte
}

var udpCalls = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &udpCall{answered: make(chan struct{}, 1), timer: t,
		req: make([]byte, 0, maxDatagram), body: make([]byte, 0, maxDatagram)}
}}

// peer returns what the client knows of server's probe channel, or nil.
func (u *udpProber) peer(server nvrha.ServerID) *udpPeer {
	u.peersMu.RLock()
	defer u.peersMu.RUnlock()
	return u.peers[server]
}

// ready returns where to send server's probe over UDP now, if anywhere,
// and how long to wait for the answer.
func (p *udpPeer) ready(base string, now time.Time, fixed time.Duration) (netip.AddrPort, time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.base != base || now.Before(p.retryAt) {
		return netip.AddrPort{}, 0, false
	}
	wait := fixed
	if wait == 0 {
		wait = min(max(4*p.srtt, minUDPWait), maxUDPWait)
	}
	return p.addr, wait, true
}

// answered records an answer over UDP after rtt.
func (p *udpPeer) answered(rtt time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.confirmed, p.misses, p.retryAt = true, 0, time.Time{}
	p.srtt = (7*p.srtt + rtt) / 8
}

// missed records a probe over UDP that got no answer at all.
func (p *udpPeer) missed(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.misses++
	counted := p.misses // the misses that count toward the backoff
	if p.confirmed {
		counted-- // one lost datagram is nothing unusual
	}
	if counted == 0 {
		return
	}
	d := udpBackoff << min(counted-1, 10)
	p.retryAt = now.Add(min(d, maxUDPBackoff))
}

// learn records what an HTTP probe of server, resolved to base (parsed as
// t), said about its probe channel: port, or 0 for none. rtt is the HTTP
// probe's round trip, the first guess at the UDP one.
func (u *udpProber) learn(ctx context.Context, server nvrha.ServerID, base string, t *target, port uint16, rtt time.Duration) {
	p := u.peer(server)
	if port == 0 {
		if p != nil {
			u.peersMu.Lock()
			delete(u.peers, server)
			u.peersMu.Unlock()
		}
		return
	}
	if p != nil {
		p.mu.Lock()
		same := p.base == base && p.addr.Port() == port
		p.mu.Unlock()
		if same {
			return
		}
	}
	ip, err := hostAddr(ctx, t.url.Hostname())
	if err != nil {
		return // probes stay on HTTP
	}
	np := &udpPeer{base: base, addr: netip.AddrPortFrom(ip, port), srtt: rtt}
	u.peersMu.Lock()
	defer u.peersMu.Unlock()
	if len(u.peers) >= maxUDPPeers {
		clear(u.peers)
	}
	u.peers[server] = np
}

// hostAddr is host's IP address: host itself if it is one, else the first
// address the resolver gives.
func hostAddr(ctx context.Context, host string) (netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip, nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(ips) == 0 {
		return netip.Addr{}, fmt.Errorf("no address for %s", host)
	}
	return ips[0], nil
}

// socket returns the probe socket, opening it and starting its reader if
// it is not open.
func (u *udpProber) socket() (net.PacketConn, *net.UDPConn, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.conn != nil {
		return u.conn, u.udp, nil
	}
	var conn net.PacketConn
	var err error
	if u.listen != nil {
		conn, err = u.listen("udp", ":0")
	} else {
		conn, err = net.ListenUDP("udp", nil)
	}
	if err != nil {
		return nil, nil, err
	}
	u.conn, u.done = conn, make(chan struct{})
	u.udp, _ = conn.(*net.UDPConn)
	go u.read(conn, u.udp, u.done)
	return u.conn, u.udp, nil
}

// close closes the probe socket and waits for its reader; a later probe
// opens a new one.
func (u *udpProber) close() {
	u.mu.Lock()
	conn, done := u.conn, u.done
	u.conn, u.udp, u.done = nil, nil, nil
	u.mu.Unlock()
	if conn != nil {
		_ = conn.Close()
		<-done
	}
}

// read hands every answer that arrives on conn to its call until conn
// closes.
func (u *udpProber) read(conn net.PacketConn, udp *net.UDPConn, done chan struct{}) {
	defer close(done)
	buf := make([]byte, maxDatagram)
	for {
		var n int
		var err error
		if udp != nil {
			n, _, err = udp.ReadFromUDPAddrPort(buf)
		} else {
			n, _, err = conn.ReadFrom(buf)
		}
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				// A socket that fails is dropped, not read in a loop: the
				// next probe over UDP opens another, and the probes in
				// flight are made again over HTTP.
				u.mu.Lock()
				if u.conn == conn {
					u.conn, u.udp, u.done = nil, nil, nil
				}
				u.mu.Unlock()
				_ = conn.Close()
			}
			return
		}
		u.deliver(buf[:n], time.Now())
	}
}

// deliver hands an answer to the call whose nonce it carries, if there is
// one and the answer is authentic: signed with the call's key, for the
// call's server. Anything else is dropped.
func (u *udpProber) deliver(b []byte, at time.Time) {
	a, ok := parseProbeAnswer(b)
	if !ok {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	call := u.pending[a.nonce]
	if call == nil || call.delivered || string(a.keyID) != call.keyID || string(a.server) != string(call.server) ||
		!call.mac.verifyMAC(a.signed, a.mac) {
		return
	}
	call.delivered, call.at, call.status = true, at, a.status
	call.body = append(call.body[:0], a.body...)
	call.answered <- struct{}{}
}

// probeOutcome is how a probe over UDP ended.
type probeOutcome uint8

const (
	udpAnswered probeOutcome = iota // rep and err are the answer
	udpNoAnswer                     // nothing in time: ask over HTTP
	udpUseHTTP                      // the agent asked for HTTP, or UDP could not be tried
)

// probe sends server's probe over UDP to addr and waits up to wait for the
// answer. With udpNoAnswer and a call, the call stays registered, so that a
// late answer is still noticed; the caller ends it with finish.
func (u *udpProber) probe(ctx context.Context, server nvrha.ServerID, p *udpPeer, addr netip.AddrPort, wait time.Duration) (*udpCall, transport.ProbeReport, probeOutcome, error) {
	conn, udp, err := u.socket()
	if err != nil {
		return nil, transport.ProbeReport{}, udpUseHTTP, nil
	}
	c := u.c
	key := c.keys.sign
	call := udpCalls.Get().(*udpCall)
	call.server, call.keyID, call.mac = server, key.ID, c.keys.macs[key.ID]
	call.delivered = false
	if _, err := rand.Read(call.nonce[:]); err != nil {
		udpCalls.Put(call)
		return nil, transport.ProbeReport{}, udpUseHTTP, nil
	}
	now := c.now()
	call.req = appendProbeRequest(call.req[:0], key.ID, server, uint64(max(now.Unix(), 0)), &call.nonce, uint32(wait.Milliseconds()+1))
	call.req = call.mac.appendMAC(call.req, call.req)
	u.mu.Lock()
	u.pending[call.nonce] = call
	u.mu.Unlock()
	call.sent = time.Now()
	if udp != nil {
		_, err = udp.WriteToUDPAddrPort(call.req, addr)
	} else {
		_, err = conn.WriteTo(call.req, net.UDPAddrFromAddrPort(addr))
	}
	if err != nil {
		u.finish(call)
		return nil, transport.ProbeReport{}, udpNoAnswer, nil
	}
	call.timer.Reset(wait)
	select {
	case <-call.answered:
		call.timer.Stop()
	case <-call.timer.C:
		return call, transport.ProbeReport{}, udpNoAnswer, nil
	case <-ctx.Done():
		u.finish(call)
		return nil, transport.ProbeReport{}, udpAnswered, fmt.Errorf("httptransport: %s %s: %w: %w", transport.MethodProbe, server, transport.ErrUnreachable, ctx.Err())
	}
	// The call is answered: nothing writes to it any more.
	u.unregister(call.nonce)
	p.answered(call.at.Sub(call.sent))
	rep, out, err := c.udpResult(call)
	udpCalls.Put(call)
	return nil, rep, out, err
}

// unregister forgets the call of nonce.
func (u *udpProber) unregister(nonce [nonceSize]byte) {
	u.mu.Lock()
	delete(u.pending, nonce)
	u.mu.Unlock()
}

// finish ends a call that probe returned unanswered, and reports whether
// an answer arrived after all, and after how long.
func (u *udpProber) finish(call *udpCall) (bool, time.Duration) {
	u.mu.Lock()
	delete(u.pending, call.nonce)
	late, rtt := call.delivered, call.at.Sub(call.sent)
	u.mu.Unlock()
	select {
	case <-call.answered:
	default:
	}
	call.timer.Stop()
	udpCalls.Put(call)
	return late, rtt
}

// udpResult turns an answer over UDP into the probe's result, as finish
// does an HTTP answer.
func (c *Client) udpResult(call *udpCall) (transport.ProbeReport, probeOutcome, error) {
	switch call.status {
	case statusUseHTTP:
		return transport.ProbeReport{}, udpUseHTTP, nil
	case 200:
		rep, ok := parseReport(call.body, call.server)
		if !ok {
			return transport.ProbeReport{}, udpAnswered, fmt.Errorf("httptransport: %s %s: %w: a probe answer over UDP that is not a report of this protocol",
				transport.MethodProbe, call.server, transport.ErrUnreachable)
		}
		return rep, udpAnswered, nil
	}
	return transport.ProbeReport{}, udpAnswered, decodeError(call.server, transport.MethodProbe, int(call.status), "application/json", call.body, c.reasons)
}

// probeUDPFirst probes server over UDP if it has answered there, or may
// have, and over HTTP otherwise, or when the answer over UDP does not come
// within its wait: within ctx's deadline either way.
func (c *Client) probeUDPFirst(ctx context.Context, server nvrha.ServerID) (transport.ProbeReport, error) {
	if ctx.Err() != nil {
		return c.probeHTTP(ctx, server) // which says why
	}
	p := c.udp.peer(server)
	if p == nil {
		return c.probeHTTP(ctx, server)
	}
	base, err := c.resolver.Resolve(ctx, server)
	if err != nil {
		return c.probeHTTP(ctx, server) // which says why
	}
	now := time.Now()
	addr, wait, ok := p.ready(base, now, c.udp.fixedWait)
	if !ok {
		return c.probeHTTP(ctx, server)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		var cancel context.CancelFunc
		deadline = now.Add(c.timeout)
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	if wait = min(wait, deadline.Sub(now)/2); wait <= 0 {
		return c.probeHTTP(ctx, server)
	}
	call, rep, out, err := c.udp.probe(ctx, server, p, addr, wait)
	switch out {
	case udpAnswered:
		return rep, err
	case udpNoAnswer:
		rep, err := c.probeHTTP(ctx, server)
		if call != nil {
			if late, rtt := c.udp.finish(call); late {
				p.answered(rtt) // slow, not blocked: it waits longer next time
				return rep, err
			}
		}
		p.missed(time.Now())
		return rep, err
	}
	return c.probeHTTP(ctx, server)
}

// probeHTTP probes server over HTTP, and learns from the answer whether
// the server also answers probes over UDP, and where.
func (c *Client) probeHTTP(ctx context.Context, server nvrha.ServerID) (transport.ProbeReport, error) {
	var a probeAnswer
	var at resolved
	start := time.Now()
	if err := c.callVia(ctx, server, transport.MethodProbe, nil, &a, &at); err != nil {
		return transport.ProbeReport{}, err
	}
	if c.udp != nil && at.t != nil {
		c.udp.learn(ctx, server, at.base, at.t, a.UDPPort, time.Since(start))
	}
	return a.ProbeReport, nil
}
