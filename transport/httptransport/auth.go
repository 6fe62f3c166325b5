package httptransport

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"sync"
	"time"
)

// DefaultMaxSkew is how far a request's timestamp may lie from the handler's
// clock, either way, unless [Auth.MaxSkew] says otherwise.
const DefaultMaxSkew = 30 * time.Second

// MinSecretBytes is the shortest secret a [Key] may have.
const MinSecretBytes = 32

// DefaultMaxNonces is how many nonces a handler remembers at most unless
// [HandlerConfig.MaxNonces] says otherwise; see the package documentation.
const DefaultMaxNonces = 1 << 16

// ErrUnauthenticated is wrapped by the error a client returns when the agent
// refused the request as unauthenticated (CodeUnauthenticated): a wrong or
// unknown key, or clocks further apart than the allowed skew. The agent was
// not called.
var ErrUnauthenticated = errors.New("httptransport: request not authenticated")

// ErrResponseNotAuthentic is wrapped, together with
// transport.ErrUnreachable, by the error a client that verifies responses
// returns for a response without a valid signature: whatever it says cannot
// be trusted, so the outcome of the call is unknown.
var ErrResponseNotAuthentic = errors.New("httptransport: response signature missing or wrong")

// Key is one shared secret, named so that several can be in use at once.
type Key struct {
	// ID names the key on the wire: 1 to 64 characters of [A-Za-z0-9._-].
	ID string
	// Secret is at least MinSecretBytes bytes; make it with crypto/rand.
	Secret []byte
}

// Auth is the shared-secret configuration of a client or a handler.
//
// A client signs every request with Keys[0] and, when it verifies responses,
// accepts a response signed with any of Keys. A handler accepts a request
// signed with any of Keys and signs its response with the key that signed the
// request. To rotate keys: add the new key to every handler's Keys, then make
// it the client's Keys[0] (keeping the old one after it until every response
// in flight has arrived), then remove the old key everywhere.
type Auth struct {
	Keys []Key
	// MaxSkew is how far a request's timestamp may lie from the handler's
	// clock, either way; zero means DefaultMaxSkew. Nonces are remembered for
	// as long, so the window bounds both clock disagreement and memory.
	MaxSkew time.Duration
}

// NewKey returns a Key with id and a random secret of MinSecretBytes bytes.
func NewKey(id string) (Key, error) {
	k := Key{ID: id, Secret: make([]byte, MinSecretBytes)}
	if _, err := rand.Read(k.Secret); err != nil {
		return Key{}, err
	}
	return k, k.validate()
}

func (k Key) validate() error {
	if !validToken(k.ID, 1, 64, true) {
		return fmt.Errorf("httptransport: key ID %q: want 1 to 64 characters of [A-Za-z0-9._-]", k.ID)
	}
	if len(k.Secret) < MinSecretBytes {
		return fmt.Errorf("httptransport: key %s: secret of %d bytes, want at least %d", k.ID, len(k.Secret), MinSecretBytes)
	}
	return nil
}

// keyring is a validated copy of an Auth.
type keyring struct {
	sign    Key
	byID    map[string]Key
	maxSkew time.Duration
	// macs holds a macPool per key ID, for the client and the UDP probe
	// channel.
	macs map[string]*macPool
}

func newKeyring(a Auth) (*keyring, error) {
	if len(a.Keys) == 0 {
		return nil, errors.New("httptransport: no keys: every request must be authenticated")
	}
	if a.MaxSkew < 0 {
		return nil, fmt.Errorf("httptransport: negative MaxSkew %v", a.MaxSkew)
	}
	kr := &keyring{byID: make(map[string]Key, len(a.Keys)), maxSkew: a.MaxSkew, macs: make(map[string]*macPool, len(a.Keys))}
	if kr.maxSkew == 0 {
		kr.maxSkew = DefaultMaxSkew
	}
	for i, k := range a.Keys {
		if err := k.validate(); err != nil {
			return nil, err
		}
		if _, dup := kr.byID[k.ID]; dup {
			return nil, fmt.Errorf("httptransport: key ID %s listed twice", k.ID)
		}
		k.Secret = append([]byte(nil), k.Secret...)
		kr.byID[k.ID] = k
		kr.macs[k.ID] = newMACPool(k.Secret)
		if i == 0 {
			kr.sign = k
		}
	}
	return kr, nil
}

