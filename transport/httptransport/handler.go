package httptransport

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
)

// HandlerConfig configures the handler that serves one agent.
type HandlerConfig struct {
	// Server is the ID of the server the agent runs on. Required: a request
	// for any other server is refused with CodeWrongServer, so that a center
	// whose address book is out of date cannot order the wrong server about,
	// even where every server shares a key.
	Server nvrha.ServerID
	// Auth holds the keys the handler accepts. Required.
	Auth Auth
	// MaxBodyBytes bounds a request body; zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxBodyReads bounds how many request bodies the handler reads at
	// once: a body is read before its signature can be checked, so this,
	// times MaxBodyBytes, bounds the memory that traffic which is not
	// authenticated can hold. Zero means DefaultMaxBodyReads. A request
	// that finds every read in use waits up to BodyReadTimeout for one,
	// then is refused with CodeUnavailable. Probes and inventories have no
	// body and never wait.
	MaxBodyReads int
	// BodyReadTimeout bounds reading one request body, so that a client
	// that sends it slowly cannot hold a read for long; zero means
	// DefaultBodyReadTimeout. It applies where the connection supports
	// read deadlines (http.ResponseController), as net/http's do.
	BodyReadTimeout time.Duration
	// MaxNonces bounds how many nonces the handler remembers; zero means
	// DefaultMaxNonces. A request that would need more is refused with
	// CodeUnavailable.
	MaxNonces int
	// Reasons name agent errors that cross the wire by identity; see [Reason].
	Reasons []Reason
	// Logger receives the handler's records; nil discards them. A refused
	// request that was authenticated gets a record of its own; those
	// refused before (wrong or missing headers, bad signatures, overload)
	// are counted and logged at most once per RefusalLogInterval, so that
	// forged traffic cannot flood the log. Records do not name the
	// handler's server: give a Logger that does (Logger.With) if several
	// handlers log to one place.
	Logger *slog.Logger
	// Now is the handler's clock, for checking timestamps; nil means
	// time.Now. The handler refuses requests signed before NewHandler
	// read it first (see the package documentation, "Authentication").
	Now func() time.Time
}

// handler serves one Agent; see NewHandler.
type handler struct {
	agent   transport.Agent
	server  nvrha.ServerID
	keys    *keyring
	nonces  *nonceCache
	maxBody int64
	reasons []Reason
	log     *slog.Logger
	now     func() time.Time
	paths   map[string]transport.Method
	// notBefore is the start of the second the handler started in: a
	// request signed before it may have been accepted by an earlier
	// process, whose nonces this one does not know.
	notBefore time.Time
	// bodies bounds the bodies read at once, before authentication.
	bodies      *bodySlots
	bodyTimeout time.Duration
	// refusals logs the requests refused before authentication.
	refusals *refusalLog
	// probePort is the port of the UDP probe channel that ListenProbes
	// serves for this handler, advertised in every HTTP probe answer; 0
	// for none.
	probePort atomic.Uint32
}

// NewHandler returns an http.Handler that serves agent under the paths of the
// protocol (see the package documentation), authenticating every request. It
// fails only for a configuration it cannot serve safely: no agent, an invalid
// server ID, no keys, a weak key or a malformed Reason.
//
// The handler calls the agent with the request's context, which ends when the
// client gives up; it validates every order before the agent sees it. Serve
// it from an http.Server whose timeouts bound slow clients, such as the one
// [NewServer] returns.
func NewHandler(agent transport.Agent, cfg HandlerConfig) (http.Handler, error) {
	if agent == nil {
		return nil, errors.New("httptransport: nil agent")
	}
	if err := cfg.Server.Validate(); err != nil {
		return nil, fmt.Errorf("httptransport: handler server ID: %w", err)
	}
	keys, err := newKeyring(cfg.Auth)
	if err != nil {
		return nil, err
	}
	if err := validateReasons(cfg.Reasons); err != nil {
		return nil, err
	}
	if cfg.MaxBodyBytes < 0 || cfg.MaxNonces < 0 || cfg.MaxBodyReads < 0 || cfg.BodyReadTimeout < 0 {
		return nil, errors.New("httptransport: negative MaxBodyBytes, MaxNonces, MaxBodyReads or BodyReadTimeout")
	}
	h := &handler{
		agent:   agent,
		server:  cfg.Server,
		keys:    keys,
		maxBody: cfg.MaxBodyBytes,
		reasons: append([]Reason(nil), cfg.Reasons...),
		log:     cfg.Logger,
		now:     cfg.Now,
		paths:   make(map[string]transport.Method, len(routes)),
	}
	if h.maxBody == 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	maxNonces := cfg.MaxNonces
	if maxNonces == 0 {
		maxNonces = DefaultMaxNonces
	}
	h.nonces = newNonceCache(maxNonces, keys.maxSkew)
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.notBefore = h.now().Truncate(time.Second)
	h.refusals = newRefusalLog(h.log, h.now, "requests refused")
	reads := cfg.MaxBodyReads
	if reads == 0 {
		reads = DefaultMaxBodyReads
	}
	h.bodies = newBodySlots(reads)
	h.bodyTimeout = cfg.BodyReadTimeout
	if h.bodyTimeout == 0 {
		h.bodyTimeout = DefaultBodyReadTimeout
	}
	for _, m := range routes {
		h.paths[Path(m)] = m
	}
	return h, nil
}

