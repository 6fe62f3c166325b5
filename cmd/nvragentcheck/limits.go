package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nvrha/nvrha/transport/httptransport"
)

// limits are the agent's documented limits, which -max-body, -max-header
// and -max-skew change for an agent configured otherwise.
type limits struct {
	body   int64
	header int
	skew   time.Duration
}

// checkLimits checks that the agent refuses what is over its limits, and
// accepts an order body as large as the limit allows: the center relies on
// both. None of these requests changes the agent's state.
func (k *checker) checkLimits(l limits) {
	k.check(fmt.Sprintf("a body over the limit (%d bytes) is refused (413 too_large)", l.body+1), func() error {
		return k.expectRaw(k.signed("release", paddedBody(l.body+1), k.id, k.key), http.StatusRequestEntityTooLarge, httptransport.CodeTooLarge)
	})
	k.check(fmt.Sprintf("a body at the limit (%d bytes) is read and judged (400 bad_request, not 413)", l.body), func() error {
		return k.expect(k.signed("release", paddedBody(l.body), k.id, k.key), http.StatusBadRequest, httptransport.CodeBadRequest)
	})
	k.check("a probe with a body is refused (413 too_large)", func() error {
		return k.expectRaw(k.signed("probe", []byte(`{}`), k.id, k.key), http.StatusRequestEntityTooLarge, httptransport.CodeTooLarge)
	})
	k.check(fmt.Sprintf("headers over the limit (%d bytes) are refused (431)", l.header+1024), func() error {
		req := k.signed("probe", nil, k.id, k.key)
		req.Header.Set("X-Nvrha-Padding", strings.Repeat("p", l.header+1024))
		return k.expectRaw(req, http.StatusRequestHeaderFieldsTooLarge, "")
	})
	over := l.skew + 30*time.Second
	k.check(fmt.Sprintf("a request signed %v ago is refused (401 unauthenticated)", over), func() error {
		return k.expect(k.signedAt("probe", nil, time.Now().Add(-over)), http.StatusUnauthorized, httptransport.CodeUnauthenticated)
	})
	k.check(fmt.Sprintf("a request signed %v ahead is refused (401 unauthenticated)", over), func() error {
		return k.expect(k.signedAt("probe", nil, time.Now().Add(over)), http.StatusUnauthorized, httptransport.CodeUnauthenticated)
	})
	within := l.skew / 3
	k.check(fmt.Sprintf("a request signed %v ahead, within the window, is accepted", within), func() error {
		return k.expect(k.signedAt("probe", nil, time.Now().Add(within)), http.StatusOK, "")
	})
}

// paddedBody is n bytes that are not a JSON object: "{" and spaces. An
// agent must read it all to verify its signature, then refuse it as
// bad_request.
func paddedBody(n int64) []byte {
	b := bytes.Repeat([]byte(" "), int(n))
	b[0] = '{'
	return b
}

// expectRaw is expect for a request the agent may answer before it has
// read all of it and then close the connection (an oversized body or
// header): it writes the request on a connection of its own while reading
// the answer, so that a write cut short does not lose the answer, as it
// can with net/http's client.
func (k *checker) expectRaw(req *http.Request, status int, code string) error {
	ctx, cancel := context.WithTimeout(k.ctx, k.timeout)
	defer cancel()
	conn, err := k.dial(ctx, req.URL)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	req.Close = true
	go func() { _ = req.Write(conn) }() // its error shows as the answer's absence
	res, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return fmt.Errorf("no answer: %w", err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	return judge(res.StatusCode, raw, status, code)
}

// dial opens a connection to u's host, with TLS for https.
func (k *checker) dial(ctx context.Context, u *url.URL) (net.Conn, error) {
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), map[bool]string{true: "443", false: "80"}[u.Scheme == "https"])
	}
	if u.Scheme != "https" {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", host)
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if k.tls != nil {
		conf = k.tls.Clone()
	}
	if conf.ServerName == "" {
		conf.ServerName = u.Hostname()
	}
	d := tls.Dialer{Config: conf}
	return d.DialContext(ctx, "tcp", host)
}
