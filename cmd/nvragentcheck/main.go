// Command nvragentcheck checks a live agent against the nvrha agent
// protocol (docs/agent-protocol.md, docs/openapi.yaml), from the center's
// side: what a vendor runs against its own agent before a center relies on
// it.
//
//	nvragentcheck -url http://10.0.0.11:7443 -id rec-1 -secret-file center.key
//	nvragentcheck -url https://... -id standby-1 -secret-file k -ca ca.pem -cert c.pem -key c.key
//	nvragentcheck -url http://10.0.0.12:7443 -id standby-1 -secret-file k -semantics -fencing
//
// It probes the agent (over UDP where offered, and over HTTP), reads its
// inventory, checks that responses are signed, that a probe over UDP
// (where the agent advertises udp_port) is signed and reports what HTTP
// does, and that the agent refuses what it must: a wrong key, an unsigned
// request, a replayed nonce, a request for another server, a garbled body,
// a malformed order, an unknown path and a wrong method, each with the
// protocol's error code. It checks the limits: a body one byte over
// -max-body (1 MiB) is 413, one of exactly -max-body is read (and refused
// as 400 bad_request, since it is not JSON), a probe with a body is 413,
// request headers 1 KiB over -max-header (16 KiB) are 431, a timestamp
// further than -max-skew (30 s) from now either way is 401, and one a
// third of it ahead is accepted. None of these changes the agent's state.
//
// -semantics checks what orders do, as the center gives them, and changes
// what the agent records while it runs. On a standby (an inventory with no
// cameras) it orders a takeover of -peer (by default a made-up
// nvragentcheck-<random>, with made-up cameras) and checks that a probe,
// over HTTP and over UDP, shows it covering at the order's epoch; sends the
// same takeover again (a retry, accepted, changing nothing); releases with
// a newer epoch and checks it covers nobody; sends the takeover again late,
// with its older epoch (refused, 409 stale_epoch, changing nothing); and
// the release again. On a recording server it does the same with
// stand-down and resume, a takeover's and a failback's halves: the server
// stops recording its cameras between the two. The agent ends as it
// began, with the epochs used in its state; orders carry -term, raised to
// the newest term the agent has accepted if it refuses them as stale, and
// start above the newest epoch it has accepted.
//
// -fencing also checks epoch fencing with Release orders for a recording
// server that does not exist (nvragentcheck-<random>): harmless to the
// agent's recording, but it leaves those epochs in the agent's state. Its
// orders carry -term too, raised to the agent's own as -semantics does.
// -term-fencing N checks center-term fencing the same way: an order of term
// N+1 is accepted, one of term N (or none) is refused and keeps nothing,
// as a deposed center's must be. It leaves the agent's center term at N+1,
// so the agent then refuses orders of a lower term: give N at or above the
// term of the center that will command it (0, the default, skips it). Each
// check prints PASS, FAIL or SKIP (a check that does not apply, such as
// UDP for an agent without it); the exit status is 1 if any failed.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/httptransport"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "nvragentcheck:", err)
		os.Exit(1)
	}
}

// errFailed is returned when a check failed; the checks said which.
var errFailed = errors.New("some checks failed")

