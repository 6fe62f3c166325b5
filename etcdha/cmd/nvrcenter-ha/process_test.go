package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/center"
	"github.com/nvrha/nvrha/etcdha"
	"github.com/nvrha/nvrha/etcdha/internal/etcdtest"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/status"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/httptransport"
)

// TestCenterProcessKilledMidTakeover runs the real thing on one machine:
// nvrcenter-ha and examples/agent built and started as processes, three
// centers over an etcd in the test, two recording servers and two
// standbys. It kills rec-1's agent (SIGKILL), holds the leader's takeover
// order at the standbys, kills the leader's process (SIGKILL) while the
// takeover is saved and ordered but not carried out, and checks with what
// the agents themselves say (their logs, probes and state files) that
// another center finished that takeover once, under the saved epoch and a
// newer term, and that no agent obeyed the dead leader's term afterwards.
func TestCenterProcessKilledMidTakeover(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the processes with")
	}
	dir := t.TempDir()
	build := exec.Command(goBin, "build", "-o", dir+string(filepath.Separator), ".", "github.com/nvrha/nvrha/examples/agent")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	endpoint := etcdtest.Start(t)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })

	secret := strings.Repeat("5e", 32)
	secretFile := filepath.Join(dir, "agent.key")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	agents := map[nvrha.ServerID]*proc{}
	for _, a := range []struct {
		id      nvrha.ServerID
		role    string
		cameras int
	}{{"rec-1", "recording", 2}, {"rec-2", "recording", 1}, {"sb-1", "standby", 0}, {"sb-2", "standby", 0}} {
		agents[a.id] = startProc(t, dir, string(a.id), []string{"NVRHA_SECRET=" + secret}, filepath.Join(dir, "agent"),
			"-id", string(a.id), "-role", a.role, "-cameras", strconv.Itoa(a.cameras), "-listen", "127.0.0.1:0",
			"-state", filepath.Join(dir, string(a.id)+".json"))
	}
	// The centers reach the standbys through a proxy that can hold their
	// takeover orders; rec-1 and rec-2 directly.
	proxies := map[nvrha.ServerID]*orderProxy{"sb-1": startOrderProxy(t, agents["sb-1"].url), "sb-2": startOrderProxy(t, agents["sb-2"].url)}
	urls := map[nvrha.ServerID]string{"rec-1": agents["rec-1"].url, "rec-2": agents["rec-2"].url,
		"sb-1": proxies["sb-1"].url(), "sb-2": proxies["sb-2"].url()}

	const prefix = "/proc-test/"
	centers := map[string]*proc{}
	startCenterProc := func(name string) {
		var file strings.Builder
		fmt.Fprintf(&file, "store = %q\n[etcd]\nendpoints = [%q]\nname = %q\nprefix = %q\nlease_ttl = \"1s\"\n\n[[admin]]\nuser = \"admin\"\nbcrypt = %q\n",
			"etcd", endpoint, name, prefix, adminHash)
		for _, id := range []nvrha.ServerID{"rec-1", "rec-2", "sb-1", "sb-2"} {
			fmt.Fprintf(&file, "\n[[agent]]\nid = %q\nurl = %q\nsecret_file = %q\n", id, urls[id], secretFile)
		}
		path := filepath.Join(dir, name+".toml")
		if err := os.WriteFile(path, []byte(file.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		centers[name] = startProc(t, dir, name, nil, filepath.Join(dir, "nvrcenter-ha"), "-config", path, "-listen", "127.0.0.1:0")
	}
	startCenterProc("center-a")
	oldName, oldTerm := waitLeader(ctx, t, cli, prefix, func(string, uint64) bool { return true })
	if oldName != "center-a" {
		t.Fatalf("%s leads, not center-a, the only center", oldName)
	}
	startCenterProc("center-b")
	startCenterProc("center-c")

	// center-a protects the four servers.
	poll(ctx, t, "center-a serving", func() bool {
		code, _ := get(t, centers["center-a"].url+"readyz")
		return code == http.StatusOK
	})
	api := newAPIClient(t, centers["center-a"].url, "secret")
	api.post(ctx, "api/v1/groups/1/recording-servers", `{"servers":["rec-1","rec-2"]}`)
	api.post(ctx, "api/v1/groups/1/standby-servers", `{"servers":["sb-1","sb-2"]}`)
	poll(ctx, t, "both recording servers protected", func() bool {
		var g center.GroupView
		api.get(ctx, "api/v1/groups/1", &g)
		protected := 0
		for _, m := range g.RecordingServers {
			if m.Status.Label == status.RecordingNormalProtected.Label() {
				protected++
			}
		}
		return protected == 2
	})

	// rec-1 dies; center-a saves and orders a takeover that the standbys
	// do not get; center-a dies with it in flight.
	for _, p := range proxies {
		p.hold(math.MaxUint64)
	}
	agents["rec-1"].kill()
	var held heldOrder
	select {
	case held = <-proxies["sb-1"].held:
	case held = <-proxies["sb-2"].held:
	case <-time.After(15 * time.Second):
		t.Fatal("center-a ordered no takeover of rec-1 within 15s")
	}
	st, err := etcdha.NewStore(cli, etcdha.StoreConfig{Prefix: prefix}, nil).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Takeovers) != 1 || st.Takeovers[0].Recording != "rec-1" || st.Takeovers[0].Phase != failover.PhaseStarting {
		t.Fatalf("saved takeovers %+v, want rec-1's, starting", st.Takeovers)
	}
	saved := st.Takeovers[0]
	if held.order.Term != oldTerm || held.order.Epoch != saved.Epoch || held.order.Recording != "rec-1" || held.standby != saved.Standby {
		t.Fatalf("held %+v at %s; saved %+v under term %d", held.order, held.standby, saved, oldTerm)
	}
	killed := time.Now()
	centers["center-a"].kill()
	// Whatever of center-a's is still on its way is held for good; the
	// orders of a newer term go through.
	for _, p := range proxies {
		p.hold(oldTerm)
	}

	newName, newTerm := waitLeader(ctx, t, cli, prefix, func(name string, _ uint64) bool { return name != "center-a" })
	if newTerm <= oldTerm {
		t.Errorf("%s leads at term %d, not above center-a's %d", newName, newTerm, oldTerm)
	}
	elected := time.Since(killed)

	// The new leader finishes the takeover: the standby says so itself.
	probe := newProbeClient(t, secret, agents)
	poll(ctx, t, "a standby recording rec-1's cameras", func() bool {
		r, err := probe.Probe(ctx, saved.Standby)
		return err == nil && r.Covering == "rec-1"
	})
	done := time.Since(killed)
	t.Logf("center-a (term %d) killed mid-takeover; %s leads at term %d after %v; %s records rec-1's cameras after %v",
		oldTerm, newName, newTerm, elected.Round(time.Millisecond), saved.Standby, done.Round(time.Millisecond))
	for _, id := range []nvrha.ServerID{"sb-1", "sb-2"} {
		r, err := probe.Probe(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case id == saved.Standby && (r.Covering != "rec-1" || r.Epoch != saved.Epoch):
			t.Errorf("%s covers %q under epoch %d, want rec-1 under the saved %d", id, r.Covering, r.Epoch, saved.Epoch)
		case id != saved.Standby && r.Covering != "":
			t.Errorf("%s covers %q too: the takeover was done twice", id, r.Covering)
		}
	}

	// What the agents obeyed, as they logged it: the takeover once, by the
	// saved standby under the saved epoch and the new term; never the old
	// term once the new one was obeyed (nor, at all, a takeover of it).
	takeovers := 0
	for id, a := range agents {
		var newest uint64
		for _, o := range a.obeyed(t) {
			if o.term < newest {
				t.Errorf("%s obeyed %s of term %d after an order of term %d", id, o.what, o.term, newest)
			}
			newest = max(newest, o.term)
			if o.what != "TAKEOVER" {
				continue
			}
			takeovers++
			if id != saved.Standby || o.of != "rec-1" || o.epoch != uint64(saved.Epoch) || o.term != newTerm {
				t.Errorf("%s obeyed a takeover of %s under epoch %d, term %d; want %s's of rec-1 under epoch %d, term %d",
					id, o.of, o.epoch, o.term, saved.Standby, saved.Epoch, newTerm)
			}
		}
	}
	if takeovers != 1 {
		t.Errorf("the standbys obeyed %d takeovers, want 1", takeovers)
	}
	// An order of the dead leader's term that a slow network delivers now
	// changes nothing.
	err = probe.Release(ctx, saved.Standby, transport.ReleaseOrder{Recording: "rec-1", Epoch: saved.Epoch + 100, Term: oldTerm})
	if !errors.Is(err, transport.ErrStaleTerm) {
		t.Errorf("%s took a release of the old term: %v", saved.Standby, err)
	}
	if r, err := probe.Probe(ctx, saved.Standby); err != nil || r.Covering != "rec-1" {
		t.Errorf("after the old term's release %s covers %q (%v), want rec-1", saved.Standby, r.Covering, err)
	}
	var sf struct {
		Term uint64 `json:"term"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, string(saved.Standby)+".json")); err != nil || json.Unmarshal(b, &sf) != nil || sf.Term != newTerm {
		t.Errorf("%s's state file says term %d (%v), want %d", saved.Standby, sf.Term, err, newTerm)
	}
	// One center serves, the one etcd elected.
	for name, c := range centers {
		if name == "center-a" {
			continue
		}
		want := http.StatusServiceUnavailable
		if name == newName {
			want = http.StatusOK
		}
		poll(ctx, t, name+"'s /readyz "+strconv.Itoa(want), func() bool {
			code, _ := get(t, c.url+"readyz")
			return code == want
		})
	}
}

// proc is a child process of the test: an agent or a center.
type proc struct {
	name string
	cmd  *exec.Cmd
	url  string // the first URL it printed
	log  string // the file its standard error goes to
	done chan struct{}
}

var urlRE = regexp.MustCompile(`https?://[^\s]+`)

// startProc starts bin with args and env added to the test's, and waits
// for it to print its URL. The process is killed at the end of the test.
func startProc(t *testing.T, dir, name string, env []string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	logf, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close() // the child has its own descriptor
	p.cmd.Stderr = logf
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u := urlRE.FindString(sc.Text()); u != "" {
				select {
				case urls <- u:
				default:
				}
			}
		}
		_ = p.cmd.Wait() // once its output is read
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("%s's log:\n%s", name, b)
		}
	})
	select {
	case p.url = <-urls:
	case <-p.done:
		b, _ := os.ReadFile(p.log)
		t.Fatalf("%s exited before serving:\n%s", name, b)
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not serve within 20s", name)
	}
	return p
}

