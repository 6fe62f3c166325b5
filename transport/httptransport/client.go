package httptransport

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
)

// DefaultTimeout bounds a call whose context has no deadline.
const DefaultTimeout = 10 * time.Second

// Resolver tells a Client where each server's agent listens.
type Resolver interface {
	// Resolve returns the base URL of server's agent: scheme, host, port and
	// an optional path prefix, such as "https://10.0.0.7:8443" or
	// "https://nvr-7.example/agent". The client appends the protocol path.
	// An error (for a server it does not know, wrap
	// transport.ErrUnknownServer) fails the call as unreachable.
	Resolve(ctx context.Context, server nvrha.ServerID) (string, error)
}

// ResolverFunc is a Resolver made of a function.
type ResolverFunc func(ctx context.Context, server nvrha.ServerID) (string, error)

// Resolve calls f.
func (f ResolverFunc) Resolve(ctx context.Context, server nvrha.ServerID) (string, error) {
	return f(ctx, server)
}

// StaticResolver is a Resolver from a fixed map of server IDs to base URLs.
// Do not change the map while a Client uses it; use a [Directory] for an
// address book that changes.
type StaticResolver map[nvrha.ServerID]string

// Resolve returns the base URL of server, or an error wrapping
// transport.ErrUnknownServer.
func (m StaticResolver) Resolve(_ context.Context, server nvrha.ServerID) (string, error) {
	u, ok := m[server]
	if !ok {
		return "", fmt.Errorf("%w: %s", transport.ErrUnknownServer, server)
	}
	return u, nil
}

// Directory is a Resolver whose entries may change while a Client uses it,
// as servers join and leave. The zero value is empty and ready; safe for
// concurrent use.
type Directory struct {
	mu   sync.RWMutex
	urls map[nvrha.ServerID]string
}

// Set makes server's agent reachable at baseURL.
func (d *Directory) Set(server nvrha.ServerID, baseURL string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.urls == nil {
		d.urls = make(map[nvrha.ServerID]string)
	}
	d.urls[server] = baseURL
}

// Remove forgets server; later calls to it fail with ErrUnknownServer.
func (d *Directory) Remove(server nvrha.ServerID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.urls, server)
}

// Resolve returns the base URL of server, or an error wrapping
// transport.ErrUnknownServer.
func (d *Directory) Resolve(_ context.Context, server nvrha.ServerID) (string, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	u, ok := d.urls[server]
	if !ok {
		return "", fmt.Errorf("%w: %s", transport.ErrUnknownServer, server)
	}
	return u, nil
}

// ClientConfig configures a Client.
type ClientConfig struct {
	// Resolver maps server IDs to base URLs. Required.
	Resolver Resolver
	// Auth holds the key the client signs with (Keys[0]) and those it accepts
	// on responses. Required.
	Auth Auth
	// TLSConfig is used for https base URLs: RootCAs to trust the agents'
	// certificates, Certificates to present a client certificate where the
	// agents require mutual TLS. Ignored when HTTPClient is set.
	TLSConfig *tls.Config
	// HTTPClient, if set, carries the requests instead of the client's own
	// (a keep-alive http.Transport with the pool limits the package
	// documentation lists). The Client never follows redirects, whatever its
	// CheckRedirect says.
	HTTPClient *http.Client
	// DialContext, if set, opens the client's connections; nil means a
	// net.Dialer with a 5 s timeout and TCP keep-alive every 30 s. Ignored
	// when HTTPClient is set.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Timeout bounds a call whose context has no deadline; zero means
	// DefaultTimeout. A deadline in the context always wins.
	Timeout time.Duration
	// MaxResponseBytes bounds a response body; zero means
	// DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// VerifyResponses makes the client refuse a response without a valid
	// signature (see the package documentation), failing the call with an
	// error wrapping ErrResponseNotAuthentic and transport.ErrUnreachable.
	VerifyResponses bool
	// Reasons name agent errors that cross the wire by identity; see [Reason].
	Reasons []Reason
	// Now is the client's clock, for timestamps; nil means time.Now.
	Now func() time.Time

	// DisableUDPProbes makes every probe go over HTTP, even to agents that
	// offer the UDP probe channel (see the package documentation, "Probes
	// over UDP").
	DisableUDPProbes bool
	// UDPProbeWait is how long a probe over UDP waits for its answer before
	// the client asks again over HTTP; it never takes more than half of
	// what remains of the call's time. Zero means four times the server's
	// smoothed round trip, from 20 ms to 100 ms.
	UDPProbeWait time.Duration
	// ListenPacket, if set, opens the client's UDP probe socket instead of
	// net.ListenUDP("udp", nil); it is called with "udp" and ":0".
	ListenPacket func(network, address string) (net.PacketConn, error)
}