func validateReasons(rs []Reason) error {
	seen := make(map[string]bool, len(rs))
	for _, r := range rs {
		if !validLowerToken(r.Code) {
			return fmt.Errorf("httptransport: reason code %q: want 1 to 64 characters of [a-z0-9_.-]", r.Code)
		}
		if r.Err == nil {
			return fmt.Errorf("httptransport: reason %s has no error", r.Code)
		}
		if seen[r.Code] {
			return fmt.Errorf("httptransport: reason code %s listed twice", r.Code)
		}
		seen[r.Code] = true
	}
	return nil
}

func validLowerToken(s string) bool {
	return validToken(s, 1, 64, true) && strings.ToLower(s) == s
}

// exchange is one request as the handler works on it.
type exchange struct {
	w      http.ResponseWriter
	r      *http.Request
	path   string
	method transport.Method
	// key, server and nonce are set once the request's signature has been
	// verified; from then on every response is signed.
	key           *Key
	server, nonce string
	// slot holds the body while it is needed; release gives it back.
	slot *bodyBuf
	h    *handler
}

// release returns the exchange's body slot, if it holds one; the body is
// gone after it.
func (x *exchange) release() {
	if x.slot != nil {
		x.h.bodies.release(x.slot)
		x.slot = nil
	}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := &exchange{w: w, r: r, path: r.URL.Path, h: h}
	defer x.release()
	m, ok := h.paths[r.URL.Path]
	if !ok {
		h.fail(x, CodeNotFound, "no such path; the protocol's paths start with "+PathPrefix)
		return
	}
	x.method = m
	if r.Method != routeMethod {
		w.Header().Set("Allow", routeMethod)
		h.fail(x, CodeMethodNotAllowed, fmt.Sprintf("%s takes %s only", x.path, routeMethod))
		return
	}
	body, ok := h.authenticate(x)
	if !ok {
		return
	}
	h.serve(x, body)
}

// header returns the single value of name, or false if it is missing or
// repeated.
func header(r *http.Request, name string) (string, bool) {
	v := r.Header.Values(name)
	if len(v) != 1 {
		return "", false
	}
	return v[0], true
}

