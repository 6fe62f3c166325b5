package httptransport

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
)

// TestCanonicalStringsAreTheDocumentedOnes pins the canonical strings to
// the format of the package documentation, written out with fmt, and the
// client's pooled MACs to sign and verify.
func TestCanonicalStringsAreTheDocumentedOnes(t *testing.T) {
	hexSum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	p := newMACPool(internalKey.Secret)
	for _, body := range [][]byte{nil, {}, []byte(`{"recording":"rec-1","epoch":7,"cameras":["cam-1"]}`)} {
		s := signedRequest{method: "POST", path: "/nvrha/v1/takeover", server: "rec%2F1", keyID: "center-2026",
			timestamp: "1767254400", nonce: "q1w2e3r4t5y6u7i8o9p0aA", body: body}
		want := fmt.Sprintf("NVRHA1-HMAC-SHA256\nPOST\n/nvrha/v1/takeover\nrec%%2F1\ncenter-2026\n1767254400\nq1w2e3r4t5y6u7i8o9p0aA\n%s", hexSum(body))
		if got := string(s.canonical()); got != want {
			t.Errorf("canonical:\n%s\nwant\n%s", got, want)
		}
		if got, want := p.signRequest(&s), sign(internalKey.Secret, []byte(want)); got != want {
			t.Errorf("pooled signature %s, want %s", got, want)
		}
		for _, status := range []int{200, 204, 409} {
			want := fmt.Sprintf("NVRHA1-HMAC-SHA256-RESPONSE\n%d\n/nvrha/v1/probe\nrec-1\ncenter-2026\nnonce\n%s", status, hexSum(body))
			if got := string(responseCanonical(status, "/nvrha/v1/probe", "rec-1", "center-2026", "nonce", body)); got != want {
				t.Errorf("response canonical:\n%s\nwant\n%s", got, want)
			}
			sig := sign(internalKey.Secret, []byte(want))
			for _, c := range []struct {
				sig  string
				want bool
			}{
				{sig, true},
				{strings.ToUpper(sig), true}, // hex of either case, as verify takes it
				{sig[:63] + "x", false},
				{sig[:62], false},
				{strings.Repeat("0", 64), false},
				{"", false},
			} {
				if got := p.verifyResponse(c.sig, status, "/nvrha/v1/probe", "rec-1", "center-2026", "nonce", body); got != c.want ||
					got != verify(internalKey.Secret, []byte(want), c.sig) {
					t.Errorf("verifyResponse(%q) = %v, want %v", c.sig, got, c.want)
				}
			}
		}
	}
}

// TestClientRequestShape checks what the client puts on the wire, through
// its cache of base URLs: the path behind any prefix, the Host, the
// headers, and a signature the documented canonical string verifies.
func TestClientRequestShape(t *testing.T) {
	for _, c := range []struct{ base, host, path string }{
		{"http://10.0.0.7:8443", "10.0.0.7:8443", "/nvrha/v1/probe"},
		{"http://10.0.0.7:8443/", "10.0.0.7:8443", "/nvrha/v1/probe"},
		{"https://nvr-7.example/agent/", "nvr-7.example", "/agent/nvrha/v1/probe"},
		{"http://nvr-7.example:/a%20b?q=1#f", "nvr-7.example", "/a b/nvrha/v1/probe"},
	} {
		var got *http.Request
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			got = r
			return &http.Response{StatusCode: 500, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
		})
		now := time.Unix(1767254400, 0)
		cl, err := NewClient(ClientConfig{Resolver: StaticResolver{"rec/1": c.base}, Auth: Auth{Keys: []Key{internalKey}},
			HTTPClient: &http.Client{Transport: rt}, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // the second from the cache
			got = nil
			_, _ = cl.Probe(context.Background(), "rec/1")
			if got == nil {
				t.Fatalf("%s: no request", c.base)
			}
			if got.Method != http.MethodPost || got.URL.Host != c.host || got.Host != c.host || got.URL.Path != c.path ||
				got.URL.RawQuery != "" || got.URL.Fragment != "" || got.ContentLength != 0 || got.Body != http.NoBody {
				t.Errorf("%s: request %s %s (Host %s, length %d)", c.base, got.Method, got.URL, got.Host, got.ContentLength)
			}
			h := got.Header
			if h.Get("Accept") != "application/json" || h.Get("Content-Type") != "" || h.Get(HeaderServer) != "rec%2F1" ||
				h.Get(HeaderKeyID) != internalKey.ID || h.Get(HeaderTimestamp) != "1767254400" || len(h.Get(HeaderNonce)) != 22 {
				t.Errorf("%s: headers %v", c.base, h)
			}
			msg := signedRequest{method: "POST", path: "/nvrha/v1/probe", server: "rec%2F1", keyID: internalKey.ID,
				timestamp: "1767254400", nonce: h.Get(HeaderNonce)}
			if !verify(internalKey.Secret, msg.canonical(), h.Get(HeaderSignature)) {
				t.Errorf("%s: signature does not verify", c.base)
			}
		}
	}
}