// Client is a transport.Transport that reaches each server's agent over
// HTTP/JSON. Safe for concurrent use; one Client serves a whole center.
type Client struct {
	resolver Resolver
	keys     *keyring
	http     *http.Client
	timeout  time.Duration
	maxResp  int64
	verify   bool
	reasons  map[string]error
	now      func() time.Time
	udp      *udpProber // nil with DisableUDPProbes
	// bases caches the parsed base URLs the resolver returns: base URL
	// string → *target.
	bases     sync.Map
	basesSize atomic.Int64
}

// maxCachedBases bounds Client.bases; beyond it the cache starts afresh.
const maxCachedBases = 4096

// target is a parsed base URL, with the full path of every method.
type target struct {
	url   url.URL // scheme and host; its Path is set per request
	host  string  // the request's Host, as http.NewRequest sets it
	paths map[transport.Method]string
}

var _ transport.Transport = (*Client)(nil)

// NewClient returns a Client, or an error for a configuration it cannot use
// safely: no resolver, no keys, a weak key or a malformed Reason.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.Resolver == nil {
		return nil, errors.New("httptransport: nil Resolver")
	}
	keys, err := newKeyring(cfg.Auth)
	if err != nil {
		return nil, err
	}
	if err := validateReasons(cfg.Reasons); err != nil {
		return nil, err
	}
	if cfg.Timeout < 0 || cfg.MaxResponseBytes < 0 {
		return nil, errors.New("httptransport: negative Timeout or MaxResponseBytes")
	}
	c := &Client{
		resolver: cfg.Resolver,
		keys:     keys,
		timeout:  cfg.Timeout,
		maxResp:  cfg.MaxResponseBytes,
		verify:   cfg.VerifyResponses,
		reasons:  make(map[string]error, len(cfg.Reasons)),
		now:      cfg.Now,
	}
	for _, r := range cfg.Reasons {
		c.reasons[r.Code] = r.Err
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxResp == 0 {
		c.maxResp = DefaultMaxResponseBytes
	}
	if c.now == nil {
		c.now = time.Now
	}
	if cfg.UDPProbeWait < 0 {
		return nil, errors.New("httptransport: negative UDPProbeWait")
	}
	if !cfg.DisableUDPProbes {
		c.udp = newUDPProber(c, cfg.ListenPacket, cfg.UDPProbeWait)
	}
	if cfg.HTTPClient != nil {
		hc := *cfg.HTTPClient
		c.http = &hc
	} else {
		t := NewHTTPTransport(cfg.TLSConfig)
		if cfg.DialContext != nil {
			t.DialContext = cfg.DialContext
		}
		c.http = &http.Client{Transport: t}
	}
	c.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c, nil
}