// authenticate checks the request's headers, reads its body and verifies
// its signature, server and nonce. It answers the request itself and
// returns false if any check fails.
//
// Everything that can be checked without the body is checked before it is
// read: the headers' form, the key, the timestamp, that the nonce is not
// known already, and the body's declared size. Only then is the body read,
// under the limits of HandlerConfig.MaxBodyReads and BodyReadTimeout,
// since the signature covers it.
func (h *handler) authenticate(x *exchange) ([]byte, bool) {
	r := x.r
	keyID, ok := header(r, HeaderKeyID)
	if !ok || !validToken(keyID, 1, 64, true) {
		h.fail(x, CodeUnauthenticated, "missing or malformed "+HeaderKeyID)
		return nil, false
	}
	key, ok := h.keys.byID[keyID]
	if !ok {
		h.fail(x, CodeUnauthenticated, "unknown key "+keyID)
		return nil, false
	}
	tsText, ok := header(r, HeaderTimestamp)
	ts, okTS := parseTimestamp(tsText)
	if !ok || !okTS {
		h.fail(x, CodeUnauthenticated, "missing or malformed "+HeaderTimestamp)
		return nil, false
	}
	now := h.now()
	if msg := h.checkTimestamp(ts, now); msg != "" {
		h.fail(x, CodeUnauthenticated, msg)
		return nil, false
	}
	nonce, ok := header(r, HeaderNonce)
	if !ok || !validToken(nonce, 16, 64, false) {
		h.fail(x, CodeUnauthenticated, "missing or malformed "+HeaderNonce)
		return nil, false
	}
	serverText, ok := header(r, HeaderServer)
	server, err := url.PathUnescape(serverText)
	if !ok || err != nil || strings.ContainsAny(serverText, "\r\n") || nvrha.ServerID(server).Validate() != nil {
		h.fail(x, CodeUnauthenticated, "missing or malformed "+HeaderServer)
		return nil, false
	}
	sig, ok := header(r, HeaderSignature)
	if !ok || !validSignature(sig) {
		h.fail(x, CodeUnauthenticated, "missing or malformed "+HeaderSignature)
		return nil, false
	}
	nonceKey := keyID + ":" + nonce
	if h.nonces.seen(nonceKey, now) {
		h.fail(x, CodeReplayed, errReplayed.Error())
		return nil, false
	}
	body, ok := h.readBody(x)
	if !ok {
		return nil, false
	}
	msg := signedRequest{method: r.Method, path: x.path, server: serverText, keyID: keyID, timestamp: tsText, nonce: nonce, body: body}
	if !verify(key.Secret, msg.canonical(), sig) {
		h.fail(x, CodeUnauthenticated, "signature does not match")
		return nil, false
	}
	x.key, x.server, x.nonce = &key, serverText, nonce
	if nvrha.ServerID(server) != h.server {
		h.fail(x, CodeWrongServer, fmt.Sprintf("request for %s reached %s", server, h.server))
		return nil, false
	}
	switch err := h.nonces.add(nonceKey, ts.Add(h.keys.maxSkew), now); {
	case errors.Is(err, errReplayed):
		h.fail(x, CodeReplayed, err.Error())
		return nil, false
	case err != nil:
		h.fail(x, CodeUnavailable, err.Error())
		return nil, false
	}
	return body, true
}

// checkTimestamp returns why a request or datagram signed at ts is refused
// at now, or "" if it is not: more than MaxSkew away from now, or signed
// before the handler started.
func (h *handler) checkTimestamp(ts, now time.Time) string {
	if d := now.Sub(ts); d > h.keys.maxSkew || d < -h.keys.maxSkew {
		return fmt.Sprintf("timestamp %d is %v away from this server's clock (%d), more than the allowed %v",
			ts.Unix(), d.Truncate(time.Second), now.Unix(), h.keys.maxSkew)
	}
	if ts.Before(h.notBefore) {
		return fmt.Sprintf("timestamp %d is before this agent started (%d): it may be a copy of a request an earlier run accepted",
			ts.Unix(), h.notBefore.Unix())
	}
	return ""
}

// validSignature reports whether sig has the form of a signature: 64 hex
// digits.
func validSignature(sig string) bool {
	if len(sig) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(sig); i++ {
		if _, ok := fromHexChar(sig[i]); !ok {
			return false
		}
	}
	return true
}

