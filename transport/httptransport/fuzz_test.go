package httptransport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/agenttest"
)

// The fuzz targets run their seeds as ordinary tests; scripts/fuzz runs each
// with -fuzz for a while. Seeds are real requests, signed as a client signs
// them, so that the fuzzer starts past authentication.

// checkResponse checks what every response must be: a status the protocol
// uses and, for an error, an ErrorBody whose code goes with that status.
func checkResponse(t *testing.T, status int, hdr http.Header, body []byte) ErrorBody {
	t.Helper()
	switch status {
	case http.StatusOK:
		if !json.Valid(body) {
			t.Fatalf("200 with a body that is not JSON: %q", body)
		}
		return ErrorBody{}
	case http.StatusNoContent:
		if len(body) != 0 {
			t.Fatalf("204 with a body: %q", body)
		}
		return ErrorBody{}
	}
	var b ErrorBody
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("%d with a body that is not an ErrorBody: %v: %q", status, err, body)
	}
	if want, ok := codeStatus[b.Code]; !ok || want != status {
		t.Fatalf("%d with code %q", status, b.Code)
	}
	if hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("error with Content-Type %q", hdr.Get("Content-Type"))
	}
	return b
}

func FuzzHandlerTakeover(f *testing.F) {
	for _, o := range []transport.TakeoverOrder{
		{Recording: "rec-1", Epoch: 1, Cameras: []nvrha.CameraID{"cam-1", "cam-2"}},
		{Recording: "rec-1", Epoch: ^nvrha.Epoch(0), Cameras: []nvrha.CameraID{}},
		{Recording: "Entrée «Nord»", Epoch: 7, Cameras: []nvrha.CameraID{"カメラ-3"}},
		{Recording: "standby-1", Epoch: 2},
		{Recording: "rec-1", Epoch: 0},
	} {
		b, _ := json.Marshal(o)
		f.Add(b)
	}
	for _, s := range []string{``, `null`, `{}`, `{"epoch":1}`, `{"recording":"rec-1","epoch":1,"cameras":["a","a"]}`,
		`{"recording":"rec-1","epoch":1,"x":1}`, `{"recording":"rec-1","epoch":1e2}`, `{"recording":"\u0000","epoch":1}`,
		`{"recording":"rec-1","epoch":1}{}`, `{"recording":"rec-1","epoch":1,"cameras":null}`,
		`{"Recording":"rec-1","epoch":1}`, `{"recording":"rec-1","epoch":1,"epoch":2}`, `{"recording":"rec-\udc00","epoch":1}`,
		"{\"recording\":\"rec-\xff\",\"epoch\":1}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fx := newInternalFixture(t, HandlerConfig{})
		w := fx.serve(fx.request(transport.MethodTakeover, body))
		b := checkResponse(t, w.Code, w.Header(), w.Body.Bytes())
		covering, cameras := fx.agent.Covering()
		if w.Code != http.StatusNoContent {
			if covering != "" {
				t.Fatalf("refused takeover (%d %s) left the standby covering %q", w.Code, b.Code, covering)
			}
			return
		}
		var o transport.TakeoverOrder
		if err := decodeStrict(body, &o); err != nil {
			t.Fatalf("accepted a body that does not decode: %v", err)
		}
		if err := o.Validate(); err != nil {
			t.Fatalf("accepted an invalid order: %v", err)
		}
		if covering != o.Recording || len(cameras) != len(o.Cameras) || fx.agent.Newest(o.Recording) != o.Epoch {
			t.Fatalf("accepted %+v, standby covers %q %v at %d", o, covering, cameras, fx.agent.Newest(o.Recording))
		}
	})
}

// FuzzHandlerOrders sends any body to any path of the protocol.
func FuzzHandlerOrders(f *testing.F) {
	for i, m := range routes {
		o := transport.Call{Order: nil}
		switch m {
		case transport.MethodTakeover:
			o.Order = transport.TakeoverOrder{Recording: "rec-1", Epoch: 3, Cameras: []nvrha.CameraID{"c"}}
		case transport.MethodRelease:
			o.Order = transport.ReleaseOrder{Recording: "rec-1", Epoch: 3}
		case transport.MethodStandDown:
			o.Order = transport.StandDownOrder{Epoch: 3}
		case transport.MethodResume:
			o.Order = transport.ResumeOrder{Epoch: 3}
		}
		var b []byte
		if o.Order != nil {
			b, _ = json.Marshal(o.Order)
		}
		f.Add(uint8(i), b)
		f.Add(uint8(i), []byte(`{"epoch":0}`))
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		fx := newInternalFixture(t, HandlerConfig{})
		m := routes[int(route)%len(routes)]
		w := fx.serve(fx.request(m, body))
		b := checkResponse(t, w.Code, w.Header(), w.Body.Bytes())
		if b.Code == CodeUnauthenticated || b.Code == CodeReplayed || b.Code == CodeNotFound {
			t.Fatalf("a signed request to %s got %s", Path(m), b.Code)
		}
	})
}

