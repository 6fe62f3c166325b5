package httptransport

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// The timeouts and limits of the http.Server that [NewServer] returns, and
// of the listener [LimitListener] returns.
const (
	// ServerReadHeaderTimeout bounds reading a request's headers, so that a
	// client that opens a connection and sends nothing is dropped.
	ServerReadHeaderTimeout = 5 * time.Second
	// ServerReadTimeout bounds reading a whole request, body included. The
	// handler bounds reading a body more tightly (HandlerConfig's
	// BodyReadTimeout, 2 s by default).
	ServerReadTimeout = 15 * time.Second
	// ServerWriteTimeout bounds the time from the end of the request's
	// headers to the end of the response, and so how long an agent may take
	// over one order: an answer later than this is lost, which the center
	// treats as "outcome unknown" and retries.
	ServerWriteTimeout = 60 * time.Second
	// ServerIdleTimeout closes a keep-alive connection idle for this long.
	ServerIdleTimeout = 120 * time.Second
	// ServerMaxHeaderBytes bounds a request's request line and headers
	// together: a longer one is refused with 431. (net/http reads 4,096
	// bytes more than its MaxHeaderBytes; NewServer sets that field to
	// this less 4,096 so that the limit is this.)
	ServerMaxHeaderBytes = 16 << 10
	// ServerMaxConns is how many connections a [LimitListener] made with
	// it lets an agent's server hold at once. A center keeps up to 32 per
	// agent, and an agent serves one center or two; beyond the limit, new
	// connections wait in the kernel's accept queue until one closes.
	ServerMaxConns = 256
)

// netHTTPHeaderSlack is what net/http adds to http.Server.MaxHeaderBytes
// before it refuses a request's headers.
const netHTTPHeaderSlack = 4096

// NewServer returns an http.Server that serves h on addr with timeouts that
// keep a slow or silent client from holding a connection: the Server*
// constants above. Serve it from [LimitListener] to bound its connections
// too:
//
//	ln, err := net.Listen("tcp", addr)
//	...
//	err = srv.Serve(httptransport.LimitListener(ln, httptransport.ServerMaxConns))
//
// Set its TLSConfig before serving HTTPS, with ClientAuth set to
// tls.RequireAndVerifyClientCert and ClientCAs to the center's CA for
// mutual TLS; see the package documentation.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: ServerReadHeaderTimeout,
		ReadTimeout:       ServerReadTimeout,
		WriteTimeout:      ServerWriteTimeout,
		IdleTimeout:       ServerIdleTimeout,
		MaxHeaderBytes:    ServerMaxHeaderBytes - netHTTPHeaderSlack,
	}
}

// LimitListener returns a Listener that accepts at most n connections from
// ln at once: once n are open, Accept waits until one of them closes, and
// new connections wait in the kernel's accept queue meanwhile. Every
// connection the server holds costs memory (a goroutine and its buffers)
// whether or not it ever authenticates, so an agent that anyone on its
// network can reach should bound them; [ServerMaxConns] suits an agent.
// Connections a center already holds are not affected by new ones waiting,
// and probes over UDP ([ListenProbes]) are not affected at all.
func LimitListener(ln net.Listener, n int) net.Listener {
	if n < 1 {
		n = 1
	}
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	sem       chan struct{}
	closeOnce sync.Once
	done      chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

// limitConn gives its listener's slot back when it is closed, once.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite shuts down the writing side of a TCP connection, as
// net/http does after its last response when it can.
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