// NewHTTPTransport returns the keep-alive http.Transport a Client uses unless
// given an HTTPClient, with tlsConfig (cloned; nil for plain HTTP). Its
// limits suit a center calling each of its servers (up to 1,024) a few
// times a second: dial and TLS handshake within 5 s each, at most 32
// connections and 8 idle ones per server, with no overall cap on idle
// connections, so that every server keeps its connection between probes
// instead of being dialled again, idle connections closed after 90 s,
// response headers of at most 64 KiB, HTTP/2 when TLS is in use, and no proxy
// from the environment.
func NewHTTPTransport(tlsConfig *tls.Config) *http.Transport {
	return &http.Transport{
		DialContext:            (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:        tlsConfig.Clone(),
		TLSHandshakeTimeout:    5 * time.Second,
		ForceAttemptHTTP2:      tlsConfig != nil,
		MaxIdleConns:           0, // no cap beyond MaxIdleConnsPerHost
		MaxIdleConnsPerHost:    8,
		MaxConnsPerHost:        32,
		IdleConnTimeout:        90 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// Close closes the client's idle connections and its UDP probe socket, and
// waits for the socket's reader to end. The client stays usable: a later
// call opens what it needs again.
func (c *Client) Close() {
	if c.udp != nil {
		c.udp.close()
	}
	c.http.CloseIdleConnections()
}

// Probe asks server's agent for a ProbeReport: over UDP where the agent
// offers it and answers there (see the package documentation), over HTTP
// otherwise.
func (c *Client) Probe(ctx context.Context, server nvrha.ServerID) (transport.ProbeReport, error) {
	if c.udp != nil {
		return c.probeUDPFirst(ctx, server)
	}
	return c.probeHTTP(ctx, server)
}

// Inventory asks server's agent for its facts.
func (c *Client) Inventory(ctx context.Context, server nvrha.ServerID) (nvrha.Facts, error) {
	var f nvrha.Facts
	if err := c.call(ctx, server, transport.MethodInventory, nil, &f); err != nil {
		return nvrha.Facts{}, err
	}
	return f, nil
}

// Takeover sends o to standby.
func (c *Client) Takeover(ctx context.Context, standby nvrha.ServerID, o transport.TakeoverOrder) error {
	if o.Cameras == nil {
		o.Cameras = []nvrha.CameraID{} // an array on the wire, never null
	}
	return c.call(ctx, standby, transport.MethodTakeover, o, nil)
}

// Release sends o to standby.
func (c *Client) Release(ctx context.Context, standby nvrha.ServerID, o transport.ReleaseOrder) error {
	return c.call(ctx, standby, transport.MethodRelease, o, nil)
}

// StandDown sends o to recording.
func (c *Client) StandDown(ctx context.Context, recording nvrha.ServerID, o transport.StandDownOrder) error {
	return c.call(ctx, recording, transport.MethodStandDown, o, nil)
}

// Resume sends o to recording.
func (c *Client) Resume(ctx context.Context, recording nvrha.ServerID, o transport.ResumeOrder) error {
	return c.call(ctx, recording, transport.MethodResume, o, nil)
}

// call is the one path every method takes: validate, resolve, sign, send,
// read, verify, decode.
func (c *Client) call(ctx context.Context, server nvrha.ServerID, m transport.Method, order interface{ Validate() error }, out any) error {
	return c.callVia(ctx, server, m, order, out, nil)
}

// resolved is where a call went: the resolver's base URL and its parse.
type resolved struct {
	base string
	t    *target
}

// callVia is call, which also tells at, if not nil, where the call went.
func (c *Client) callVia(ctx context.Context, server nvrha.ServerID, m transport.Method, order interface{ Validate() error }, out any, at *resolved) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("httptransport: %s %s: %w", m, server, err)
	}
	var body []byte
	if order != nil {
		// JSON cannot carry every string faithfully (invalid UTF-8 becomes
		// U+FFFD), so a malformed order is refused here, not mangled.
		if err := order.Validate(); err != nil {
			return fmt.Errorf("httptransport: %s %s: %w", m, server, err)
		}
		var err error
		if body, err = json.Marshal(order); err != nil {
			return fmt.Errorf("httptransport: %s %s: %w: %w", m, server, transport.ErrInvalidOrder, err)
		}
	}
	base, err := c.resolver.Resolve(ctx, server)
	if err != nil {
		if !errors.Is(err, transport.ErrUnreachable) {
			err = fmt.Errorf("%w: %w", transport.ErrUnreachable, err)
		}
		return fmt.Errorf("httptransport: %s %s: resolve: %w", m, server, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	t, err := c.target(base)
	if err != nil {
		return fmt.Errorf("httptransport: %s %s: %w: %w", m, server, transport.ErrUnreachable, err)
	}
	if at != nil {
		at.base, at.t = base, t
	}
	path, ok := t.paths[m]
	if !ok {
		return fmt.Errorf("httptransport: %s %s: %w: no path for method %q", m, server, transport.ErrUnreachable, m)
	}
	signed, sig, err := c.signed(path, body, server)
	if err != nil {
		return fmt.Errorf("httptransport: %s %s: %w: %w", m, server, transport.ErrUnreachable, err)
	}
	x := outcall{server: server, method: m, signed: &signed, signature: sig, body: body, out: out}
	return c.doNetHTTP(ctx, t, &x)
}

// outcall is one call: the signed request going out
// and where its answer goes.
type outcall struct {
	server    nvrha.ServerID
	method    transport.Method
	signed    *signedRequest
	signature string // the request's Nvrha-Signature
	body      []byte // the request body; nil for none
	out       any    // decodes a 2xx answer; nil for none
}

// answer is a response as doNetHTTP read it, for Client.finish.
type answer struct {
	status                        int
	contentType, keyID, signature string // keyID and signature only if the client verifies
	body                          []byte // valid until finish returns
}

// doNetHTTP sends x with net/http.
func (c *Client) doNetHTTP(ctx context.Context, t *target, x *outcall) error {
	req, err := c.newRequest(ctx, t, x)
	if err != nil {
		return fmt.Errorf("httptransport: %s %s: %w: %w", x.method, x.server, transport.ErrUnreachable, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.lost(ctx, x, err)
	}
	defer resp.Body.Close()
	buf := getBuffer()
	defer putBuffer(buf)
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, c.maxResp+1))
	if err != nil {
		return c.lost(ctx, x, err)
	}
	a := answer{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: buf.Bytes()}
	if c.verify {
		a.keyID, a.signature = resp.Header.Get(HeaderKeyID), resp.Header.Get(HeaderSignature)
	}
	return c.finish(ctx, x, &a)
}

// finish checks the answer to x: its size, its
// signature if the client verifies responses, its status, and decodes it.
// Nothing may keep a.body.
func (c *Client) finish(ctx context.Context, x *outcall, a *answer) error {
	if int64(len(a.body)) > c.maxResp {
		return c.lost(ctx, x, c.tooLarge())
	}
	if c.verify {
		if err := c.verifyResponse(a, x.signed); err != nil {
			detail := ""
			if b, ok := parseErrorBody(a.contentType, a.body); ok {
				detail = fmt.Sprintf(" (it says %d %s: %s)", a.status, b.Code, b.Message)
			}
			return fmt.Errorf("httptransport: %s %s: %w: %w%s", x.method, x.server, transport.ErrUnreachable, err, detail)
		}
	}
	if a.status < 200 || a.status > 299 {
		return decodeError(x.server, x.method, a.status, a.contentType, a.body, c.reasons)
	}
	if x.out != nil {
		if err := json.Unmarshal(a.body, x.out); err != nil {
			return c.lost(ctx, x, fmt.Errorf("decoding the answer: %w", err))
		}
	}
	return nil
}

// tooLarge is the error of a response body larger than the client accepts.
func (c *Client) tooLarge() error { return fmt.Errorf("response larger than %d bytes", c.maxResp) }

// lost reports a call whose answer did not arrive: the outcome is unknown.
// It also wraps the context's error if that is why.
func (c *Client) lost(ctx context.Context, x *outcall, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("httptransport: %s %s: %w: %w", x.method, x.server, transport.ErrUnreachable, cerr)
	}
	return fmt.Errorf("httptransport: %s %s: %w: %w", x.method, x.server, transport.ErrUnreachable, err)
}

// newRequest builds the net/http request of x, with its signature.
func (c *Client) newRequest(ctx context.Context, t *target, x *outcall) (*http.Request, error) {
	// An empty URL costs no parsing; the target's parsed one replaces it.
	req, err := http.NewRequestWithContext(ctx, routeMethod, "", bytes.NewReader(x.body))
	if err != nil {
		return nil, err
	}
	u := t.url
	u.Path = x.signed.fullPath
	req.URL, req.Host = &u, t.host
	// One make for the headers and one array for their values; the keys
	// are canonical already.
	h := make(http.Header, 8)
	vals := make([]string, 7)
	set := func(i int, k, v string) { vals[i] = v; h[k] = vals[i : i+1 : i+1] }
	if x.body != nil {
		set(6, "Content-Type", "application/json")
	}
	set(5, "Accept", "application/json")
	for i, kv := range x.signed.headers(x.signature) {
		set(i, kv[0], kv[1])
	}
	req.Header = h
	return req, nil
}

// target returns the parsed base, from the cache if it is there.
func (c *Client) target(base string) (*target, error) {
	if t, ok := c.bases.Load(base); ok {
		return t.(*target), nil
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base URL %q: want http(s)://host[:port][/prefix]", base)
	}
	prefix := strings.TrimSuffix(u.Path, "/")
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	// As http.NewRequest does it: a host with an empty port loses its colon.
	u.Host = strings.TrimSuffix(u.Host, ":")
	t := &target{url: *u, host: u.Host, paths: make(map[transport.Method]string, len(routes))}
	for _, m := range routes {
		t.paths[m] = prefix + Path(m)
	}
	if c.basesSize.Add(1) > maxCachedBases {
		c.bases.Clear()
		c.basesSize.Store(1)
	}
	c.bases.Store(base, t)
	return t, nil
}

// signed returns the fields a signature of a request to path with body
// covers, with the client's key, clock and a fresh nonce, and the
// signature.
func (c *Client) signed(path string, body []byte, server nvrha.ServerID) (signedRequest, string, error) {
	key := c.keys.sign
	s, err := newSignedRequest(routeMethod, path, body, server, key.ID, c.now())
	if err != nil {
		return signedRequest{}, "", err
	}
	return s, c.keys.macs[key.ID].signRequest(&s), nil
}

// headers returns the authentication headers of s, with its signature sig,
// in the order [HeaderKeyID], [HeaderTimestamp], [HeaderNonce],
// [HeaderServer], [HeaderSignature].
func (s *signedRequest) headers(sig string) [5][2]string {
	return [...][2]string{
		{HeaderKeyID, s.keyID},
		{HeaderTimestamp, s.timestamp},
		{HeaderNonce, s.nonce},
		{HeaderServer, s.server},
		{HeaderSignature, sig},
	}
}

// SignRequest adds the authentication headers to r, a request of this
// protocol whose body is body, for the agent of server, signed with key at
// time now and a fresh nonce. The signed path is r.URL.Path from PathPrefix
// on, so a base URL's prefix does not matter. A [Client] does this for every
// request; SignRequest is for tools and tests that build requests by hand.
func SignRequest(r *http.Request, body []byte, server nvrha.ServerID, key Key, now time.Time) error {
	if err := key.validate(); err != nil {
		return err
	}
	_, err := signRequest(r, body, server, key, now)
	return err
}

func signRequest(r *http.Request, body []byte, server nvrha.ServerID, key Key, now time.Time) (signedRequest, error) {
	s, err := newSignedRequest(r.Method, r.URL.Path, body, server, key.ID, now)
	if err != nil {
		return signedRequest{}, err
	}
	for _, kv := range s.headers(sign(key.Secret, s.canonical())) {
		r.Header.Set(kv[0], kv[1])
	}
	return s, nil
}

// newSignedRequest returns the fields a signature of a request covers, for
// a request with method to fullPath (a base URL's prefix, if any, and the
// protocol path), with a fresh nonce.
func newSignedRequest(method, fullPath string, body []byte, server nvrha.ServerID, keyID string, now time.Time) (signedRequest, error) {
	i := strings.Index(fullPath, PathPrefix)
	if i < 0 {
		return signedRequest{}, fmt.Errorf("path %q is not a path of this protocol", fullPath)
	}
	nonce, err := newNonce()
	if err != nil {
		return signedRequest{}, err
	}
	return signedRequest{
		method:    method,
		path:      fullPath[i:],
		fullPath:  fullPath,
		server:    url.PathEscape(string(server)),
		keyID:     keyID,
		timestamp: strconv.FormatInt(now.Unix(), 10),
		nonce:     nonce,
		body:      body,
	}, nil
}

// verifyResponse checks an answer's signature against the keys the client
// accepts.
func (c *Client) verifyResponse(a *answer, req *signedRequest) error {
	p, ok := c.keys.macs[a.keyID]
	if !ok || a.signature == "" {
		return ErrResponseNotAuthentic
	}
	if !p.verifyResponse(a.signature, a.status, req.path, req.server, a.keyID, req.nonce, a.body) {
		return ErrResponseNotAuthentic
	}
	return nil
}

// buffers holds the buffers responses are read into.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuffer() *bytes.Buffer { return buffers.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b.Cap() > 64<<10 { // do not keep an inventory of a large server
		return
	}
	b.Reset()
	buffers.Put(b)
}