// countingAgent counts the calls that reach the agent it wraps.
type countingAgent struct {
	transport.Agent
	calls atomic.Int64
}

func (a *countingAgent) Probe(ctx context.Context) (transport.ProbeReport, error) {
	a.calls.Add(1)
	return a.Agent.Probe(ctx)
}

func (a *countingAgent) Takeover(ctx context.Context, o transport.TakeoverOrder) error {
	a.calls.Add(1)
	return a.Agent.Takeover(ctx, o)
}

// FuzzHandlerAuth sends requests with any headers, path and body, and checks
// that the agent is called only for a request whose signature is right, and
// that every other request is refused as unauthenticated (or earlier, for its
// path or size).
func FuzzHandlerAuth(f *testing.F) {
	fx := newInternalFixture(f, HandlerConfig{})
	body := []byte(`{"recording":"rec-1","epoch":1,"cameras":["cam-1"]}`)
	r := fx.request(transport.MethodTakeover, body)
	h := func(name string) string { return r.Header.Get(name) }
	f.Add("POST", Path(transport.MethodTakeover), h(HeaderKeyID), h(HeaderTimestamp), h(HeaderNonce), h(HeaderServer), h(HeaderSignature), body)
	p := fx.request(transport.MethodProbe, nil)
	f.Add("POST", Path(transport.MethodProbe), p.Header.Get(HeaderKeyID), p.Header.Get(HeaderTimestamp), p.Header.Get(HeaderNonce),
		p.Header.Get(HeaderServer), p.Header.Get(HeaderSignature), []byte(nil))
	f.Add("POST", Path(transport.MethodTakeover), "center-2026", "1767254400", "AAAAAAAAAAAAAAAAAAAAAA", "standby-1", strings.Repeat("0", 64), body)
	f.Add("GET", "/nvrha/v1/probe", "", "", "", "", "", []byte{})
	f.Add("POST", "/nvrha/v1/takeover", "center-2026", "+1767254400", "AAAAAAAAAAAAAAAAAAAAAA", "standby%2", "zz", body)
	f.Fuzz(func(t *testing.T, method, path, keyID, ts, nonce, server, sig string, body []byte) {
		fx := newInternalFixture(t, HandlerConfig{})
		agent := &countingAgent{Agent: fx.agent}
		h, err := NewHandler(agent, HandlerConfig{Server: "standby-1", Auth: Auth{Keys: []Key{internalKey}}, MaxBodyBytes: 4 << 10, Now: func() time.Time { return fx.now }})
		if err != nil {
			t.Fatal(err)
		}
		req := (&http.Request{
			Method:        method,
			URL:           &url.URL{Path: path},
			Header:        http.Header{},
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)),
			RemoteAddr:    "192.0.2.1:1234",
		}).WithContext(context.Background())
		for name, v := range map[string]string{HeaderKeyID: keyID, HeaderTimestamp: ts, HeaderNonce: nonce, HeaderServer: server, HeaderSignature: sig} {
			if v != "" {
				req.Header.Set(name, v)
			}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		b := checkResponse(t, w.Code, w.Header(), w.Body.Bytes())

		msg := signedRequest{method: method, path: path, server: server, keyID: keyID, timestamp: ts, nonce: nonce, body: body}
		authentic := keyID == internalKey.ID && verify(internalKey.Secret, msg.canonical(), sig)
		if agent.calls.Load() > 0 && !authentic {
			t.Fatalf("the agent was called for a request that is not authentic (%d %s)", w.Code, b.Code)
		}
		switch b.Code {
		case CodeUnauthenticated, CodeNotFound, CodeMethodNotAllowed, CodeTooLarge:
		default:
			if !authentic {
				t.Fatalf("a request that is not authentic got %d %q", w.Code, b.Code)
			}
		}
		if w.Header().Get(HeaderSignature) != "" && !authentic {
			t.Fatal("a response to a request that is not authentic is signed")
		}
		if _, err := strconv.ParseInt(ts, 10, 64); err != nil && authentic && w.Code < 300 {
			t.Fatalf("accepted timestamp %q", ts)
		}
	})
}

