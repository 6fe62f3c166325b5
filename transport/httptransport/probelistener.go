package httptransport

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/nvrha/nvrha"
)

// The limits of a ProbeListener.
const (
	// MaxProbeWait bounds how long a ProbeListener lets the agent work on a
	// probe: the wait the center sends in the request, at most this.
	MaxProbeWait = 10 * time.Second
	// maxProbesInFlight bounds the probes a ProbeListener hands to the
	// agent at once; beyond it datagrams are dropped, and their centers ask
	// again over HTTP.
	maxProbesInFlight = 64
)

// ProbeListener answers a handler's probes over UDP: the light probe
// channel of the package documentation ("Probes over UDP"). Make one with
// [ListenProbes]; Close it when the HTTP server stops.
type ProbeListener struct {
	h      *handler
	conn   *net.UDPConn
	port   uint16
	slots  chan struct{}
	ctx    context.Context // ends when the listener closes
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	err    error
	// refusals logs the datagrams refused, at most once per
	// RefusalLogInterval.
	refusals *refusalLog
}

// ListenProbes opens the UDP probe channel of h, a handler NewHandler
// returned (not a wrapper around it), on addr, and answers the probes that
// arrive there until Close. From then on, every answer h gives to a probe
// over HTTP tells the center the port, and a center that can (a Client with
// the default configuration) sends its probes there instead: a datagram
// each way in place of an HTTP exchange, which costs the center a fraction
// of the CPU. Every other call still goes over HTTP.
//
// Give it the address the HTTP server listens on, once it listens: UDP and
// TCP ports are distinct, so the same port number serves both, and it is the
// host the center already knows. This is the one line an agent adds:
//
//	ln, err := net.Listen("tcp", ":8443")
//	...
//	probes, err := httptransport.ListenProbes(ln.Addr().String(), h)
//	...
//	defer probes.Close()
//	srv := httptransport.NewServer("", h)
//	err = srv.Serve(httptransport.LimitListener(ln, httptransport.ServerMaxConns))
//
// A center whose datagrams do not reach the port (a firewall, a NAT, a
// proxy in front of the HTTP server) loses nothing but some CPU: each probe
// that gets no answer over UDP in time is made again over HTTP.
func ListenProbes(addr string, h http.Handler) (*ProbeListener, error) {
	hd, ok := h.(*handler)
	if !ok {
		return nil, errors.New("httptransport: ListenProbes needs the handler NewHandler returned")
	}
	la, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("httptransport: probe channel address: %w", err)
	}
	conn, err := net.ListenUDP("udp", la)
	if err != nil {
		return nil, fmt.Errorf("httptransport: probe channel: %w", err)
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	ctx, cancel := context.WithCancel(context.Background())
	l := &ProbeListener{h: hd, conn: conn, port: uint16(port), slots: make(chan struct{}, maxProbesInFlight), ctx: ctx, cancel: cancel,
		refusals: newRefusalLog(hd.log, hd.now, "probe datagrams refused")}
	hd.probePort.Store(uint32(port))
	l.wg.Add(1)
	go l.serve()
	return l, nil
}

// Addr is the address the listener answers on.
func (l *ProbeListener) Addr() net.Addr { return l.conn.LocalAddr() }

// Close stops answering probes: the handler stops advertising the port
// (unless another ProbeListener has taken it over since), the socket
// closes, and probes the agent is working on have their context cancelled.
// Close returns once every goroutine of the listener has ended.
func (l *ProbeListener) Close() error {
	l.once.Do(func() {
		l.h.probePort.CompareAndSwap(uint32(l.port), 0)
		l.err = l.conn.Close()
		l.cancel()
		l.wg.Wait()
		l.refusals.tick(true)
	})
	return l.err
}

// serve reads datagrams until the socket closes. It wakes at least once
// per RefusalLogInterval to log the refusals counted since the last line,
// the handler's too, when the traffic that caused them has stopped.
func (l *ProbeListener) serve() {
	defer l.wg.Done()
	buf := make([]byte, maxDatagram)
	_ = l.conn.SetReadDeadline(time.Now().Add(RefusalLogInterval))
	for {
		n, from, err := l.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				l.refusals.tick(false)
				l.h.refusals.tick(false)
				_ = l.conn.SetReadDeadline(time.Now().Add(RefusalLogInterval))
			}
			continue
		}
		l.handle(buf[:n], from)
	}
}