// kill ends the process with SIGKILL and waits for it.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// obeyedOrder is an order an agent logged as carried out.
type obeyedOrder struct {
	what        string // TAKEOVER, RELEASE, STAND-DOWN or RESUME
	of          string
	epoch, term uint64
}

var (
	obeyedRE = regexp.MustCompile(`msg="(TAKEOVER|RELEASE|STAND-DOWN|RESUME|release): `)
	attrRE   = regexp.MustCompile(` (for|epoch|term)=(\S+)`)
)

// obeyed returns the orders the agent logged as carried out, in order.
func (p *proc) obeyed(t *testing.T) []obeyedOrder {
	t.Helper()
	b, err := os.ReadFile(p.log)
	if err != nil {
		t.Fatal(err)
	}
	var out []obeyedOrder
	for line := range strings.Lines(string(b)) {
		m := obeyedRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		o := obeyedOrder{what: strings.ToUpper(m[1])}
		for _, a := range attrRE.FindAllStringSubmatch(line, -1) {
			switch a[1] {
			case "for":
				o.of = a[2]
			case "epoch":
				o.epoch, _ = strconv.ParseUint(a[2], 10, 64)
			case "term":
				o.term, _ = strconv.ParseUint(a[2], 10, 64)
			}
		}
		if o.term == 0 {
			t.Fatalf("%s logged an order with no term: %s", p.name, line)
		}
		out = append(out, o)
	}
	return out
}

