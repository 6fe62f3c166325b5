package httptransport

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/agenttest"
)

// recordingBody is a request body that records whether anyone read it.
type recordingBody struct {
	r    io.Reader
	read atomic.Bool
}

func (b *recordingBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.r.Read(p)
}

func (b *recordingBody) Close() error { return nil }

// TestRefusedBeforeTheBodyIsRead checks that what can be refused from the
// headers is refused without reading a byte of the body: the body is what
// a client that does not know the key can make the agent hold.
func TestRefusedBeforeTheBodyIsRead(t *testing.T) {
	body := []byte(`{"recording":"rec-1","epoch":3,"cameras":["cam-1"]}`)
	fx := newInternalFixture(t, HandlerConfig{})
	used := fx.request(transport.MethodTakeover, body)
	if w := fx.serve(used); w.Code != http.StatusNoContent {
		t.Fatalf("a valid takeover: %d %s", w.Code, w.Body)
	}
	for _, c := range []struct {
		name   string
		m      transport.Method
		change func(r *http.Request)
		code   string
	}{
		{"malformed signature", transport.MethodTakeover, func(r *http.Request) { r.Header.Set(HeaderSignature, strings.Repeat("z", 64)) }, CodeUnauthenticated},
		{"short signature", transport.MethodTakeover, func(r *http.Request) { r.Header.Set(HeaderSignature, "00") }, CodeUnauthenticated},
		{"unknown key", transport.MethodTakeover, func(r *http.Request) { r.Header.Set(HeaderKeyID, "someone") }, CodeUnauthenticated},
		{"stale timestamp", transport.MethodTakeover, func(r *http.Request) { r.Header.Set(HeaderTimestamp, "1767254300") }, CodeUnauthenticated},
		{"a nonce already used", transport.MethodTakeover, func(r *http.Request) { r.Header.Set(HeaderNonce, used.Header.Get(HeaderNonce)) }, CodeReplayed},
		{"too large", transport.MethodTakeover, func(r *http.Request) { r.ContentLength = DefaultMaxBodyBytes + 1 }, CodeTooLarge},
		{"a probe with a body", transport.MethodProbe, nil, CodeTooLarge},
		{"an inventory with a body", transport.MethodInventory, nil, CodeTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := fx.request(c.m, body)
			if c.change != nil {
				c.change(r)
			}
			rb := &recordingBody{r: bytes.NewReader(body)}
			r.Body = rb
			w := fx.serve(r)
			var b ErrorBody
			_ = json.Unmarshal(w.Body.Bytes(), &b)
			if b.Code != c.code {
				t.Errorf("%d %s, want %s", w.Code, w.Body, c.code)
			}
			if rb.read.Load() {
				t.Error("the body was read")
			}
			if w.Header().Get("Connection") != "close" {
				t.Error("the refusal keeps the connection open")
			}
		})
	}
}

// TestBodyReadsAreBounded holds every body read with clients that never
// finish their bodies, and checks that one more request waits for a read,
// then is refused with 503, without reading its body: the memory that
// unauthenticated bodies hold is bounded by MaxBodyReads, and a probe,
// which has no body, is answered all along.
func TestBodyReadsAreBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const reads = 2
		fx := newInternalFixture(t, HandlerConfig{MaxBodyReads: reads, BodyReadTimeout: time.Second})
		body := []byte(`{"recording":"rec-1","epoch":3}`)
		var writers []*io.PipeWriter
		done := make(chan int, reads)
		for range reads {
			r := fx.request(transport.MethodTakeover, body)
			pr, pw := io.Pipe()
			writers = append(writers, pw)
			r.Body = pr
			go func() { done <- fx.serve(r).Code }()
		}
		synctest.Wait() // both handlers are reading, and hold every read
		if n := len(fx.h.(*handler).bodies.free); n != 0 {
			t.Fatalf("%d body reads free, want 0", n)
		}

		if w := fx.probe(); w.Code != http.StatusOK {
			t.Errorf("a probe while every body read is held: %d %s", w.Code, w.Body)
		}
		start := time.Now()
		r := fx.request(transport.MethodTakeover, body)
		rb := &recordingBody{r: bytes.NewReader(body)}
		r.Body = rb
		w := fx.serve(r)
		var b ErrorBody
		_ = json.Unmarshal(w.Body.Bytes(), &b)
		if w.Code != http.StatusServiceUnavailable || b.Code != CodeUnavailable || rb.read.Load() {
			t.Errorf("one body too many: %d %s, body read %v; want 503 unavailable, unread", w.Code, w.Body, rb.read.Load())
		}
		if waited := time.Since(start); waited != time.Second {
			t.Errorf("waited %v for a read, want BodyReadTimeout (1s)", waited)
		}

		// The stuck clients give up; their reads come free.
		for _, pw := range writers {
			pw.CloseWithError(io.ErrUnexpectedEOF)
		}
		for range reads {
			if code := <-done; code != http.StatusBadRequest {
				t.Errorf("a body cut short: %d, want 400", code)
			}
		}
		if w := fx.serve(fx.request(transport.MethodTakeover, body)); w.Code != http.StatusNoContent {
			t.Errorf("a takeover once the reads are free: %d %s", w.Code, w.Body)
		}
	})
}