type options struct {
	url, id, keyID, secretFile string
	ca, cert, key              string
	fencing                    bool
	termFencing                uint64
	timeout                    time.Duration
	limits                     limits
	semantics                  bool
	peer                       nvrha.ServerID
	term                       uint64
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("nvragentcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "", "the agent's base URL (required)")
	fs.StringVar(&o.id, "id", "", "the agent's server ID (required)")
	fs.StringVar(&o.keyID, "key-id", "center", "the shared key's ID")
	fs.StringVar(&o.secretFile, "secret-file", "", "file holding the shared secret (required)")
	fs.StringVar(&o.ca, "ca", "", "CA certificate of an https agent")
	fs.StringVar(&o.cert, "cert", "", "client certificate, for mutual TLS")
	fs.StringVar(&o.key, "key", "", "client key, for mutual TLS")
	fs.BoolVar(&o.fencing, "fencing", false, "also check epoch fencing (leaves epochs for a made-up recording server in the agent's state)")
	fs.Uint64Var(&o.termFencing, "term-fencing", 0, "also check center-term fencing with terms `N` and N+1 (leaves the agent's center term at N+1, so it refuses later orders of a lower term: use a term at or above your center's)")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Second, "longest wait for each call")
	fs.Int64Var(&o.limits.body, "max-body", httptransport.DefaultMaxBodyBytes, "the agent's largest accepted request body, in bytes")
	fs.IntVar(&o.limits.header, "max-header", httptransport.ServerMaxHeaderBytes, "the agent's largest accepted request line and headers, in bytes")
	fs.DurationVar(&o.limits.skew, "max-skew", httptransport.DefaultMaxSkew, "how far from the agent's clock a request's timestamp may be")
	fs.BoolVar(&o.semantics, "semantics", false, "also check what orders do: takeover and release on a standby, stand-down and resume on a recording server (changes what the agent records while it runs; leaves the epochs used in its state)")
	peer := fs.String("peer", "", "the recording server a standby takes over with -semantics (default: a made-up nvragentcheck-<random>)")
	fs.Uint64Var(&o.term, "term", 0, "the center term of -semantics and -fencing orders (raised to the agent's own if it has accepted a newer one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.limits.body < 1 || o.limits.body > 1<<30 || o.limits.header < 1 || o.limits.header > 1<<24 || o.limits.skew <= 0 {
		return errors.New("-max-body (1 to 1 GiB), -max-header (1 to 16 MiB) and -max-skew (above zero) must be sensible")
	}
	o.peer = nvrha.ServerID(*peer)
	if o.peer == "" {
		o.peer = madeUp()
	}
	if err := o.peer.Validate(); err != nil {
		return fmt.Errorf("-peer: %w", err)
	}
	if o.url == "" || o.id == "" || o.secretFile == "" {
		return errors.New("-url, -id and -secret-file are required")
	}
	if o.termFencing == math.MaxUint64 {
		return errors.New("-term-fencing: the term must leave room for one newer")
	}
	id := nvrha.ServerID(o.id)
	if err := id.Validate(); err != nil {
		return fmt.Errorf("-id: %w", err)
	}
	secret, err := os.ReadFile(o.secretFile)
	if err != nil {
		return err
	}
	key := httptransport.Key{ID: o.keyID, Secret: bytes.TrimRight(secret, "\r\n")}
	var tlsConf *tls.Config
	if o.ca != "" || o.cert != "" {
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
		if o.ca != "" {
			pem, err := os.ReadFile(o.ca)
			if err != nil {
				return err
			}
			tlsConf.RootCAs = x509.NewCertPool()
			if !tlsConf.RootCAs.AppendCertsFromPEM(pem) {
				return fmt.Errorf("-ca %s: no PEM certificate", o.ca)
			}
		}
		if o.cert != "" {
			c, err := tls.LoadX509KeyPair(o.cert, o.key)
			if err != nil {
				return err
			}
			tlsConf.Certificates = []tls.Certificate{c}
		}
	}
	if o.peer == id {
		return errors.New("-peer: a standby cannot take over itself")
	}
	k := &checker{ctx: ctx, out: stdout, id: id, key: key, base: strings.TrimRight(o.url, "/"), timeout: o.timeout, tls: tlsConf,
		hc: &http.Client{Transport: httptransport.NewHTTPTransport(tlsConf), Timeout: o.timeout}}
	newClient := func(verify, noUDP bool) (*httptransport.Client, error) {
		return httptransport.NewClient(httptransport.ClientConfig{
			Resolver:         httptransport.StaticResolver{id: k.base},
			Auth:             httptransport.Auth{Keys: []httptransport.Key{key}},
			TLSConfig:        tlsConf,
			VerifyResponses:  verify,
			DisableUDPProbes: noUDP,
			Timeout:          o.timeout,
		})
	}
	signed, err := newClient(true, false)
	if err != nil {
		return err
	}
	defer signed.Close()
	httpOnly, err := newClient(true, true)
	if err != nil {
		return err
	}
	defer httpOnly.Close()

	k.check("probe (UDP where offered) answers as "+o.id+", signed", func() error { return k.probe(signed) })
	k.check("probe over HTTP answers as "+o.id+", signed", func() error { return k.probe(httpOnly) })
	k.check("inventory describes "+o.id+" with valid facts", func() error {
		ctx, cancel := context.WithTimeout(ctx, o.timeout)
		defer cancel()
		f, err := signed.Inventory(ctx, id)
		if err != nil {
			return err
		}
		if f.ID != id {
			return fmt.Errorf("facts of %q", f.ID)
		}
		return f.Validate()
	})
	udpPort, udpErr := k.udpPort()
	udpName := "probe over UDP answers as " + o.id + ", signed, as over HTTP"
	switch {
	case udpErr != nil:
		k.check(udpName, func() error { return fmt.Errorf("reading udp_port from a probe over HTTP: %w", udpErr) })
	case udpPort == 0:
		k.skip(udpName, "the agent advertises no udp_port")
	default:
		k.check(fmt.Sprintf("probe over UDP (port %d) answers as %s, signed, as over HTTP", udpPort, o.id), func() error {
			return k.probeBoth(httpOnly, udpPort)
		})
	}
	k.check("a wrong key is refused (401 unauthenticated)", func() error {
		bad := httptransport.Key{ID: key.ID, Secret: []byte(strings.Repeat("x", httptransport.MinSecretBytes))}
		return k.expect(k.signed("probe", nil, id, bad), http.StatusUnauthorized, httptransport.CodeUnauthenticated)
	})
	k.check("an unsigned request is refused (401 unauthenticated)", func() error {
		req, _ := http.NewRequest("POST", k.base+httptransport.Path(transport.MethodProbe), nil)
		return k.expect(req, http.StatusUnauthorized, httptransport.CodeUnauthenticated)
	})
	k.check("a replayed request is refused (401 replayed)", func() error {
		req := k.signed("probe", nil, id, key)
		again := req.Clone(ctx)
		if err := k.expect(req, http.StatusOK, ""); err != nil {
			return fmt.Errorf("the first send: %w", err)
		}
		return k.expect(again, http.StatusUnauthorized, httptransport.CodeReplayed)
	})
	k.check("a request for another server is refused (421 wrong_server)", func() error {
		return k.expect(k.signed("probe", nil, id+"-not-me", key), http.StatusMisdirectedRequest, httptransport.CodeWrongServer)
	})
	k.check("a garbled body is refused (400 bad_request)", func() error {
		return k.expect(k.signed("release", []byte("{"), id, key), http.StatusBadRequest, httptransport.CodeBadRequest)
	})
	k.check("a malformed order is refused (400 invalid_order)", func() error {
		return k.expect(k.signed("release", []byte(`{"recording":"","epoch":1}`), id, key), http.StatusBadRequest, httptransport.CodeInvalidOrder)
	})
	k.check("an unknown path is 404 not_found", func() error {
		return k.expect(k.signed("no-such-call", nil, id, key), http.StatusNotFound, httptransport.CodeNotFound)
	})
	k.check("GET is 405 method_not_allowed", func() error {
		req := k.signed("probe", nil, id, key)
		req.Method = http.MethodGet
		return k.expect(req, http.StatusMethodNotAllowed, httptransport.CodeMethodNotAllowed)
	})
	k.checkLimits(o.limits)
	if o.semantics {
		// The inventory says which the server is: a standby has no cameras.
		ctx, cancel := context.WithTimeout(ctx, o.timeout)
		f, err := signed.Inventory(ctx, id)
		cancel()
		if err != nil {
			k.check("semantics: the inventory says whether the server is a standby or a recording server", func() error { return err })
		} else {
			s := &semantics{k: k, c: httpOnly, peer: o.peer, udpPort: udpPort, term: o.term}
			s.run(len(f.Cameras))
		}
	}
	if o.fencing {
		k.check("orders are fenced by epoch (release of a made-up recording server)", func() error { return k.fence(signed, o.term) })
	}
	if o.termFencing > 0 {
		k.check(fmt.Sprintf("orders are fenced by center term (%d, then %d)", o.termFencing+1, o.termFencing), func() error { return k.termFence(signed, o.termFencing) })
	}
	skipped := ""
	if k.skipped > 0 {
		skipped = fmt.Sprintf(", %d skipped", k.skipped)
	}
	fmt.Fprintf(stdout, "%d passed, %d failed%s\n", k.passed, k.failed, skipped)
	if k.failed > 0 {
		return errFailed
	}
	return nil
}