// TestClientOrderAgainstHandler sends an order with a body through the
// client's own signing to a real handler.
func TestClientOrderAgainstHandler(t *testing.T) {
	f := newInternalFixture(t, HandlerConfig{})
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	cl, err := NewClient(ClientConfig{Resolver: StaticResolver{"standby-1": srv.URL}, Auth: Auth{Keys: []Key{internalKey}},
		VerifyResponses: true, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	o := transport.TakeoverOrder{Recording: "rec-1", Epoch: 7, Cameras: []nvrha.CameraID{"cam-1"}}
	if err := cl.Takeover(context.Background(), "standby-1", o); err != nil {
		t.Fatal(err)
	}
	if r, err := cl.Probe(context.Background(), "standby-1"); err != nil || r.Covering != "rec-1" || r.Epoch != 7 {
		t.Fatalf("after the takeover: %+v %v", r, err)
	}
}

// TestClientSendsTheDocumentedRequest checks the request a client puts on
// the wire, behind a prefix that needs escaping too: the escaped path, the
// Host, the body, and a signature that verifies by the documented canonical
// string.
func TestClientSendsTheDocumentedRequest(t *testing.T) {
	type seen struct {
		method, uri, host string
		header            http.Header
		body              string
	}
	var got []seen
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, seen{r.Method, r.RequestURI, r.Host, r.Header.Clone(), string(b)})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	now := time.Unix(1767254400, 0)
	order := transport.TakeoverOrder{Recording: "rec-1", Epoch: 7, Cameras: []nvrha.CameraID{"cam-1"}}
	for _, c := range []struct{ prefix, uriPrefix string }{{"", ""}, {"/vendor/", "/vendor"}, {"/a%20b", "/a%20b"}} {
		cl, err := NewClient(ClientConfig{Resolver: StaticResolver{"rec/1": srv.URL + c.prefix}, Auth: Auth{Keys: []Key{internalKey}},
			Now: func() time.Time { return now }, DisableUDPProbes: true})
		if err != nil {
			t.Fatal(err)
		}
		got = nil
		_, _ = cl.Probe(context.Background(), "rec/1")
		_ = cl.Takeover(context.Background(), "rec/1", order)
		cl.Close()
		if len(got) != 2 {
			t.Fatalf("%q: %d requests", c.prefix, len(got))
		}
		for i, r := range got {
			path, body := "/nvrha/v1/probe", ""
			if i == 1 {
				path, body = "/nvrha/v1/takeover", `{"recording":"rec-1","epoch":7,"cameras":["cam-1"]}`
			}
			if r.method != http.MethodPost || r.uri != c.uriPrefix+path || r.host != strings.TrimPrefix(srv.URL, "http://") {
				t.Errorf("%q: %s %s to host %s, want POST %s to %s", c.prefix, r.method, r.uri, r.host, c.uriPrefix+path, srv.URL)
			}
			h := r.header
			msg := signedRequest{method: "POST", path: path, server: "rec%2F1", keyID: internalKey.ID,
				timestamp: "1767254400", nonce: h.Get(HeaderNonce), body: []byte(body)}
			if r.body != body || h.Get(HeaderServer) != "rec%2F1" || !verify(internalKey.Secret, msg.canonical(), h.Get(HeaderSignature)) {
				t.Errorf("%q: %s with body %q: signature does not verify", c.prefix, r.uri, r.body)
			}
		}
	}
}
