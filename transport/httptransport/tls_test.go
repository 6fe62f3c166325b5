package httptransport_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/httptransport"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue returns a leaf certificate for name, for a server (with 127.0.0.1 as
// its address) or a client.
func (ca *testCA) issue(t *testing.T, name string, server bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestMutualTLS is the working example of mutual TLS: the agent's server
// requires a client certificate from the center's CA, the center trusts the
// agents' CA and presents its certificate, and the HMAC is checked on top.
func TestMutualTLS(t *testing.T) {
	agentsCA := newTestCA(t, "nvr agents CA")
	centerCA := newTestCA(t, "nvr center CA")

	// The server side: the vendor's http.Server with a TLS config that
	// requires and verifies a client certificate.
	agent := newStandby()
	h, err := httptransport.NewHandler(agent, httptransport.HandlerConfig{Server: "standby-1", Auth: httptransport.Auth{Keys: []httptransport.Key{testKey}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{agentsCA.issue(t, "standby-1", true)},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    centerCA.pool,
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes below
	srv.StartTLS()
	defer srv.Close()

	client := func(tlsConfig *tls.Config) *httptransport.Client {
		return newClient(t, httptransport.ClientConfig{
			Resolver:        httptransport.StaticResolver{"standby-1": srv.URL},
			TLSConfig:       tlsConfig,
			VerifyResponses: true,
		})
	}
	ctx := context.Background()

	// The center: trusts the agents' CA, presents its own certificate.
	center := client(&tls.Config{
		MinVersion:   tls.VersionTLS12,
		RootCAs:      agentsCA.pool,
		Certificates: []tls.Certificate{centerCA.issue(t, "center", false)},
	})
	if err := center.Takeover(ctx, "standby-1", transport.TakeoverOrder{Recording: "rec-1", Epoch: 1}); err != nil {
		t.Fatalf("takeover over mutual TLS: %v", err)
	}
	r, err := center.Probe(ctx, "standby-1")
	if err != nil || r.Covering != "rec-1" {
		t.Fatalf("probe over mutual TLS: %+v %v", r, err)
	}

	// Refused at the handshake, before any HTTP, so the agent never hears
	// of them: a client with no certificate, one whose certificate another
	// CA issued, and one that does not trust the agent's certificate.
	stranger := newTestCA(t, "stranger CA")
	for name, cfg := range map[string]*tls.Config{
		"no client certificate": {RootCAs: agentsCA.pool},
		"certificate of another CA": {RootCAs: agentsCA.pool,
			Certificates: []tls.Certificate{stranger.issue(t, "center", false)}},
		"agent's CA not trusted": {RootCAs: stranger.pool,
			Certificates: []tls.Certificate{centerCA.issue(t, "center", false)}},
	} {
		before := agent.calls.Load()
		_, err := client(cfg).Probe(ctx, "standby-1")
		if !errors.Is(err, transport.ErrUnreachable) {
			t.Errorf("%s: got %v, want ErrUnreachable", name, err)
		}
		if agent.calls.Load() != before {
			t.Errorf("%s: the agent was called", name)
		}
	}
}
