package transporttest_test

import (
	"testing"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/agenttest"
	"github.com/nvrha/nvrha/transport/transporttest"
)

// TestInMemory runs the conformance suite against transport.InMemory, which
// carries every error as it is.
func TestInMemory(t *testing.T) {
	transporttest.Run(t, transporttest.Harness{
		New: func(t *testing.T, agents map[nvrha.ServerID]transport.Agent) transporttest.Network {
			tr := transport.NewInMemory()
			for id, a := range agents {
				if err := tr.Register(id, a); err != nil {
					t.Fatal(err)
				}
			}
			return transporttest.Network{
				Transport: tr,
				Kill:      func(id nvrha.ServerID) { tr.SetHook(id, transport.Drop()) },
			}
		},
		Sentinels: []error{agenttest.ErrBusy, agenttest.ErrUnhealthy, agenttest.ErrNoEmptyRecordingSpace},
	})
}