// handle authenticates one datagram as the HTTP handler authenticates a
// request, and hands it to a goroutine that asks the agent. A datagram that
// fails a check gets no answer: only an authentic, fresh request for this
// server does, so the channel cannot be used to reflect traffic, and the
// center, hearing nothing, asks over HTTP, whose answer says what is wrong.
func (l *ProbeListener) handle(b []byte, from netip.AddrPort) {
	a, ok := l.authenticate(b, from)
	if !ok {
		return
	}
	select {
	case l.slots <- struct{}{}:
	default:
		l.refused(slog.LevelWarn, from, CodeUnavailable, "too many probes in progress")
		return
	}
	l.wg.Add(1)
	go l.answer(a)
}

// authenticate checks a datagram: its layout, key, signature, timestamp,
// server and nonce, in that order, and logs why it refuses one.
func (l *ProbeListener) authenticate(b []byte, from netip.AddrPort) (pendingAnswer, bool) {
	h := l.h
	req, ok := parseProbeRequest(b)
	if !ok {
		l.refused(slog.LevelDebug, from, CodeBadRequest, "not a probe datagram of this protocol")
		return pendingAnswer{}, false
	}
	keyID := string(req.keyID)
	mac, ok := h.keys.macs[keyID]
	if !ok {
		l.refused(slog.LevelWarn, from, CodeUnauthenticated, "unknown key "+keyID)
		return pendingAnswer{}, false
	}
	if !mac.verifyMAC(req.signed, req.mac) {
		l.refused(slog.LevelWarn, from, CodeUnauthenticated, "signature does not match")
		return pendingAnswer{}, false
	}
	now := h.now()
	if req.timestamp > 1<<62 {
		l.refused(slog.LevelWarn, from, CodeUnauthenticated, "timestamp out of range")
		return pendingAnswer{}, false
	}
	ts := time.Unix(int64(req.timestamp), 0)
	if msg := h.checkTimestamp(ts, now); msg != "" {
		l.refused(slog.LevelWarn, from, CodeUnauthenticated, msg)
		return pendingAnswer{}, false
	}
	if nvrha.ServerID(req.server) != h.server {
		l.refused(slog.LevelWarn, from, CodeWrongServer, fmt.Sprintf("probe for %s reached %s", req.server, h.server))
		return pendingAnswer{}, false
	}
	switch err := h.nonces.add(keyID+":"+base64.RawURLEncoding.EncodeToString(req.nonce[:]), ts.Add(h.keys.maxSkew), now); {
	case errors.Is(err, errReplayed):
		l.refused(slog.LevelWarn, from, CodeReplayed, err.Error())
		return pendingAnswer{}, false
	case err != nil:
		l.refused(slog.LevelWarn, from, CodeUnavailable, err.Error())
		return pendingAnswer{}, false
	}
	wait := min(time.Duration(req.waitMillis)*time.Millisecond, MaxProbeWait)
	if wait <= 0 {
		wait = time.Second
	}
	return pendingAnswer{mac: mac, keyID: keyID, server: append([]byte(nil), req.server...), nonce: req.nonce, to: from, wait: wait}, true
}

// pendingAnswer is an authenticated probe waiting for the agent's report.
type pendingAnswer struct {
	mac    *macPool
	keyID  string
	server []byte
	nonce  [nonceSize]byte
	to     netip.AddrPort
	wait   time.Duration
}

// answer asks the agent and sends its answer, signed with the request's
// key and bound to its nonce.
func (l *ProbeListener) answer(a pendingAnswer) {
	defer l.wg.Done()
	defer func() { <-l.slots }()
	ctx, cancel := context.WithTimeout(l.ctx, a.wait)
	rep, err := l.h.probe(ctx)
	cancel()
	var body [maxDatagram]byte
	status, payload := uint16(http.StatusOK), body[:0]
	switch {
	case err != nil:
		b := l.h.errorBody(err)
		b.Message = clipTo(b.Message, maxDatagramMessage)
		status = uint16(codeStatus[b.Code])
		if j, jerr := json.Marshal(b); jerr == nil && len(j) <= maxDatagram/2 {
			payload = append(payload, j...)
		} else {
			status, payload = statusUseHTTP, payload[:0]
		}
	case reportFits(rep):
		payload = appendReport(payload, rep)
	default:
		status = statusUseHTTP
	}
	out := make([]byte, 0, maxDatagram+macSize)
	out = appendProbeAnswer(out, a.keyID, a.server, &a.nonce, status, payload)
	out = a.mac.appendMAC(out, out)
	_, _ = l.conn.WriteToUDPAddrPort(out, a.to)
}

// refused counts a datagram that gets no answer, for the log.
func (l *ProbeListener) refused(level slog.Level, from netip.AddrPort, code, message string) {
	l.refusals.add(refusal{level: level, code: code, message: message, remote: from.String()})
}
