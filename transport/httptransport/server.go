package httptransport

import (
	"net/http"
	"time"
)

// The timeouts and limits of the http.Server that [NewServer] returns.
const (
	// ServerReadHeaderTimeout bounds reading a request's headers, so that a
	// client that opens a connection and sends nothing is dropped.
	ServerReadHeaderTimeout = 5 * time.Second
	// ServerReadTimeout bounds reading a whole request, body included.
	ServerReadTimeout = 15 * time.Second
	// ServerWriteTimeout bounds the time from the end of the request's
	// headers to the end of the response, and so how long an agent may take
	// over one order: an answer later than this is lost, which the center
	// treats as "outcome unknown" and retries.
	ServerWriteTimeout = 60 * time.Second
	// ServerIdleTimeout closes a keep-alive connection idle for this long.
	ServerIdleTimeout = 120 * time.Second
	// ServerMaxHeaderBytes bounds a request's headers.
	ServerMaxHeaderBytes = 16 << 10
)

// NewServer returns an http.Server that serves h on addr with timeouts that
// keep a slow or silent client from holding a connection: the Server*
// constants above. Set its TLSConfig before ListenAndServeTLS to serve HTTPS,
// with ClientAuth set to tls.RequireAndVerifyClientCert and ClientCAs to the
// center's CA for mutual TLS; see the package documentation.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: ServerReadHeaderTimeout,
		ReadTimeout:       ServerReadTimeout,
		WriteTimeout:      ServerWriteTimeout,
		IdleTimeout:       ServerIdleTimeout,
		MaxHeaderBytes:    ServerMaxHeaderBytes,
	}
}