type checker struct {
	ctx            context.Context
	out            io.Writer
	id             nvrha.ServerID
	key            httptransport.Key
	base           string
	timeout        time.Duration
	hc             *http.Client
	tls            *tls.Config
	passed, failed int
	skipped        int
}

func (k *checker) check(name string, fn func() error) {
	if err := fn(); err != nil {
		k.failed++
		fmt.Fprintf(k.out, "FAIL %s: %v\n", name, err)
		return
	}
	k.passed++
	fmt.Fprintf(k.out, "PASS %s\n", name)
}

// skip reports a check that does not apply to the agent.
func (k *checker) skip(name, why string) {
	k.skipped++
	fmt.Fprintf(k.out, "SKIP %s: %s\n", name, why)
}

func (k *checker) probe(c *httptransport.Client) error {
	ctx, cancel := context.WithTimeout(k.ctx, k.timeout)
	defer cancel()
	r, err := c.Probe(ctx, k.id)
	if err != nil {
		return err
	}
	if r.Server != k.id {
		return fmt.Errorf("the report is for %q", r.Server)
	}
	return nil
}

// probeBoth probes over HTTP with c and over UDP on port, and checks that
// both report the same.
func (k *checker) probeBoth(c *httptransport.Client, port uint16) error {
	u, err := k.probeUDP(port)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(k.ctx, k.timeout)
	defer cancel()
	h, err := c.Probe(ctx, k.id)
	if err != nil {
		return fmt.Errorf("over HTTP: %w", err)
	}
	if u != h {
		return fmt.Errorf("over UDP %+v, over HTTP %+v", u, h)
	}
	return nil
}