// serveAgent serves an agenttest standby with cfg from NewServer on a
// loopback listener limited to maxConns, and returns its address.
func serveAgent(t *testing.T, cfg HandlerConfig, maxConns int) string {
	t.Helper()
	a := agenttest.New(nvrha.Facts{ID: "standby-1", Product: nvrha.ProductQVRPro, LicenseChannels: 32,
		RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", Empty: true}}})
	cfg.Server = "standby-1"
	cfg.Auth = Auth{Keys: []Key{internalKey}}
	h, err := NewHandler(a, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveHandler(t, ln, h, maxConns)
	return ln.Addr().String()
}

// serveHandler serves h from NewServer on ln, limited to maxConns, until
// the test ends; then it waits for every connection's goroutine, since
// net/http lingers up to 500 ms on a connection it closes after an answer.
func serveHandler(t *testing.T, ln net.Listener, h http.Handler, maxConns int) {
	t.Helper()
	srv := NewServer("", h)
	var conns sync.WaitGroup
	srv.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			conns.Add(1)
		case http.StateClosed, http.StateHijacked:
			conns.Done()
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(LimitListener(ln, maxConns))
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
		conns.Wait()
	})
}

// rawRequest returns the bytes of a takeover request to addr signed now,
// with extra headers.
func rawRequest(t *testing.T, addr string, body []byte, extra http.Header) []byte {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, "http://"+addr+Path(transport.MethodTakeover), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := SignRequest(r, body, "standby-1", internalKey, time.Now()); err != nil {
		t.Fatal(err)
	}
	for k, v := range extra {
		r.Header[k] = v
	}
	var b bytes.Buffer
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// exchange writes req on a new connection to addr, without its last cut
// bytes, and reads the answer.
func exchangeRaw(t *testing.T, addr string, req []byte, cut int) (*http.Response, net.Conn) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(patience)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(req[:len(req)-cut]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, conn
}

// TestSlowBodyIsCutOff sends headers and half a body, then nothing: the
// handler answers 400 once BodyReadTimeout has passed, and closes the
// connection, instead of holding it for the server's ReadTimeout.
func TestSlowBodyIsCutOff(t *testing.T) {
	addr := serveAgent(t, HandlerConfig{BodyReadTimeout: 100 * time.Millisecond}, ServerMaxConns)
	body := []byte(`{"recording":"rec-1","epoch":3,"cameras":["cam-1","cam-2","cam-3"]}`)
	start := time.Now()
	resp, conn := exchangeRaw(t, addr, rawRequest(t, addr, body, nil), len(body)/2)
	if resp.StatusCode != http.StatusBadRequest || !resp.Close {
		t.Errorf("a body cut short: %d, close %v; want 400 and Connection: close", resp.StatusCode, resp.Close)
	}
	if took := time.Since(start); took >= ServerReadTimeout/2 {
		t.Errorf("answered after %v", took)
	}
	if n, err := conn.Read(make([]byte, 1)); err == nil {
		t.Errorf("the connection stays open (read %d bytes)", n)
	}
}

// TestUnauthenticatedRequestLosesItsConnection: a request refused before it
// was authenticated gets "Connection: close" and the connection closes, so
// that such a client cannot hold connections idle; an authenticated one
// keeps its connection.
func TestUnauthenticatedRequestLosesItsConnection(t *testing.T) {
	addr := serveAgent(t, HandlerConfig{}, ServerMaxConns)
	body := []byte(`{"recording":"rec-1","epoch":3}`)
	resp, conn := exchangeRaw(t, addr, rawRequest(t, addr, body, http.Header{HeaderSignature: {strings.Repeat("0", 64)}}), 0)
	if resp.StatusCode != http.StatusUnauthorized || !resp.Close {
		t.Errorf("a wrong signature: %d, close %v; want 401 and Connection: close", resp.StatusCode, resp.Close)
	}
	if n, err := conn.Read(make([]byte, 1)); err == nil {
		t.Errorf("the connection stays open (read %d bytes)", n)
	}
	resp, _ = exchangeRaw(t, addr, rawRequest(t, addr, body, nil), 0)
	if resp.StatusCode != http.StatusNoContent || resp.Close {
		t.Errorf("a valid takeover: %d, close %v; want 204 on a connection kept alive", resp.StatusCode, resp.Close)
	}
}

// TestHeaderLimitIs16KiB checks the documented limit on a request's
// headers, which net/http would otherwise make 4 KiB larger than asked.
func TestHeaderLimitIs16KiB(t *testing.T) {
	addr := serveAgent(t, HandlerConfig{}, ServerMaxConns)
	body := []byte(`{"recording":"rec-1","epoch":3}`)
	for _, c := range []struct {
		size      int
		tooLarge  bool
		wantCode  int
		situation string
	}{
		{15 << 10, false, http.StatusNoContent, "15 KiB of headers"},
		{17 << 10, true, http.StatusRequestHeaderFieldsTooLarge, "17 KiB of headers"},
	} {
		req := rawRequest(t, addr, body, http.Header{"X-Padding": {strings.Repeat("p", c.size)}})
		resp, _ := exchangeRaw(t, addr, req, 0)
		if resp.StatusCode != c.wantCode {
			t.Errorf("%s: %d, want %d", c.situation, resp.StatusCode, c.wantCode)
		}
	}
}

// TestLimitListener checks that a LimitListener holds no more than its
// connections at once, accepts again once one closes, and unblocks a
// waiting Accept when it closes.
func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := LimitListener(inner, 2)
	defer ln.Close()
	for range 3 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ln.Accept(); err != nil {
		t.Fatal(err)
	}
	var closed atomic.Bool
	third := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			if !closed.Load() {
				err = errors.New("a third connection accepted while two were open")
			}
			c.Close()
		}
		third <- err
	}()
	closed.Store(true)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	_ = first.Close() // a second Close gives back nothing more
	if err := <-third; err != nil {
		t.Fatal(err)
	}
	waiting := make(chan error, 1)
	go func() {
		_, err := ln.Accept()
		waiting <- err
	}()
	_ = ln.Close()
	if err := <-waiting; !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
}
