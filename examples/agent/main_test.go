package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/httptransport"
)

const testSecret = "0123456789abcdef0123456789abcdef"

// startAgent runs the agent in this process with args and returns its URL
// and a function that stops it and returns run's error.
func startAgent(t *testing.T, args ...string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"-listen", "127.0.0.1:0", "-secret", testSecret}, args...), pw, io.Discard)
		pw.CloseWithError(err)
		done <- err
	}()
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if _, u, ok := strings.Cut(sc.Text(), " listening on "); ok {
				urlc <- u
			}
		}
		close(urlc)
	}()
	var u string
	select {
	case u = <-urlc:
	case <-time.After(10 * time.Second):
	}
	if u == "" {
		cancel()
		t.Fatalf("agent did not start: %v", <-done)
	}
	var once bool
	stop := func() error {
		if once {
			return nil
		}
		once = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { _ = stop() })
	return u, stop
}

func client(t *testing.T, urls httptransport.StaticResolver) *httptransport.Client {
	t.Helper()
	c, err := httptransport.NewClient(httptransport.ClientConfig{
		Resolver: urls, VerifyResponses: true,
		Auth: httptransport.Auth{Keys: []httptransport.Key{{ID: "center", Secret: []byte(testSecret)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestAgentKeepsItsEpochsAcrossRestarts drives a standby agent through a
// takeover, restarts it from its state file, and checks that it still covers
// the recording server and still refuses an order older than the takeover,
// by its epoch or by its center term.
func TestAgentKeepsItsEpochsAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	state := filepath.Join(t.TempDir(), "standby-1.json")
	u, stop := startAgent(t, "-id", "standby-1", "-role", "standby", "-state", state)
	c := client(t, httptransport.StaticResolver{"standby-1": u})
	cams := []nvrha.CameraID{"rec-1/cam-01", "rec-1/cam-02"}
	if err := c.Takeover(ctx, "standby-1", transport.TakeoverOrder{Recording: "rec-1", Epoch: 4, Cameras: cams, Term: 3}); err != nil {
		t.Fatal(err)
	}
	if err := c.Takeover(ctx, "standby-1", transport.TakeoverOrder{Recording: "rec-2", Epoch: 1, Term: 3}); err == nil ||
		errors.Is(err, transport.ErrUnreachable) || !strings.Contains(err.Error(), "covers rec-1") {
		t.Errorf("takeover of a second server: %v, want a busy refusal", err)
	}
	if err := stop(); err != nil {
		t.Fatalf("agent stopped with %v", err)
	}

	u, _ = startAgent(t, "-id", "standby-1", "-role", "standby", "-state", state)
	c = client(t, httptransport.StaticResolver{"standby-1": u})
	r, err := c.Probe(ctx, "standby-1")
	if err != nil || r.Covering != "rec-1" || r.Epoch != 4 || !r.HasEmptyRecordingSpace {
		t.Fatalf("after restart: %+v %v", r, err)
	}
	err = c.Release(ctx, "standby-1", transport.ReleaseOrder{Recording: "rec-1", Epoch: 3, Term: 3})
	var stale *transport.StaleEpochError
	if !errors.As(err, &stale) || stale.Newest != 4 {
		t.Errorf("a release older than the takeover after restart: %v", err)
	}
	err = c.Release(ctx, "standby-1", transport.ReleaseOrder{Recording: "rec-1", Epoch: 5, Term: 2})
	var staleTerm *transport.StaleTermError
	if !errors.As(err, &staleTerm) || staleTerm.Newest != 3 {
		t.Errorf("a release of an older center term after restart: %v", err)
	}
	if err := c.Release(ctx, "standby-1", transport.ReleaseOrder{Recording: "rec-1", Epoch: 5, Term: 3}); err != nil {
		t.Fatal(err)
	}
	if r, _ := c.Probe(ctx, "standby-1"); r.Covering != "" {
		t.Errorf("after release: %+v", r)
	}
}

func TestRecordingAgent(t *testing.T) {
	ctx := context.Background()
	u, _ := startAgent(t, "-id", "rec-1", "-cameras", "3")
	c := client(t, httptransport.StaticResolver{"rec-1": u})
	f, err := c.Inventory(ctx, "rec-1")
	if err != nil || len(f.Cameras) != 3 || f.Cameras[0] != "rec-1/cam-01" || f.Validate() != nil {
		t.Fatalf("inventory %+v %v", f, err)
	}
	if err := c.StandDown(ctx, "rec-1", transport.StandDownOrder{Epoch: 2}); err != nil {
		t.Fatal(err)
	}
	if r, _ := c.Probe(ctx, "rec-1"); r.Recording || r.Epoch != 2 {
		t.Errorf("after stand-down: %+v", r)
	}
	if err := c.Resume(ctx, "rec-1", transport.ResumeOrder{Epoch: 1}); !errors.Is(err, transport.ErrStaleEpoch) {
		t.Errorf("stale resume: %v", err)
	}
	if err := c.Resume(ctx, "rec-1", transport.ResumeOrder{Epoch: 3}); err != nil {
		t.Fatal(err)
	}
	if r, _ := c.Probe(ctx, "rec-1"); !r.Recording || r.Epoch != 3 {
		t.Errorf("after resume: %+v", r)
	}
	if err := c.Takeover(ctx, "rec-1", transport.TakeoverOrder{Recording: "rec-1", Epoch: 9}); !errors.Is(err, transport.ErrInvalidOrder) {
		t.Errorf("takeover of itself: %v", err)
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{},                                   // no -id
		{"-id", "rec 1 "},                    // malformed -id
		{"-id", "rec-1", "-role", "nvr"},     // unknown role
		{"-id", "rec-1", "-cameras", "64"},   // more cameras than channels
		{"-id", "rec-1", "-secret", "short"}, // weak secret
		{"-id", "rec-1", "-listen", "256.0.0.1:0"},
		{"-id", "rec-1", "-no-such-flag"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := run(ctx, append([]string{"-listen", "127.0.0.1:0", "-secret", testSecret}, args...), io.Discard, io.Discard)
		cancel()
		if err == nil {
			t.Errorf("run %v: no error", args)
		}
	}
}

// -secret-file reads the secret as the center's secret_file does (a
// trailing newline is not part of it), and is refused beside -secret.
func TestSecretFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "center.key")
	if err := os.WriteFile(f, []byte(testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := parseFlags([]string{"-id", "rec-1", "-secret-file", f}, io.Discard)
	if err != nil || c.secret != testSecret {
		t.Fatalf("parseFlags: %v, secret %q; want %q", err, c.secret, testSecret)
	}
	for _, args := range [][]string{
		{"-id", "rec-1", "-secret-file", f, "-secret", testSecret},
		{"-id", "rec-1", "-secret-file", filepath.Join(t.TempDir(), "missing")},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags %v: no error", args)
		}
	}
}