// FuzzDecodeError feeds the client's error decoding any answer.
func FuzzDecodeError(f *testing.F) {
	for _, b := range []ErrorBody{
		{Code: CodeStaleEpoch, Message: "transport: stale epoch 6 for rec-1: already accepted 7", Key: "rec-1", Got: 6, Newest: 7},
		{Code: CodeStaleTerm, Message: "transport: stale center term 2: already accepted term 3", GotTerm: 2, NewestTerm: 3},
		{Code: CodeInvalidOrder, Message: "transport: invalid order: takeover: epoch is zero"},
		{Code: CodeAgentError, Message: "busy", Reason: "busy"},
		{Code: CodeUnavailable, Message: "crashed"},
		{Code: CodeUnauthenticated, Message: "signature does not match"},
	} {
		raw, _ := json.Marshal(b)
		f.Add(codeStatus[b.Code], "application/json", raw)
	}
	f.Add(502, "text/html", []byte("<html>bad gateway</html>"))
	f.Add(409, "application/json; charset=utf-8", []byte(`{"code":"stale_epoch","got":-1}`))
	f.Add(500, "application/json", []byte(`{"code":"agent_error","reason":"no_such_reason"}`))
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		hdr := contentType
		reasons := map[string]error{"busy": errBusyForFuzz}
		err := decodeError("rec-1", transport.MethodTakeover, status, hdr, body, reasons)
		if err == nil {
			t.Fatal("no error for an error response")
		}
		_ = err.Error()
		b, ok := parseErrorBody(hdr, body)
		if !ok {
			if !errors.Is(err, transport.ErrUnreachable) {
				t.Fatalf("an answer not of the protocol is not unreachable: %v", err)
			}
			return
		}
		var se *transport.StaleEpochError
		if errors.As(err, &se) != (b.Code == CodeStaleEpoch) {
			t.Fatalf("code %s, stale epoch error %v", b.Code, se)
		}
		if se != nil && (se.Got != b.Got || se.Newest != b.Newest || se.Key != b.Key) {
			t.Fatalf("stale epoch %+v from %+v", *se, b)
		}
		var st *transport.StaleTermError
		if errors.As(err, &st) != (b.Code == CodeStaleTerm) {
			t.Fatalf("code %s, stale term error %v", b.Code, st)
		}
		if st != nil && (st.Got != b.GotTerm || st.Newest != b.NewestTerm) {
			t.Fatalf("stale term %+v from %+v", *st, b)
		}
		if errors.Is(err, errBusyForFuzz) != (b.Code == CodeAgentError && b.Reason == "busy") {
			t.Fatalf("reason %q of %s, errors.Is busy: %v", b.Reason, b.Code, errors.Is(err, errBusyForFuzz))
		}
		if !strings.Contains(err.Error(), b.Message) {
			t.Fatalf("error %q lost the message %q", err, b.Message)
		}
	})
}

var errBusyForFuzz = errors.New("busy")

// roundTripFunc answers requests without a network.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// FuzzClientResponse feeds a client any answer to a probe, an inventory and
// a takeover, signed or not.
func FuzzClientResponse(f *testing.F) {
	f.Add(200, "application/json", []byte(`{"server":"rec-1","healthy":true,"epoch":3}`), true)
	f.Add(200, "application/json", []byte(`{"id":"rec-1","cameras":["a"],"recording_spaces":[{"name":"v","empty":true}]}`), false)
	f.Add(204, "", []byte{}, true)
	f.Add(409, "application/json", []byte(`{"code":"stale_epoch","message":"m","key":"rec-1","got":1,"newest":2}`), true)
	f.Add(302, "text/plain", []byte("elsewhere"), false)
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte, signIt bool) {
		if status < 100 || status > 999 {
			return // net/http itself refuses such a status line
		}
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			hdr := http.Header{}
			if contentType != "" {
				hdr.Set("Content-Type", contentType)
			}
			if signIt {
				hdr.Set(HeaderKeyID, internalKey.ID)
				hdr.Set(HeaderSignature, sign(internalKey.Secret, responseCanonical(status, r.URL.Path, r.Header.Get(HeaderServer),
					internalKey.ID, r.Header.Get(HeaderNonce), body)))
			}
			return &http.Response{StatusCode: status, Header: hdr, Body: io.NopCloser(bytes.NewReader(body)), Request: r}, nil
		})
		for _, verify := range []bool{false, true} {
			c, err := NewClient(ClientConfig{
				Resolver:        StaticResolver{"rec-1": "http://192.0.2.1"},
				Auth:            Auth{Keys: []Key{internalKey}},
				HTTPClient:      &http.Client{Transport: rt},
				VerifyResponses: verify,
				// A fuzzed answer may offer a UDP port; nothing may be
				// sent to the address above.
				DisableUDPProbes: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			_, perr := c.Probe(ctx, "rec-1")
			_, ierr := c.Inventory(ctx, "rec-1")
			terr := c.Takeover(ctx, "rec-1", transport.TakeoverOrder{Recording: "rec-2", Epoch: 1})
			ok := status >= 200 && status <= 299 && (!verify || signIt)
			for _, err := range []error{perr, ierr, terr} {
				if err != nil && ok && !errors.Is(err, transport.ErrUnreachable) {
					t.Fatalf("a 2xx answer failed as a refusal: %v", err)
				}
			}
			if terr == nil && !ok {
				t.Fatalf("takeover succeeded on %d (verify %v, signed %v)", status, verify, signIt)
			}
			if verify && !signIt && (perr == nil || ierr == nil || terr == nil) {
				t.Fatal("a verifying client accepted an unsigned answer")
			}
		}
	})
}