// validToken reports whether s is lo to hi characters of [A-Za-z0-9_-], and
// '.' too if dot.
func validToken[T string | []byte](s T, lo, hi int, dot bool) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		case c == '.' && dot:
		default:
			return false
		}
	}
	return true
}

// The first line of every canonical string, naming the scheme.
const (
	requestScheme  = "NVRHA1-HMAC-SHA256"
	responseScheme = "NVRHA1-HMAC-SHA256-RESPONSE"
)

// signedRequest holds the fields a request signature covers.
type signedRequest struct {
	method, path, server, keyID, timestamp, nonce string
	body                                          []byte
	// fullPath is the path the request goes to, path with the base URL's
	// prefix in front; the signature does not cover it.
	fullPath string
}

// canonical is the string a request signature is computed over: the scheme
// and the fields, one per line, the body as the hex SHA-256 of its bytes. No
// field may hold a line break; the handler checks that each is well formed
// before it verifies anything.
func (s signedRequest) canonical() []byte { return s.appendCanonical(nil) }

// appendCanonical appends the canonical string to b.
func (s *signedRequest) appendCanonical(b []byte) []byte {
	b = append(b, requestScheme...)
	for _, f := range [...]string{s.method, s.path, s.server, s.keyID, s.timestamp, s.nonce} {
		b = append(b, '\n')
		b = append(b, f...)
	}
	b = append(b, '\n')
	return appendBodyHash(b, s.body)
}

// responseCanonical is the string a response signature is computed over. It
// binds the response to its request by the request's path, server and nonce.
func responseCanonical(status int, path, server, keyID, nonce string, body []byte) []byte {
	return appendResponseCanonical(nil, status, path, server, keyID, nonce, body)
}

// appendResponseCanonical appends the canonical string of a response to b.
func appendResponseCanonical(b []byte, status int, path, server, keyID, nonce string, body []byte) []byte {
	b = append(b, responseScheme...)
	b = append(b, '\n')
	b = strconv.AppendInt(b, int64(status), 10)
	for _, f := range [...]string{path, server, keyID, nonce} {
		b = append(b, '\n')
		b = append(b, f...)
	}
	b = append(b, '\n')
	return appendBodyHash(b, body)
}

// emptyBodyHash is the hex SHA-256 of no bytes, the body hash of every
// probe and inventory request.
var emptyBodyHash = func() string {
	sum := sha256.Sum256(nil)
	return hex.EncodeToString(sum[:])
}()

// appendBodyHash appends the lower-case hex SHA-256 of body to b.
func appendBodyHash(b, body []byte) []byte {
	if len(body) == 0 {
		return append(b, emptyBodyHash...)
	}
	sum := sha256.Sum256(body)
	return hex.AppendEncode(b, sum[:])
}

func mac(secret, msg []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write(msg)
	return h.Sum(nil)
}

// sign returns the lower-case hex HMAC-SHA256 of msg.
func sign(secret, msg []byte) string { return hex.EncodeToString(mac(secret, msg)) }

