package httptransport_test

import (
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/agenttest"
	"github.com/nvrha/nvrha/transport/httptransport"
	"github.com/nvrha/nvrha/transport/transporttest"
)

// testKey is the key both sides share in these tests.
var testKey = httptransport.Key{ID: "center-2026", Secret: []byte("0123456789abcdef0123456789abcdef")}

// agentReasons lets agenttest's refusals cross the wire by identity.
var agentReasons = []httptransport.Reason{
	{Code: "busy", Err: agenttest.ErrBusy},
	{Code: "no_empty_recording_space", Err: agenttest.ErrNoEmptyRecordingSpace},
	{Code: "unhealthy", Err: agenttest.ErrUnhealthy},
}

// serveAgents starts one loopback HTTP server per agent, each with its UDP
// probe channel on the same port, and returns a client that reaches them
// (probing over UDP unless httpOnly), and a function that closes one
// server, both channels, for good.
func serveAgents(t *testing.T, agents map[nvrha.ServerID]transport.Agent, verify bool) (*httptransport.Client, func(nvrha.ServerID)) {
	return serveAgentsWith(t, agents, agentSetup{verify: verify})
}

// agentSetup is how serveAgentsWith connects a client to its agents.
type agentSetup struct {
	verify   bool
	httpOnly bool // the client probes over HTTP only
	noUDP    bool // the agents serve no UDP probe channel
}

func serveAgentsWith(t *testing.T, agents map[nvrha.ServerID]transport.Agent, s agentSetup) (*httptransport.Client, func(nvrha.ServerID)) {
	t.Helper()
	auth := httptransport.Auth{Keys: []httptransport.Key{testKey}}
	urls := httptransport.StaticResolver{}
	closers := map[nvrha.ServerID][]func(){}
	for id, a := range agents {
		h, err := httptransport.NewHandler(a, httptransport.HandlerConfig{Server: id, Auth: auth, Reasons: agentReasons})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		urls[id] = srv.URL
		closers[id] = append(closers[id], srv.Close)
		if !s.noUDP {
			probes, err := httptransport.ListenProbes(srv.Listener.Addr().String(), h)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = probes.Close() })
			closers[id] = append(closers[id], func() { _ = probes.Close() })
		}
	}
	c, err := httptransport.NewClient(httptransport.ClientConfig{Resolver: urls, Auth: auth, Reasons: agentReasons,
		VerifyResponses: s.verify, DisableUDPProbes: s.httpOnly,
		// Generous, so that a slow machine does not make the client ask a
		// second time over HTTP, which the suite would count as a second
		// delivery.
		UDPProbeWait: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	var mu sync.Mutex
	kill := func(id nvrha.ServerID) {
		mu.Lock()
		defer mu.Unlock()
		for _, f := range closers[id] {
			f()
		}
	}
	return c, kill
}

// TestConformance runs the conformance suite against the HTTP transport over
// loopback sockets, with agenttest's refusals registered as Reasons, with
// with probes over UDP (the default) and over HTTP alone.
func TestConformance(t *testing.T) {
	for _, verify := range []bool{false, true} {
		for _, httpOnly := range []bool{false, true} {
			name := "Unsigned responses"
			if verify {
				name = "VerifyResponses"
			}
			if httpOnly {
				name += "/HTTP probes"
			} else {
				name += "/UDP probes"
			}
			t.Run(name, func(t *testing.T) {
				transporttest.Run(t, transporttest.Harness{
					New: func(t *testing.T, agents map[nvrha.ServerID]transport.Agent) transporttest.Network {
						c, kill := serveAgentsWith(t, agents, agentSetup{verify: verify, httpOnly: httpOnly})
						return transporttest.Network{Transport: c, Kill: kill}
					},
					Sentinels: []error{agenttest.ErrBusy, agenttest.ErrUnhealthy, agenttest.ErrNoEmptyRecordingSpace},
				})
			})
		}
	}
}