// FuzzProbeDatagrams feeds the UDP probe channel's decoders any bytes: none
// panics, and what one accepts is exactly what its encoder writes, so no
// two datagrams decode alike.
func FuzzProbeDatagrams(f *testing.F) {
	nonce := [nonceSize]byte{7}
	req := appendProbeRequest(nil, internalKey.ID, "standby-1", 1767254400, &nonce, 200)
	f.Add(newMACPool(internalKey.Secret).appendMAC(req, req))
	report := appendReport(nil, transport.ProbeReport{Server: "standby-1", Healthy: true, Covering: "rec-«1»", Epoch: 9})
	f.Add(report)
	ans := appendProbeAnswer(nil, internalKey.ID, []byte("standby-1"), &nonce, 200, report)
	f.Add(newMACPool(internalKey.Secret).appendMAC(ans, ans))
	ans = appendProbeAnswer(nil, internalKey.ID, []byte("standby-1"), &nonce, 409, []byte(`{"code":"stale_epoch","message":"m"}`))
	f.Add(newMACPool(internalKey.Secret).appendMAC(ans, ans))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, ok := parseProbeRequest(b); ok {
			again := appendProbeRequest(nil, string(r.keyID), nvrha.ServerID(r.server), r.timestamp, &r.nonce, r.waitMillis)
			if !bytes.Equal(append(again, r.mac...), b) || !bytes.Equal(r.signed, again) {
				t.Fatalf("request %x re-encodes as %x", b, again)
			}
		}
		if a, ok := parseProbeAnswer(b); ok {
			again := appendProbeAnswer(nil, string(a.keyID), a.server, &a.nonce, a.status, a.body)
			if !bytes.Equal(append(again, a.mac...), b) || !bytes.Equal(a.signed, again) {
				t.Fatalf("answer %x re-encodes as %x", b, again)
			}
		}
		if rep, ok := parseReport(b, "standby-1"); ok {
			if again := appendReport(nil, rep); !bytes.Equal(again, b) {
				t.Fatalf("report %x re-encodes as %x", b, again)
			}
		}
	})
}

// FuzzProbeListenerAuth sends the probe channel any datagram, and checks
// that it accepts only a request signed with the handler's key, for its
// server, within the clock skew, with a nonce it has not seen.
func FuzzProbeListenerAuth(f *testing.F) {
	now := time.Unix(1767254400, 0)
	a := agenttest.New(nvrha.Facts{ID: "standby-1", Product: nvrha.ProductQVRPro})
	clock := now.Add(-time.Hour) // the handler has been running for an hour
	h, err := NewHandler(a, HandlerConfig{Server: "standby-1", Auth: Auth{Keys: []Key{internalKey}}, Now: func() time.Time { return clock }})
	if err != nil {
		f.Fatal(err)
	}
	clock = now
	l, err := ListenProbes("127.0.0.1:0", h)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = l.Close() })
	for i := range 3 {
		nonce := [nonceSize]byte{byte(i)}
		req := appendProbeRequest(nil, internalKey.ID, "standby-1", uint64(now.Unix())-uint64(i*20), &nonce, 200)
		f.Add(newMACPool(internalKey.Secret).appendMAC(req, req))
	}
	f.Add([]byte(datagramMagic + "\x01"))
	from := netip.MustParseAddrPort("127.0.0.1:9")
	mac := newMACPool(internalKey.Secret)
	seen := map[[nonceSize]byte]bool{}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, parsed := parseProbeRequest(b)
		ts := time.Unix(int64(min(r.timestamp, 1<<62)), 0)
		valid := parsed && string(r.keyID) == internalKey.ID && mac.verifyMAC(r.signed, r.mac) &&
			string(r.server) == "standby-1" && ts.Sub(now).Abs() <= DefaultMaxSkew && !seen[r.nonce]
		_, ok := l.authenticate(b, from)
		if ok != valid {
			t.Fatalf("datagram %x: accepted %v, want %v", b, ok, valid)
		}
		if ok {
			seen[r.nonce] = true
		}
	})
}