// RemoteError is an error response from an agent's handler, as a Client
// returns it. Unwrap gives what the code means to a center:
// [*transport.StaleEpochError] for CodeStaleEpoch,
// [*transport.StaleTermError] for CodeStaleTerm,
// [transport.ErrInvalidOrder] for CodeInvalidOrder, [ErrUnauthenticated] for
// CodeUnauthenticated, [transport.ErrUnreachable] for CodeUnavailable,
// CodeReplayed and CodeWrongServer (the outcome is unknown, or the server
// meant was not reached), and the error a [Reason] names for its code. Every
// other code is a definite refusal that wraps nothing.
type RemoteError struct {
	Server nvrha.ServerID
	Method transport.Method
	// Status is the HTTP status and Body the decoded error body.
	Status int
	Body   ErrorBody

	wrapped []error
}

func (e *RemoteError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "httptransport: %s %s: %d %s", e.Method, e.Server, e.Status, e.Body.Code)
	if e.Body.Reason != "" {
		fmt.Fprintf(&b, " (%s)", e.Body.Reason)
	}
	b.WriteString(": ")
	b.WriteString(e.Body.Message)
	return b.String()
}

// Unwrap returns the errors the code stands for; see RemoteError.
func (e *RemoteError) Unwrap() []error { return e.wrapped }