// madeUp returns the ID of a recording server no real one is called.
func madeUp() nvrha.ServerID {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return nvrha.ServerID("nvragentcheck-" + hex.EncodeToString(b))
}

// signed builds a signed request by hand, as a misbehaving center or an
// attacker might.
func (k *checker) signed(method string, body []byte, server nvrha.ServerID, key httptransport.Key) *http.Request {
	return k.signedBy(method, body, server, key, time.Now())
}

// signedAt is a request signed at t by the checker's key, for the agent
// under test.
func (k *checker) signedAt(method string, body []byte, t time.Time) *http.Request {
	return k.signedBy(method, body, k.id, k.key, t)
}

func (k *checker) signedBy(method string, body []byte, server nvrha.ServerID, key httptransport.Key, t time.Time) *http.Request {
	req, _ := http.NewRequest("POST", k.base+httptransport.PathPrefix+method, bytes.NewReader(body))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	_ = httptransport.SignRequest(req, body, server, key, t)
	if body != nil {
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return req
}

// expect sends req and checks its status and, for an error, the code of
// its ErrorBody.
func (k *checker) expect(req *http.Request, status int, code string) error {
	res, err := k.do(req)
	if err != nil {
		return err
	}
	return judge(res.status, res.body, status, code)
}

// response is what do read of an answer.
type response struct {
	status int
	body   []byte
}

// do sends req and reads its answer's status and (the first 64 KiB of its)
// body.
func (k *checker) do(req *http.Request) (response, error) {
	if req.GetBody != nil {
		req.Body, _ = req.GetBody()
	}
	res, err := k.hc.Do(req.WithContext(k.ctx))
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	return response{res.StatusCode, raw}, nil
}

// judge checks an answer's status and, for an error, the code of its
// ErrorBody.
func judge(got int, raw []byte, status int, code string) error {
	if got != status {
		return fmt.Errorf("status %d, want %d: %.200s", got, status, bytes.TrimSpace(raw))
	}
	if code == "" {
		return nil
	}
	var eb httptransport.ErrorBody
	if err := json.Unmarshal(raw, &eb); err != nil {
		return fmt.Errorf("the body is not an ErrorBody: %q", raw)
	}
	if eb.Code != code {
		return fmt.Errorf("code %q, want %q (%s)", eb.Code, code, eb.Message)
	}
	return nil
}

// fence checks that a newer epoch is kept and an older one refused, with a
// recording server no real one is called. Its orders carry term, raised to
// the newest the agent has accepted if it refuses them as stale: an agent
// that has served a center with terms refuses orders without one, and
// epoch fencing is what this check is about.
func (k *checker) fence(c *httptransport.Client, term uint64) error {
	rec := madeUp()
	ctx, cancel := context.WithTimeout(k.ctx, 3*k.timeout)
	defer cancel()
	release := func(e nvrha.Epoch) error {
		return c.Release(ctx, k.id, transport.ReleaseOrder{Recording: rec, Epoch: e, Term: term})
	}
	err := release(2)
	if st := (*transport.StaleTermError)(nil); errors.As(err, &st) && st.Newest > term {
		term = st.Newest
		err = release(2)
	}
	if err != nil {
		return fmt.Errorf("release at epoch 2: %w", err)
	}
	err = release(1)
	var stale *transport.StaleEpochError
	if !errors.As(err, &stale) || stale.Newest != 2 || stale.Key != rec {
		return fmt.Errorf("release at epoch 1 after 2: %v, want a stale epoch naming %s and newest 2", err, rec)
	}
	if err := release(2); err != nil {
		return fmt.Errorf("release at epoch 2 again (a retry): %w", err)
	}
	return nil
}

// termFence checks that an order of an older center term is refused and
// changes nothing, and that the newest term is accepted again, with a
// recording server no real one is called. It leaves the agent's term at
// n+1.
func (k *checker) termFence(c *httptransport.Client, n uint64) error {
	rec := madeUp()
	ctx, cancel := context.WithTimeout(k.ctx, 4*k.timeout)
	defer cancel()
	if err := c.Release(ctx, k.id, transport.ReleaseOrder{Recording: rec, Epoch: 1, Term: n + 1}); err != nil {
		return fmt.Errorf("release at term %d: %w", n+1, err)
	}
	// An older term, with a newer epoch: refused for its term, and its
	// epoch not kept.
	err := c.Release(ctx, k.id, transport.ReleaseOrder{Recording: rec, Epoch: 3, Term: n})
	var stale *transport.StaleTermError
	if !errors.As(err, &stale) || stale.Got != n || stale.Newest < n+1 {
		return fmt.Errorf("release at term %d after %d: %v, want a stale term naming %d and newest %d or more", n, n+1, err, n, n+1)
	}
	if err := c.Release(ctx, k.id, transport.ReleaseOrder{Recording: rec, Epoch: 2, Term: n + 1}); err != nil {
		return fmt.Errorf("release at term %d, epoch 2 (the refused order kept its epoch 3?): %w", n+1, err)
	}
	err = c.Release(ctx, k.id, transport.ReleaseOrder{Recording: rec, Epoch: 4, Term: 0})
	if !errors.As(err, &stale) {
		return fmt.Errorf("release with no term after term %d: %v, want a stale term", n+1, err)
	}
	return nil
}