// heldOrder is a takeover order an orderProxy held.
type heldOrder struct {
	standby nvrha.ServerID
	order   transport.TakeoverOrder
}

// orderProxy forwards a center's requests to an agent, but answers the
// takeover orders of a term up to the one it holds as an unreachable agent
// would, without forwarding them.
type orderProxy struct {
	srv   *http.Server
	addr  string
	upTo  atomic.Uint64
	held  chan heldOrder // the first held order
	first sync.Once
}

func startOrderProxy(t *testing.T, agentURL string) *orderProxy {
	t.Helper()
	target, err := url.Parse(agentURL)
	if err != nil {
		t.Fatal(err)
	}
	p := &orderProxy{held: make(chan heldOrder, 1)}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) }}
	takeover := httptransport.Path(transport.MethodTakeover)
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == takeover {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, "proxy: "+err.Error(), http.StatusBadGateway)
				return
			}
			var o transport.TakeoverOrder
			if err := json.Unmarshal(body, &o); err == nil && o.Term <= p.upTo.Load() {
				p.first.Do(func() {
					p.held <- heldOrder{standby: nvrha.ServerID(r.Header.Get(httptransport.HeaderServer)), order: o}
				})
				http.Error(w, "proxy: held", http.StatusServiceUnavailable)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		rp.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	go func() { _ = p.srv.Serve(ln) }()
	t.Cleanup(func() { _ = p.srv.Close() })
	return p
}

