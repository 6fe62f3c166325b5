package daemon

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport/agenttest"
	"github.com/nvrha/nvrha/transport/httptransport"
)

// lockedBuffer is written by the command and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// started runs the command until the test ends, and returns the page's URL.
func started(t *testing.T, args []string, stdout io.Writer) string {
	t.Helper()
	url, _ := startedWithStop(t, args, stdout)
	return url
}

// startedWithStop is started, with a stop that sends the command its
// SIGTERM (a cancelled context) and waits for it to return.
func startedWithStop(t *testing.T, args []string, stdout io.Writer) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	stderr := &lockedBuffer{}
	go func() {
		done <- run(ctx, args, strings.NewReader(""), stdout, stderr, func(u string) { urls <- u })
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run after SIGTERM: %v", err)
			}
			if !strings.Contains(stderr.String(), "nvrcenter: stopped") {
				t.Errorf("no clean stop in the log:\n%s", stderr.String())
			}
		})
	}
	t.Cleanup(stop)
	select {
	case u := <-urls:
		return u, stop
	case err := <-done:
		t.Fatalf("run: %v\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("not serving after 30s:\n%s", stderr.String())
	}
	return "", nil
}

type web struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newWeb(t *testing.T, base string) *web {
	jar, _ := cookiejar.New(nil)
	return &web{t: t, base: strings.TrimSuffix(base, "/"), hc: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
}

func (w *web) call(method, path string, body any, out any) int {
	w.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, w.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := w.hc.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			w.t.Fatalf("%s %s: %s: %v", method, path, raw, err)
		}
	}
	return res.StatusCode
}

func TestDemo(t *testing.T) {
	out := &lockedBuffer{}
	url, stop := startedWithStop(t, []string{"-demo", "-listen", "127.0.0.1:0"}, out)
	m := regexp.MustCompile(`log in as admin, password (\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no demo login printed:\n%s", out.String())
	}
	w := newWeb(t, url)
	if code := w.call("GET", "/healthz", nil, nil); code != http.StatusOK {
		t.Fatalf("/healthz: %d", code)
	}
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(page), "Failover Management") || regexp.MustCompile(`(src|href)="(https?:)?//`).Match(page) {
		t.Fatalf("the page is not the embedded one, or fetches from elsewhere:\n%s", page)
	}
	if code := w.call("POST", "/api/v1/session", map[string]string{"user": "admin", "password": m[1]}, nil); code != http.StatusOK {
		t.Fatalf("demo login: %d", code)
	}
	var groups struct {
		Groups []struct {
			Name             string `json:"name"`
			RecordingServers []any  `json:"recording_servers"`
			StandbyServers   []any  `json:"standby_servers"`
		} `json:"groups"`
	}
	w.call("GET", "/api/v1/groups", nil, &groups)
	if len(groups.Groups) != 1 || len(groups.Groups[0].RecordingServers) != 14 || len(groups.Groups[0].StandbyServers) != 2 {
		t.Fatalf("demo groups: %+v", groups)
	}
	if code := w.call("POST", "/api/v1/demo/servers/rec-01/crash", map[string]any{}, nil); code != http.StatusNoContent {
		t.Fatalf("demo crash: %d", code)
	}

	// An open event stream does not hold up a graceful stop: it ends.
	res, err = (&http.Client{Jar: w.hc.Jar}).Get(strings.TrimSuffix(url, "/") + "/api/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		close(ended)
	}()
	begin := time.Now()
	stop()
	<-ended
	if took := time.Since(begin); took > time.Second {
		t.Errorf("stopping with an open event stream took %v", took)
	}
}

// The command with a configuration file reaches real agents over HTTP,
// each with its own key.
func TestConfigWithHTTPAgents(t *testing.T) {
	dir := t.TempDir()
	agents := []nvrha.Facts{
		{ID: "rec-1", Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 16,
			Cameras:         []nvrha.CameraID{"rec-1/cam-1", "rec-1/cam-2"},
			RecordingSpaces: []nvrha.RecordingSpace{{Name: "v", CapacityBytes: 1 << 40}}},
		{ID: "standby-1", Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 32,
			RecordingSpaces: []nvrha.RecordingSpace{{Name: "v", CapacityBytes: 1 << 40, Empty: true}}},
	}
	hashed, _ := bcrypt.GenerateFromPassword([]byte("pw-of-admin"), bcrypt.MinCost)
	cfg := fmt.Sprintf("listen = \"127.0.0.1:0\"\nstore = \"state.json\"\n[failback]\nhold_down = \"1s\"\n[[admin]]\nuser = \"admin\"\nbcrypt = %q\n", hashed)
	for i, f := range agents {
		// Secret files hold text; a key's secret is its bytes as written.
		raw := make([]byte, 32)
		_, _ = rand.Read(raw)
		key := httptransport.Key{ID: "center", Secret: []byte(hex.EncodeToString(raw))}
		keyFile := fmt.Sprintf("agent-%d.key", i)
		if err := os.WriteFile(filepath.Join(dir, keyFile), append(key.Secret, '\n'), 0o600); err != nil {
			t.Fatal(err)
		}
		h, err := httptransport.NewHandler(agenttest.New(f), httptransport.HandlerConfig{Server: f.ID, Auth: httptransport.Auth{Keys: []httptransport.Key{key}}})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		cfg += fmt.Sprintf("[[agent]]\nid = %q\nurl = %q\nsecret_file = %q\n", f.ID, srv.URL, keyFile)
	}
	path := filepath.Join(dir, "nvrcenter.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var check bytes.Buffer
	if err := run(context.Background(), []string{"-config", path, "-check-config"}, nil, &check, io.Discard, nil); err != nil || !strings.Contains(check.String(), "ok (2 agents") {
		t.Fatalf("-check-config: %v %s", err, check.String())
	}

	url := started(t, []string{"-config", path, "-log-format", "json"}, io.Discard)
	w := newWeb(t, url)
	if code := w.call("POST", "/api/v1/session", map[string]string{"user": "admin", "password": "pw-of-admin"}, nil); code != http.StatusOK {
		t.Fatalf("login: %d", code)
	}
	var cands struct {
		Candidates []struct {
			ID       string `json:"id"`
			Eligible bool   `json:"eligible"`
		} `json:"candidates"`
	}
	w.call("GET", "/api/v1/groups/1/candidates?role=standby", nil, &cands)
	if len(cands.Candidates) != 2 || cands.Candidates[0].Eligible || !cands.Candidates[1].Eligible {
		t.Fatalf("standby candidates over HTTP: %+v", cands)
	}
	if code := w.call("POST", "/api/v1/groups/1/recording-servers", map[string]any{"servers": []string{"rec-1"}}, nil); code != http.StatusOK {
		t.Fatalf("add rec-1: %d", code)
	}
	if code := w.call("POST", "/api/v1/groups/1/standby-servers", map[string]any{"servers": []string{"standby-1"}}, nil); code != http.StatusOK {
		t.Fatalf("add standby-1: %d", code)
	}

	// The statuses arrive on the event stream.
	req, _ := http.NewRequest("GET", strings.TrimSuffix(url, "/")+"/api/v1/events", nil)
	hc := &http.Client{Jar: w.hc.Jar}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	deadline := time.AfterFunc(20*time.Second, func() { res.Body.Close() })
	defer deadline.Stop()
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"server":"rec-1"`) && strings.Contains(sc.Text(), `"to":"Normal, protected"`) {
			return
		}
	}
	t.Fatal("rec-1 never became Normal, protected over HTTP")
}