// verify reports whether sig is the hex HMAC-SHA256 of msg, in constant time.
func verify(secret, msg []byte, sig string) bool {
	if len(sig) != 2*sha256.Size {
		return false
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	return hmac.Equal(got, mac(secret, msg))
}

// macPool computes HMAC-SHA256 under one secret for the client, without
// allocating: it keeps keyed HMAC states (whose Reset costs no key schedule)
// with a buffer for the canonical strings. Safe for concurrent use.
type macPool struct{ pool sync.Pool }

type macState struct {
	h   hash.Hash
	buf []byte
	sum [sha256.Size]byte
	hex [2 * sha256.Size]byte
}

func newMACPool(secret []byte) *macPool {
	secret = append([]byte(nil), secret...)
	p := &macPool{}
	p.pool.New = func() any {
		return &macState{h: hmac.New(sha256.New, secret), buf: make([]byte, 0, 256)}
	}
	return p
}

func (p *macPool) get() *macState { return p.pool.Get().(*macState) }

func (p *macPool) put(st *macState) {
	if cap(st.buf) > 4096 { // an outsized server ID or path: do not keep it
		st.buf = make([]byte, 0, 256)
	}
	p.pool.Put(st)
}

// mac computes the HMAC of msg into st.sum.
func (st *macState) mac(msg []byte) {
	st.h.Reset()
	st.h.Write(msg)
	st.h.Sum(st.sum[:0])
}

// signRequest returns the hex signature of s, as sign(secret, s.canonical())
// would.
func (p *macPool) signRequest(s *signedRequest) string {
	st := p.get()
	defer p.put(st)
	st.buf = s.appendCanonical(st.buf[:0])
	st.mac(st.buf)
	hex.Encode(st.hex[:], st.sum[:])
	return string(st.hex[:])
}

// verifyResponse reports whether sig is the hex signature of the response
// described by the other arguments, as verify(secret, responseCanonical(...),
// sig) would, in constant time.
func (p *macPool) verifyResponse(sig string, status int, path, server, keyID, nonce string, body []byte) bool {
	if len(sig) != 2*sha256.Size {
		return false
	}
	st := p.get()
	defer p.put(st)
	var got [sha256.Size]byte
	for i := range got {
		hi, ok1 := fromHexChar(sig[2*i])
		lo, ok2 := fromHexChar(sig[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		got[i] = hi<<4 | lo
	}
	st.buf = appendResponseCanonical(st.buf[:0], status, path, server, keyID, nonce, body)
	st.mac(st.buf)
	return hmac.Equal(got[:], st.sum[:])
}

// appendMAC appends the HMAC-SHA256 of msg to b; msg may be part of b.
func (p *macPool) appendMAC(b, msg []byte) []byte {
	st := p.get()
	defer p.put(st)
	st.mac(msg)
	return append(b, st.sum[:]...)
}

// verifyMAC reports whether mac is the HMAC-SHA256 of msg, in constant time.
func (p *macPool) verifyMAC(msg, mac []byte) bool {
	if len(mac) != sha256.Size {
		return false
	}
	st := p.get()
	defer p.put(st)
	st.mac(msg)
	return hmac.Equal(mac, st.sum[:])
}

// fromHexChar decodes one hex digit of either case, as hex.DecodeString does.
func fromHexChar(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// newNonce returns 16 random bytes in unpadded base64url.
func newNonce() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// parseTimestamp reads whole Unix seconds written as 1 to 19 decimal digits,
// with no sign.
func parseTimestamp(s string) (time.Time, bool) {
	if len(s) == 0 || len(s) > 19 {
		return time.Time{}, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// nonceCache remembers the nonces of accepted requests until their timestamp
// falls out of the skew window, after which a copy would be refused for its
// timestamp anyway. It holds at most max nonces: a request that would need
// more is refused (as unavailable) rather than remembered less long.
type nonceCache struct {
	mu        sync.Mutex
	expiry    map[string]time.Time // nonce → when it may be forgotten
	max       int
	sweepEach time.Duration
	nextSweep time.Time
}

func newNonceCache(limit int, window time.Duration) *nonceCache {
	return &nonceCache{expiry: make(map[string]time.Time), max: limit, sweepEach: max(window/4, time.Second)}
}

// errNoncesFull is returned by add when the cache is full of live nonces.
var errNoncesFull = errors.New("too many requests within the replay window")

// errReplayed is returned by add for a nonce already remembered.
var errReplayed = errors.New("nonce already used within the replay window")

// add remembers nonce until expires, or fails if it is remembered already
// (errReplayed) or the cache is full (errNoncesFull).
func (c *nonceCache) add(nonce string, expires, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if exp, seen := c.expiry[nonce]; seen && !now.After(exp) {
		return errReplayed
	}
	if !now.Before(c.nextSweep) || len(c.expiry) >= c.max {
		c.sweep(now)
	}
	if len(c.expiry) >= c.max {
		return errNoncesFull
	}
	c.expiry[nonce] = expires
	return nil
}

// seen reports whether nonce is remembered, and not yet expired, at now.
func (c *nonceCache) seen(nonce string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.expiry[nonce]
	return ok && !now.After(exp)
}

func (c *nonceCache) sweep(now time.Time) {
	for n, exp := range c.expiry {
		if now.After(exp) {
			delete(c.expiry, n)
		}
	}
	c.nextSweep = now.Add(c.sweepEach)
}

func (c *nonceCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.expiry)
}
