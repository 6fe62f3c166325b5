package main

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport/httptransport"
)

// startExampleAgent builds examples/agent, the agent vendors copy from,
// runs it with args and returns its URL.
func startExampleAgent(t *testing.T, bin string, key httptransport.Key, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-listen", "127.0.0.1:0", "-secret", string(key.Secret)}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, u, ok := strings.Cut(sc.Text(), " listening on "); ok {
			return u
		}
	}
	t.Fatalf("examples/agent %v did not say where it listens: %v", args, sc.Err())
	return ""
}

// examples/agent passes every check, as a standby and as a recording
// server, semantics and fencing included.
func TestExampleAgentPasses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds examples/agent")
	}
	bin := filepath.Join(t.TempDir(), "agent")
	goCmd, err := exec.LookPath("go") // go test puts its own first in PATH
	if err != nil {
		t.Skip("no go command to build examples/agent with")
	}
	build := exec.Command(goCmd, "build", "-o", bin, "../../examples/agent")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building examples/agent: %v\n%s", err, out)
	}
	key := textKey()
	for _, c := range []struct {
		id   nvrha.ServerID
		args []string
	}{
		{"standby-1", []string{"-role", "standby"}},
		{"rec-1", []string{"-role", "recording", "-cameras", "4"}},
	} {
		url := startExampleAgent(t, bin, key, append([]string{"-id", string(c.id)}, c.args...)...)
		out, err := check(t, url, c.id, key, "-semantics", "-fencing", "-term-fencing", "3")
		if err != nil || strings.Contains(out, "FAIL") || strings.Contains(out, "SKIP") {
			t.Errorf("%s: run: %v\n%s", c.id, err, out)
		}
	}
}
