package httptransport_test

import (
	"net/http/httptest"
	"sync"
	"testing"

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

// serveAgents starts one loopback HTTP server per agent and returns a client
// that reaches them, and a function that closes one server for good.
func serveAgents(t *testing.T, agents map[nvrha.ServerID]transport.Agent, verify bool, engine httptransport.Engine) (*httptransport.Client, func(nvrha.ServerID)) {
	t.Helper()
	auth := httptransport.Auth{Keys: []httptransport.Key{testKey}}
	urls := httptransport.StaticResolver{}
	servers := map[nvrha.ServerID]*httptest.Server{}
	for id, a := range agents {
		h, err := httptransport.NewHandler(a, httptransport.HandlerConfig{Server: id, Auth: auth, Reasons: agentReasons})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		urls[id] = srv.URL
		servers[id] = srv
	}
	c, err := httptransport.NewClient(httptransport.ClientConfig{Resolver: urls, Auth: auth, Reasons: agentReasons, VerifyResponses: verify, Engine: engine})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	var mu sync.Mutex
	kill := func(id nvrha.ServerID) {
		mu.Lock()
		defer mu.Unlock()
		if srv, ok := servers[id]; ok {
			srv.Close()
		}
	}
	return c, kill
}

// TestConformance runs the conformance suite against the HTTP transport over
// loopback sockets, with agenttest's refusals registered as Reasons, with
// each engine.
func TestConformance(t *testing.T) { forEachEngine(t, testConformance) }

func testConformance(t *testing.T, engine httptransport.Engine) {
	for _, verify := range []bool{false, true} {
		name := "Unsigned responses"
		if verify {
			name = "VerifyResponses"
		}
		t.Run(name, func(t *testing.T) {
			transporttest.Run(t, transporttest.Harness{
				New: func(t *testing.T, agents map[nvrha.ServerID]transport.Agent) transporttest.Network {
					c, kill := serveAgents(t, agents, verify, engine)
					return transporttest.Network{Transport: c, Kill: kill}
				},
				Sentinels: []error{agenttest.ErrBusy, agenttest.ErrUnhealthy, agenttest.ErrNoEmptyRecordingSpace},
			})
		})
	}
}