func (p *orderProxy) url() string { return "http://" + p.addr }

// hold makes the proxy hold the takeover orders of every term up to term.
func (p *orderProxy) hold(term uint64) { p.upTo.Store(term) }

// apiClient is a session with a center's admin API.
type apiClient struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newAPIClient(t *testing.T, base, password string) *apiClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &apiClient{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
	login, err := json.Marshal(map[string]string{"user": "admin", "password": password})
	if err != nil {
		t.Fatal(err)
	}
	c.post(context.Background(), "api/v1/session", string(login))
	return c
}

func (c *apiClient) post(ctx context.Context, path, body string) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
	}
}

func (c *apiClient) get(ctx context.Context, path string, v any) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		c.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
}

// newProbeClient talks to the agents directly, with their key, as a
// center would.
func newProbeClient(t *testing.T, secret string, agents map[nvrha.ServerID]*proc) *httptransport.Client {
	t.Helper()
	urls := httptransport.StaticResolver{}
	for id, p := range agents {
		urls[id] = p.url
	}
	c, err := httptransport.NewClient(httptransport.ClientConfig{
		Resolver: urls, VerifyResponses: true, DisableUDPProbes: true,
		Auth: httptransport.Auth{Keys: []httptransport.Key{{ID: "center", Secret: []byte(secret)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// waitLeader polls etcd until a center leads that ok accepts, and returns
// its name and term.
func waitLeader(ctx context.Context, t *testing.T, cli *clientv3.Client, prefix string, ok func(string, uint64) bool) (name string, term uint64) {
	t.Helper()
	poll(ctx, t, "a center elected", func() bool {
		resp, err := cli.Get(ctx, prefix+"leader/", clientv3.WithFirstCreate()...)
		if err != nil || len(resp.Kvs) == 0 {
			return false
		}
		name, term = string(resp.Kvs[0].Value), uint64(resp.Kvs[0].CreateRevision)
		return ok(name, term)
	})
	return name, term
}

// poll calls cond every 20 ms until it holds, and fails the test if ctx
// ends first.
func poll(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("no %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}
