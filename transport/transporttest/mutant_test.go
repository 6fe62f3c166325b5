package transporttest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/transporttest"
)

// mutant is a transport.InMemory with one defect, to show that the suite
// notices it.
type mutant struct {
	*transport.InMemory
	defect string
}

func (m mutant) Probe(ctx context.Context, s nvrha.ServerID) (transport.ProbeReport, error) {
	r, err := m.InMemory.Probe(m.ctx(ctx), s)
	return r, m.mangle(err)
}

func (m mutant) Inventory(ctx context.Context, s nvrha.ServerID) (nvrha.Facts, error) {
	f, err := m.InMemory.Inventory(m.ctx(ctx), s)
	return f, m.mangle(err)
}

func (m mutant) Takeover(ctx context.Context, s nvrha.ServerID, o transport.TakeoverOrder) error {
	if m.defect == "drops a camera" && len(o.Cameras) > 1 {
		o.Cameras = o.Cameras[:len(o.Cameras)-1]
	}
	if m.defect == "drops the term" {
		o.Term = 0
	}
	return m.mangle(m.InMemory.Takeover(m.ctx(ctx), s, o))
}

func (m mutant) Release(ctx context.Context, s nvrha.ServerID, o transport.ReleaseOrder) error {
	if m.defect == "drops the term" {
		o.Term = 0
	}
	return m.mangle(m.InMemory.Release(m.ctx(ctx), s, o))
}

func (m mutant) StandDown(ctx context.Context, s nvrha.ServerID, o transport.StandDownOrder) error {
	return m.mangle(m.InMemory.StandDown(m.ctx(ctx), s, o))
}

func (m mutant) Resume(ctx context.Context, s nvrha.ServerID, o transport.ResumeOrder) error {
	if m.defect == "sends resume as stand-down" {
		return m.mangle(m.InMemory.StandDown(m.ctx(ctx), s, transport.StandDownOrder(o)))
	}
	return m.mangle(m.InMemory.Resume(m.ctx(ctx), s, o))
}

func (m mutant) ctx(ctx context.Context) context.Context {
	if m.defect == "delivers when the context is done" && ctx.Err() != nil {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

func (m mutant) mangle(err error) error {
	if err == nil {
		return nil
	}
	switch m.defect {
	case "refuses a stale term as invalid":
		if errors.Is(err, transport.ErrStaleTerm) {
			return fmt.Errorf("%w: %s", transport.ErrInvalidOrder, err)
		}
	case "flattens errors to text":
		return errors.New(err.Error())
	case "reports refusals as unreachable":
		if !errors.Is(err, transport.ErrUnreachable) {
			return errors.Join(transport.ErrUnreachable, err)
		}
	case "loses the message":
		var se *transport.StaleEpochError
		if errors.As(err, &se) {
			return se
		}
		var st *transport.StaleTermError
		if errors.As(err, &st) {
			return st
		}
		if errors.Is(err, transport.ErrInvalidOrder) {
			return transport.ErrInvalidOrder
		}
	}
	return err
}

var defects = []string{
	"drops a camera",
	"sends resume as stand-down",
	"delivers when the context is done",
	"flattens errors to text",
	"reports refusals as unreachable",
	"loses the message",
	"drops the term",
	"refuses a stale term as invalid",
}

// TestMutant runs the suite against one mutant, named by NVRHA_MUTANT; it is
// run by TestSuiteCatchesDefects in a child process and skipped otherwise.
func TestMutant(t *testing.T) {
	defect := os.Getenv("NVRHA_MUTANT")
	if defect == "" {
		t.Skip("run by TestSuiteCatchesDefects")
	}
	transporttest.Run(t, transporttest.Harness{
		New: func(t *testing.T, agents map[nvrha.ServerID]transport.Agent) transporttest.Network {
			tr := transport.NewInMemory()
			for id, a := range agents {
				if err := tr.Register(id, a); err != nil {
					t.Fatal(err)
				}
			}
			return transporttest.Network{
				Transport: mutant{InMemory: tr, defect: defect},
				Kill:      func(id nvrha.ServerID) { tr.SetHook(id, transport.Drop()) },
			}
		},
	})
}

// TestSuiteCatchesDefects shows that the suite can fail: each defective
// transport makes it fail.
func TestSuiteCatchesDefects(t *testing.T) {
	if os.Getenv("NVRHA_MUTANT") != "" {
		t.Skip("inside a mutant run")
	}
	for _, d := range defects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestMutant$", "-test.count=1")
			cmd.Env = append(os.Environ(), "NVRHA_MUTANT="+d)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the suite passed a transport that %s (err %v):\n%s", d, err, out)
			}
			if !strings.Contains(string(out), "--- FAIL: TestMutant/") {
				t.Errorf("no failing subtest for a transport that %s:\n%s", d, out)
			}
		})
	}
}