// readBody reads the request's body into a slot of h.bodies, within
// h.bodyTimeout, or answers the request and returns false. Probes and
// inventories take no body, and a request with none needs no slot.
func (h *handler) readBody(x *exchange) ([]byte, bool) {
	r := x.r
	if x.method == transport.MethodProbe || x.method == transport.MethodInventory {
		if r.ContentLength != 0 {
			// Too large for its route, whose limit is no body at all: the
			// same answer as any oversized body, so that a request not yet
			// authenticated learns nothing more from it.
			h.fail(x, CodeTooLarge, x.path+" takes no body")
			return nil, false
		}
		return nil, true
	}
	switch {
	case r.ContentLength == 0:
		return nil, true
	case r.ContentLength > h.maxBody:
		h.fail(x, CodeTooLarge, fmt.Sprintf("body of %d bytes, more than the %d accepted", r.ContentLength, h.maxBody))
		return nil, false
	}
	slot, ok := h.bodies.acquire(r.Context(), h.bodyTimeout)
	if !ok {
		h.fail(x, CodeUnavailable, fmt.Sprintf("too many request bodies being read (%d); try again", cap(h.bodies.free)))
		return nil, false
	}
	x.slot = slot
	rc := http.NewResponseController(x.w)
	deadline := rc.SetReadDeadline(time.Now().Add(h.bodyTimeout)) == nil
	body, err := slot.read(r.Body, r.ContentLength, h.maxBody)
	if deadline && err == nil {
		// No deadline from here on: net/http reads on in the background
		// to notice a client that goes away, and a deadline passing there
		// would cancel the request's context while the agent works.
		_ = rc.SetReadDeadline(time.Time{})
	}
	switch {
	case errors.Is(err, errBodyTooLarge):
		h.fail(x, CodeTooLarge, fmt.Sprintf("body larger than the %d bytes accepted", h.maxBody))
		return nil, false
	case errors.Is(err, os.ErrDeadlineExceeded):
		h.fail(x, CodeBadRequest, fmt.Sprintf("reading the body: not complete within %v", h.bodyTimeout))
		return nil, false
	case err != nil:
		h.fail(x, CodeBadRequest, "reading the body: "+err.Error())
		return nil, false
	}
	return body, true
}

// serve decodes the order, validates it and hands it to the agent.
func (h *handler) serve(x *exchange, body []byte) {
	ctx := x.r.Context()
	switch x.method {
	case transport.MethodProbe:
		rep, err := h.probe(ctx)
		h.answer(x, probeAnswer{ProbeReport: rep, UDPPort: h.udpPort()}, err)
	case transport.MethodInventory:
		f, err := h.agent.Inventory(ctx)
		if err == nil && !validFacts(f) {
			err = errors.New("inventory holds text that is not valid UTF-8")
		}
		h.answer(x, f, err)
	case transport.MethodTakeover:
		var o transport.TakeoverOrder
		if h.decode(x, body, &o) {
			h.answer(x, nil, h.agent.Takeover(ctx, o))
		}
	case transport.MethodRelease:
		var o transport.ReleaseOrder
		if h.decode(x, body, &o) {
			h.answer(x, nil, h.agent.Release(ctx, o))
		}
	case transport.MethodStandDown:
		var o transport.StandDownOrder
		if h.decode(x, body, &o) {
			h.answer(x, nil, h.agent.StandDown(ctx, o))
		}
	case transport.MethodResume:
		var o transport.ResumeOrder
		if h.decode(x, body, &o) {
			h.answer(x, nil, h.agent.Resume(ctx, o))
		}
	}
}

// probe asks the agent for its report and checks that it can cross the
// wire faithfully.
func (h *handler) probe(ctx context.Context) (transport.ProbeReport, error) {
	rep, err := h.agent.Probe(ctx)
	if err == nil && !validReport(rep) {
		err = errors.New("probe report holds text that is not valid UTF-8")
	}
	return rep, err
}

// udpPort is the port of the handler's UDP probe channel, 0 if it has none.
func (h *handler) udpPort() uint16 { return uint16(h.probePort.Load()) }

// decode reads body into the order v points to, strictly, and validates it,
// answering the request and returning false on failure.
func (h *handler) decode(x *exchange, body []byte, v interface{ Validate() error }) bool {
	err := decodeStrict(body, v)
	x.release() // the body is not needed once decoded
	if err != nil {
		h.fail(x, CodeBadRequest, "decoding the order: "+err.Error())
		return false
	}
	if err := v.Validate(); err != nil {
		h.fail(x, CodeInvalidOrder, err.Error())
		return false
	}
	return true
}

// answer writes the agent's result: out as JSON (200) or nothing (204) on
// success, the agent's error as an error body otherwise.
func (h *handler) answer(x *exchange, out any, err error) {
	if err != nil {
		h.agentFailed(x, err)
		return
	}
	if out == nil {
		h.reply(x, http.StatusNoContent, nil)
		return
	}
	body, err := json.Marshal(out)
	if err != nil {
		h.fail(x, CodeAgentError, "encoding the answer: "+err.Error())
		return
	}
	h.reply(x, http.StatusOK, body)
}

// agentFailed maps an agent's error to an error body; see the package
// documentation.
func (h *handler) agentFailed(x *exchange, err error) { h.writeError(x, h.errorBody(err)) }