// parseErrorBody reads an error body of this protocol: JSON with a non-empty
// code of the expected shape.
func parseErrorBody(contentType string, body []byte) (ErrorBody, bool) {
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != "application/json" {
		return ErrorBody{}, false
	}
	var b ErrorBody
	if err := json.Unmarshal(body, &b); err != nil || !validLowerToken(b.Code) {
		return ErrorBody{}, false
	}
	return b, true
}

// decodeError turns a non-2xx response into the error a center acts on. A
// response that is not an error body of this protocol (a proxy's page, a
// truncated body) says nothing about whether the agent acted, so it is
// reported as unreachable.
func decodeError(server nvrha.ServerID, m transport.Method, status int, contentType string, body []byte, reasons map[string]error) error {
	b, ok := parseErrorBody(contentType, body)
	if !ok {
		snippet := body
		if len(snippet) > 200 {
			snippet = snippet[:200]
		}
		return fmt.Errorf("httptransport: %s %s: %w: HTTP %d with a body that is not an error of this protocol: %q",
			m, server, transport.ErrUnreachable, status, snippet)
	}
	e := &RemoteError{Server: server, Method: m, Status: status, Body: b}
	switch b.Code {
	case CodeStaleEpoch:
		e.wrapped = append(e.wrapped, &transport.StaleEpochError{Key: b.Key, Got: b.Got, Newest: b.Newest})
	case CodeStaleTerm:
		e.wrapped = append(e.wrapped, &transport.StaleTermError{Got: b.GotTerm, Newest: b.NewestTerm})
	case CodeInvalidOrder:
		e.wrapped = append(e.wrapped, transport.ErrInvalidOrder)
	case CodeUnauthenticated:
		e.wrapped = append(e.wrapped, ErrUnauthenticated)
	case CodeUnavailable, CodeReplayed, CodeWrongServer:
		e.wrapped = append(e.wrapped, transport.ErrUnreachable)
	case CodeAgentError:
		if err, ok := reasons[b.Reason]; ok && b.Reason != "" {
			e.wrapped = append(e.wrapped, err)
		}
	default:
		// A code this version does not know: trust it as a refusal only
		// where the status says the server answered for itself.
		if status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout {
			e.wrapped = append(e.wrapped, transport.ErrUnreachable)
		}
	}
	return e
}
