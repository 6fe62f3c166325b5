package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nvrha/nvrha/failover"
)

// syncBuffer is a bytes.Buffer safe for the run's writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestEndToEndLoopback runs the center and three agent processes on loopback
// with real sockets and signed HTTP: rec-1's process is killed (SIGKILL),
// standby-1 takes over, rec-1 is started again and its cameras fail back.
// Each step waits on the Controller's events with a deadline, and the agents'
// own answers to probes confirm what the events say.
func TestEndToEndLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	bin := filepath.Join(t.TempDir(), "agent")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/nvrha/nvrha/examples/agent").CombinedOutput(); err != nil {
		t.Fatalf("building the agent: %v\n%s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out syncBuffer
	begin := time.Now()
	res, err := run(ctx, options{agentBin: bin, holdDown: 2 * time.Second, wait: 10 * time.Second, out: &out})
	took := time.Since(begin)
	defer func() {
		if t.Failed() {
			t.Logf("center output:\n%s", out.String())
		}
	}()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("takeover and failback in %v", took)
	if took > 20*time.Second {
		t.Errorf("the run took %v, want under 20s", took)
	}

	// The events: rec-1 taken over by standby-1, then failed back with a
	// newer epoch.
	var takeover, failback *failover.Event
	for i, e := range res.Events {
		switch {
		case e.Kind == failover.EventTakeoverSucceeded && e.Server == "rec-1" && takeover == nil:
			takeover = &res.Events[i]
		case e.Kind == failover.EventFailbackCompleted && e.Server == "rec-1" && takeover != nil:
			failback = &res.Events[i]
		case e.Kind == failover.EventTakeoverSucceeded && e.Server == "rec-2":
			t.Errorf("rec-2 was taken over: %v", e)
		}
	}
	if takeover == nil || failback == nil {
		t.Fatalf("no takeover then failback of rec-1 in %v", res.Events)
	}
	if takeover.Peer != "standby-1" || failback.Peer != "standby-1" || failback.Epoch <= takeover.Epoch {
		t.Errorf("takeover %v, failback %v", *takeover, *failback)
	}

	// The agents' own view.
	if _, ok := res.DuringTakeover["rec-1"]; ok {
		t.Errorf("rec-1 answered a probe while killed: %+v", res.DuringTakeover["rec-1"])
	}
	if sb := res.DuringTakeover["standby-1"]; sb.Covering != "rec-1" || sb.Epoch != takeover.Epoch {
		t.Errorf("during the takeover standby-1 reports %+v", sb)
	}
	if rec := res.AfterFailback["rec-1"]; !rec.Recording || rec.Epoch != failback.Epoch {
		t.Errorf("after failback rec-1 reports %+v", rec)
	}
	if sb := res.AfterFailback["standby-1"]; sb.Covering != "" {
		t.Errorf("after failback standby-1 reports %+v", sb)
	}
	if rec := res.AfterFailback["rec-2"]; !rec.Recording || rec.Covering != "" {
		t.Errorf("rec-2 reports %+v", rec)
	}

	// The log shows it, from both sides.
	log := out.String()
	for _, want := range []string{
		"killing rec-1",
		"[standby-1]", "TAKEOVER: recording another server's cameras",
		"takeover-succeeded",
		"[rec-1]", "RESUME: recording own cameras",
		"RELEASE: stopped recording another server's cameras",
		"failback-completed",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
}