// errorBody is the error body of an agent's error, whichever channel
// carries it.
func (h *handler) errorBody(err error) ErrorBody {
	var (
		stale     *transport.StaleEpochError
		staleTerm *transport.StaleTermError
	)
	switch {
	case errors.As(err, &staleTerm):
		return ErrorBody{Code: CodeStaleTerm, Message: err.Error(), GotTerm: staleTerm.Got, NewestTerm: staleTerm.Newest}
	case errors.As(err, &stale):
		return ErrorBody{Code: CodeStaleEpoch, Message: err.Error(), Key: stale.Key, Got: stale.Got, Newest: stale.Newest}
	case errors.Is(err, transport.ErrInvalidOrder):
		return ErrorBody{Code: CodeInvalidOrder, Message: err.Error()}
	case errors.Is(err, transport.ErrUnreachable), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return ErrorBody{Code: CodeUnavailable, Message: err.Error()}
	default:
		b := ErrorBody{Code: CodeAgentError, Message: err.Error()}
		for _, r := range h.reasons {
			if errors.Is(err, r.Err) {
				b.Reason = r.Code
				break
			}
		}
		return b
	}
}

func (h *handler) fail(x *exchange, code, message string) {
	h.writeError(x, ErrorBody{Code: code, Message: message})
}

func (h *handler) writeError(x *exchange, b ErrorBody) {
	b.Message = clip(b.Message)
	status := codeStatus[b.Code]
	level := slog.LevelInfo
	switch b.Code {
	case CodeUnauthenticated, CodeReplayed, CodeWrongServer, CodeBadRequest, CodeTooLarge:
		level = slog.LevelWarn
	}
	if x.key == nil {
		// Not authenticated: anyone can send this, as fast as they like.
		h.refusals.add(refusal{level: level, code: b.Code, message: b.Message, remote: x.r.RemoteAddr, path: x.path})
	} else {
		h.log.LogAttrs(x.r.Context(), level, "request refused",
			slog.String("path", x.path), slog.String("remote", x.r.RemoteAddr),
			slog.Int("status", status), slog.String("code", b.Code), slog.String("message", b.Message))
	}
	body, err := json.Marshal(b)
	if err != nil { // cannot happen: every field is a string or a number
		body = []byte(`{"code":"agent_error","message":"encoding the error"}`)
		status = http.StatusInternalServerError
	}
	h.reply(x, status, body)
}

// aLongTimeAgo is a deadline that has passed.
var aLongTimeAgo = time.Unix(1, 0)

// reply writes status and body, signed if the request was authenticated.
func (h *handler) reply(x *exchange, status int, body []byte) {
	hdr := x.w.Header()
	if body != nil {
		hdr.Set("Content-Type", "application/json")
	}
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	if x.key != nil {
		hdr.Set(HeaderKeyID, x.key.ID)
		hdr.Set(HeaderSignature, sign(x.key.Secret, responseCanonical(status, x.path, x.server, x.key.ID, x.nonce, body)))
	} else {
		// A request that was not authenticated does not keep its
		// connection: a client that sends them cannot hold one idle. What
		// it has not sent of its body is not waited for either (net/http
		// would read on, to reuse the connection): reads end now.
		hdr.Set("Connection", "close")
		_ = http.NewResponseController(x.w).SetReadDeadline(aLongTimeAgo)
	}
	x.w.WriteHeader(status)
	if len(body) > 0 {
		_, _ = x.w.Write(body)
	}
}

// clip makes s valid UTF-8 of at most maxMessageBytes bytes.
func clip(s string) string { return clipTo(s, maxMessageBytes) }

// clipTo makes s valid UTF-8 of at most n bytes, and an ellipsis if cut.
func clipTo(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func validReport(r transport.ProbeReport) bool {
	return utf8.ValidString(string(r.Server)) && utf8.ValidString(string(r.Covering))
}

func validFacts(f nvrha.Facts) bool {
	if !utf8.ValidString(string(f.ID)) || !utf8.ValidString(f.Name) || !utf8.ValidString(string(f.Product)) {
		return false
	}
	for _, c := range f.Cameras {
		if !utf8.ValidString(string(c)) {
			return false
		}
	}
	for _, s := range f.RecordingSpaces {
		if !utf8.ValidString(s.Name) {
			return false
		}
	}
	return true
}
