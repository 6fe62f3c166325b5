package httptransport

import (
	"context"
	"crypto/tls"
	"errors"
	"math"
	"net"
	"os"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// The limits of the fasthttp engine; see the package documentation.
const (
	fastDialTimeout     = 5 * time.Second
	fastKeepAlive       = 30 * time.Second
	fastMaxConnsPerHost = 32
	fastIdleTimeout     = 90 * time.Second
	// fastReadBufferSize bounds a response's header, as net/http's
	// MaxResponseHeaderBytes does (fasthttp cannot read a longer one).
	fastReadBufferSize = 16 << 10
	// fastMaxPooledBody is the largest response body whose buffer a
	// finished call keeps for the next one.
	fastMaxPooledBody = 64 << 10
)

// fastEngine sends a Client's requests with fasthttp (EngineFastHTTP).
type fastEngine struct {
	client *fasthttp.Client
}

func newFastEngine(tlsConfig *tls.Config, dial func(ctx context.Context, network, addr string) (net.Conn, error), maxResp int64) *fastEngine {
	if dial == nil {
		dial = (&net.Dialer{Timeout: fastDialTimeout, KeepAlive: fastKeepAlive}).DialContext
	}
	if tlsConfig == nil {
		// Verify the agents' certificates against the system's roots, as
		// net/http does.
		tlsConfig = &tls.Config{}
	}
	return &fastEngine{client: &fasthttp.Client{
		DialTimeout: func(addr string, timeout time.Duration) (net.Conn, error) {
			if timeout <= 0 || timeout > fastDialTimeout {
				timeout = fastDialTimeout
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			return dial(ctx, "tcp", addr)
		},
		TLSConfig: tlsConfig.Clone(),
		// Keep a connection to every server, however many: the pool is per
		// host with no overall cap. A call that finds all of a server's
		// connections busy waits for one until its deadline, as with
		// net/http.
		MaxConnsPerHost:     fastMaxConnsPerHost,
		MaxIdleConnDuration: fastIdleTimeout,
		MaxConnWaitTimeout:  math.MaxInt64,
		// Never send a request twice: its nonce is single-use, and an
		// order may have been carried out.
		MaxIdemponentCallAttempts: 1,
		RetryIfErr:                func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
		ReadBufferSize:            fastReadBufferSize,
		MaxResponseBodySize:       int(min(maxResp, math.MaxInt32)),
		NoDefaultUserAgentHeader:  true,
		// The target's URIs hold the path escaped as net/http sends it.
		DisablePathNormalizing: true,
		Transport:              fastRoundTripper{},
	}}
}

// fastCall is one request and its response, and what its round trip needs
// to honour the caller's context.
type fastCall struct {
	req      fasthttp.Request
	resp     fasthttp.Response
	deadline time.Time

	// mu guards conn and cancelled, between the round trip and the
	// function the context calls when it ends.
	mu        sync.Mutex
	conn      net.Conn // the connection the request is on, once it is
	cancelled bool     // the context ended: conn's deadline is spoilt
	// cancelling is done when cancel will not run, or has returned.
	cancelling sync.WaitGroup
}

var fastCalls = sync.Pool{New: func() any { return new(fastCall) }}

func (f *fastCall) release() {
	if cap(f.resp.Body()) > fastMaxPooledBody {
		return // do not keep the buffer of a large inventory
	}
	f.req.Reset()
	f.resp.Reset()
	f.conn, f.cancelled = nil, false
	fastCalls.Put(f)
}

// cancel is called when the call's context ends: it makes the
// connection's pending and future reads and writes fail at once.
func (f *fastCall) cancel() {
	defer f.cancelling.Done()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled = true
	if f.conn != nil {
		_ = f.conn.SetDeadline(aLongTimeAgo)
	}
}

// aLongTimeAgo is a deadline in the past, which interrupts I/O at once.
var aLongTimeAgo = time.Unix(1, 0)

// setConn makes conn the call's connection, with the call's deadline,
// unless the context has ended already.
func (f *fastCall) setConn(conn net.Conn) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cancelled {
		return context.Canceled // lost reports the context's own error
	}
	f.conn = conn
	return conn.SetDeadline(f.deadline)
}

// fastCallKey is the Request user value under which a request's fastCall is.
type fastCallKey struct{}

// fastRoundTripper is the fasthttp engine's fasthttp.RoundTripper: fasthttp's
// own, less what the engine does not use (streamed bodies, retries,
// connection lifetimes), plus the call's context, which fasthttp does not
// know: when the context ends, the connection's deadline is moved to the
// past, the round trip fails, and the connection is closed.
type fastRoundTripper struct{}

func (fastRoundTripper) RoundTrip(hc *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response) (bool, error) {
	f, ok := req.UserValue(fastCallKey{}).(*fastCall)
	if !ok {
		return false, errors.New("httptransport: a request without its call")
	}
	wait := time.Until(f.deadline)
	if wait <= 0 {
		return false, fasthttp.ErrTimeout
	}
	cc, err := hc.AcquireConn(wait, false)
	if err != nil {
		return false, err
	}
	conn := cc.Conn()
	if err := f.setConn(conn); err != nil {
		hc.CloseConn(cc)
		return false, err
	}
	bw := hc.AcquireWriter(conn)
	err = req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	hc.ReleaseWriter(bw)
	if err == nil {
		br := hc.AcquireReader(conn)
		err = resp.ReadLimitBody(br, hc.MaxResponseBodySize)
		hc.ReleaseReader(br)
	}
	f.mu.Lock()
	spoilt := f.cancelled
	f.conn = nil
	f.mu.Unlock()
	if err != nil || spoilt || resp.ConnectionClose() {
		hc.CloseConn(cc)
	} else {
		hc.ReleaseConn(cc)
	}
	return false, err
}

// do sends x to t and checks the answer with c.finish. fasthttp takes no
// context: the round trip has the context's deadline (or c.timeout from
// now) on its connection, and if ctx can be cancelled, its ending moves
// that deadline to the past. A call waiting for a connection (all of a
// server's are busy, or one is being dialled) does not notice that its
// context ended until it has one, or its deadline passes.
func (e *fastEngine) do(ctx context.Context, c *Client, t *target, deadline time.Time, cancellable bool, x *outcall) error {
	f := fastCalls.Get().(*fastCall)
	defer f.release()
	f.deadline = deadline
	req := &f.req
	req.SetUserValue(fastCallKey{}, f)
	req.SetRequestURI(t.uris[x.method])
	req.Header.SetMethod(routeMethod)
	for _, kv := range x.signed.headers(x.signature) {
		req.Header.Set(kv[0], kv[1])
	}
	req.Header.Set("Accept", "application/json")
	if x.body != nil {
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(x.body)
	}
	var err error
	if cancellable {
		f.cancelling.Add(1)
		stop := context.AfterFunc(ctx, f.cancel)
		err = e.client.Do(req, &f.resp)
		if stop() {
			f.cancelling.Done()
		}
		f.cancelling.Wait() // before f goes back to the pool
	} else {
		err = e.client.Do(req, &f.resp)
	}
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		return c.lost(ctx, x, c.tooLarge())
	}
	if err != nil {
		return c.lost(ctx, x, fastError(err, deadline))
	}
	resp := &f.resp
	a := answer{status: resp.StatusCode(), contentType: string(resp.Header.ContentType()), body: resp.Body()}
	if c.verify {
		a.keyID, a.signature = string(resp.Header.Peek(HeaderKeyID)), string(resp.Header.Peek(HeaderSignature))
	}
	return c.finish(ctx, x, &a)
}

// fastError is the error of a fasthttp call that got no answer, as the
// net/http engine would report it: the context's deadline if that is what
// passed (before the context's own timer says so), else fasthttp's error.
func fastError(err error, deadline time.Time) error {
	if isTimeout(err) && !time.Now().Before(deadline) {
		return context.DeadlineExceeded
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) ||
		errors.Is(err, fasthttp.ErrTLSHandshakeTimeout) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}
