package httptransport

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/failover/detector"
	"github.com/nvrha/nvrha/transport/agenttest"
)

// The size of TestHostileLoad's attack. The defaults run in a few seconds;
// docs/performance.md gives the longer command.
var (
	hostileConns     = flag.Int("hostile.conns", 2000, "TestHostileLoad: slow unauthenticated connections the attacker holds")
	hostileDuration  = flag.Duration("hostile.duration", 3*time.Second, "TestHostileLoad: how long the attack lasts")
	hostileDatagrams = flag.Int("hostile.datagrams", 20000, "TestHostileLoad: forged probe datagrams per second")
	hostileP99       = flag.Duration("hostile.p99", 0, "TestHostileLoad: fail if the probes' p99 exceeds this (0: report it only); the target is 200ms")
)

// The limits TestHostileLoad holds the agent to.
const (
	hostileMaxGrowth = 100 << 20 // of the agent's memory
	// hostileProbeEvery is how often the test probes the agent, one probe
	// after another: a center probes each server every 200 ms (50 ms while
	// it suspects it), but a 99th percentile needs more than the 15
	// answers of 3 s at that rate.
	hostileProbeEvery = 20 * time.Millisecond
)

// hostileEnv tells a copy of the test binary to be the attacker: its value
// is the attack, as JSON.
const hostileEnv = "NVRHA_HOSTILE_ATTACK"

// attack is what the attacker process is told.
type attack struct {
	TCP, UDP  string // the agent's addresses
	KeyID     string // known to anyone: every answer echoes it
	Server    string
	Conns     int
	Duration  time.Duration
	Datagrams int // per second
}

// attackReport is what the attacker process says at the end.
type attackReport struct {
	Dials, Refused, Held int   // connections opened, closed by the agent, open at the end
	BodyBytes            int64 // sent
	Datagrams            int
}

// TestHostileLoad attacks one agent (a real httptransport server, served
// the way examples/agent serves it, on loopback) from another process that
// knows the key ID, the server ID and the time but not the secret: it
// holds -hostile.conns connections, each sending a takeover's headers with
// a wrong signature and then a 1 MiB body 4 KiB every 200 ms, redialling
// whenever the agent drops one, and floods the probe channel with
// -hostile.datagrams forged datagrams a second. Meanwhile a client probes
// the agent every 200 ms, as a center does. The agent must keep its memory
// growth under 100 MB, answer probes within 200 ms at the 99th percentile,
// never fail a probe (a center would call it down), and keep its log to a
// few lines.
func TestHostileLoad(t *testing.T) {
	if spec := os.Getenv(hostileEnv); spec != "" {
		runAttacker(spec)
		return
	}
	if testing.Short() {
		t.Skip("a load test; not with -short")
	}
	if raceEnabled {
		t.Skip("memory and latency under the race detector (in both processes) say nothing about the agent; scripts/test runs this test without -race")
	}
	need := uint64(*hostileConns + 512)
	if err := raiseFileLimit(need); err != nil {
		t.Skipf("the attacker needs %d file descriptors: %v (raise the hard limit, ulimit -Hn, or lower -hostile.conns)", need, err)
	}

	// The agent, served as examples/agent serves it.
	var logLines atomic.Int64
	a := agenttest.New(nvrha.Facts{ID: "rec-1", Product: nvrha.ProductQVRPro, LicenseChannels: 32, Cameras: []nvrha.CameraID{"rec-1/cam-01"}})
	key := Key{ID: "center", Secret: []byte("0123456789abcdef0123456789abcdef")}
	h, err := NewHandler(a, HandlerConfig{Server: "rec-1", Auth: Auth{Keys: []Key{key}},
		Logger: slog.New(countingHandler{&logLines}).With("server", "rec-1")})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	probes, err := ListenProbes(ln.Addr().String(), h)
	if err != nil {
		t.Fatal(err)
	}
	serveHandler(t, ln, h, ServerMaxConns)
	defer func() { _ = probes.Close() }()

	// The center's client, which learns the UDP port from its first probe.
	c, err := NewClient(ClientConfig{Resolver: StaticResolver{"rec-1": "http://" + ln.Addr().String()}, Auth: Auth{Keys: []Key{key}}, VerifyResponses: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 5 {
		if _, err := probeOnce(c); err != nil {
			t.Fatalf("before the attack: %v", err)
		}
	}
	baseRSS, baseGo := memoryNow()

	// The attacker.
	spec, _ := json.Marshal(attack{TCP: ln.Addr().String(), UDP: probes.Addr().String(), KeyID: key.ID, Server: "rec-1",
		Conns: *hostileConns, Duration: *hostileDuration, Datagrams: *hostileDatagrams})
	ctx, cancel := context.WithTimeout(context.Background(), *hostileDuration+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHostileLoad$")
	cmd.Env = append(os.Environ(), hostileEnv+"="+string(spec))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reportc := make(chan attackReport, 1)
	startedc := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		var r attackReport
		for sc.Scan() {
			line := sc.Text()
			if line == "attacking" {
				close(startedc)
			}
			if s, ok := strings.CutPrefix(line, "report "); ok {
				_ = json.Unmarshal([]byte(s), &r)
			}
		}
		reportc <- r
	}()
	select {
	case <-startedc:
	case <-ctx.Done():
		t.Fatal("the attacker did not start")
	}

	// Probe, one probe after another, and watch the memory, until the
	// attacker is done. Its report is its last line: Wait closes the pipe,
	// so it waits for the reader to have read to the end.
	done := make(chan error, 1)
	go func() {
		report := <-reportc
		reportc <- report
		done <- cmd.Wait()
	}()
	var peakRSS, peakGo uint64
	sample := func() {
		rss, gomem := memoryNow()
		peakRSS, peakGo = max(peakRSS, rss), max(peakGo, gomem)
	}
	sample()
	type answer struct {
		took time.Duration
		err  error
	}
	answers := make(chan answer)
	stop := make(chan struct{})
	go func() {
		defer close(answers)
		tick := time.NewTicker(hostileProbeEvery)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			d, err := probeOnce(c)
			answers <- answer{d, err}
		}
	}()
	memTick := time.NewTicker(50 * time.Millisecond)
	defer memTick.Stop()
	var (
		latencies  []time.Duration
		failures   []error
		lastAnswer = time.Now()
		longestGap time.Duration
		attackErr  error
	)
	for answers != nil {
		select {
		case attackErr = <-done:
			close(stop)
			done = nil
		case <-memTick.C:
			sample()
		case a, ok := <-answers:
			if !ok {
				answers = nil
				break
			}
			if a.err != nil {
				failures = append(failures, a.err)
				break
			}
			latencies = append(latencies, a.took)
			now := time.Now()
			longestGap = max(longestGap, now.Sub(lastAnswer))
			lastAnswer = now
		}
	}
	sample()
	report := <-reportc
	if attackErr != nil {
		t.Fatalf("the attacker failed: %v", attackErr)
	}

	slices.Sort(latencies)
	p99 := time.Duration(0)
	if len(latencies) > 0 {
		p99 = latencies[min(len(latencies)-1, len(latencies)*99/100)]
	}
	growthRSS := int64(peakRSS) - int64(baseRSS)
	growthGo := int64(peakGo) - int64(baseGo)
	counts := probes.refusals.counts()
	t.Logf("attack: %d connections held at the end, %d dials, %d dropped by the agent, %d MiB of body sent, %d forged datagrams over %v",
		report.Held, report.Dials, report.Refused, report.BodyBytes>>20, report.Datagrams, *hostileDuration)
	t.Logf("agent: peak RSS growth %.1f MiB (Go memory %.1f MiB), %d probes answered, p99 %v, max %v, longest silence %v, %d failed; datagrams refused %v; %d log lines",
		float64(growthRSS)/(1<<20), float64(growthGo)/(1<<20), len(latencies), p99, latencies[len(latencies)-1], longestGap, len(failures), counts, logLines.Load())

	// The attack happened as meant.
	if report.Dials < *hostileConns || report.Datagrams == 0 || counts[CodeUnauthenticated] == 0 {
		t.Errorf("the attack fell short: %+v, datagrams refused %v", report, counts)
	}
	// What the agent held to.
	if growthGo > hostileMaxGrowth || growthRSS > hostileMaxGrowth {
		t.Errorf("memory grew by %d MiB (Go) / %d MiB (RSS), more than %d MiB", growthGo>>20, growthRSS>>20, hostileMaxGrowth>>20)
	}
	// A latency percentile is a target, not a behaviour: on a shared
	// machine it measures the neighbours too. The documented long run
	// asserts it (-hostile.p99); CI's short run reports it and asserts what
	// a center relies on: no probe missed, no silence it would suspect.
	if *hostileP99 > 0 && p99 > *hostileP99 {
		t.Errorf("probe p99 %v, more than %v", p99, *hostileP99)
	}
	if len(failures) > 0 {
		t.Errorf("%d probes failed, which a center would take for the agent being down; first: %v", len(failures), failures[0])
	}
	if longestGap >= detector.DefaultAcceptablePause {
		t.Errorf("%v without an answer: a center would suspect the agent", longestGap)
	}
	if maxLines := 4 + 2*int64(*hostileDuration/RefusalLogInterval); logLines.Load() > maxLines {
		t.Errorf("%d log lines, want at most %d", logLines.Load(), maxLines)
	}
}

// probeOnce probes rec-1 as a center does, within its probe timeout.
func probeOnce(c *Client) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), failover.DefaultProbeTimeout)
	defer cancel()
	start := time.Now()
	_, err := c.Probe(ctx, "rec-1")
	return time.Since(start), err
}

// memoryNow returns the process's resident set and the memory the Go
// runtime has mapped and not released; the second leaves out what the race
// detector maps.
func memoryNow() (rss, gomem uint64) {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	gomem = s[0].Value.Uint64() - s[1].Value.Uint64()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return gomem, gomem // not Linux: the Go figure is all there is
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, gomem
		}
	}
	return gomem, gomem
}

// raiseFileLimit raises the soft limit on open files to at least n, up to
// the hard limit.
func raiseFileLimit(n uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= n {
		return nil
	}
	if lim.Max < n {
		return fmt.Errorf("hard limit %d", lim.Max)
	}
	lim.Cur = n
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

// countingHandler is a slog.Handler that counts records.
type countingHandler struct{ n *atomic.Int64 }

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(context.Context, slog.Record) error {
	h.n.Add(1)
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

// runAttacker is the attacker process: it attacks as spec says, prints
// "attacking" once its connections are open and a report at the end, and
// exits. It stops by itself after the attack's duration, and at once if
// the test that started it goes away (its standard output breaks).
func runAttacker(spec string) {
	var at attack
	if err := json.Unmarshal([]byte(spec), &at); err != nil {
		fmt.Fprintln(os.Stderr, "attacker:", err)
		os.Exit(2)
	}
	_ = raiseFileLimit(uint64(at.Conns + 512))
	debug.SetGCPercent(400) // the attacker's own speed does not matter much
	end := time.Now().Add(at.Duration)
	var dials, refused, held atomic.Int64
	var bodyBytes atomic.Int64
	var sent atomic.Int64
	var wg sync.WaitGroup
	opened := make(chan struct{}, at.Conns)
	for i := range at.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := true
			for time.Now().Before(end) {
				conn, err := net.DialTimeout("tcp", at.TCP, time.Second)
				dials.Add(1)
				if first {
					opened <- struct{}{}
					first = false
				}
				if err != nil {
					continue
				}
				if slowBody(conn, at, end, &bodyBytes) {
					refused.Add(1)
				} else {
					held.Add(1)
				}
				conn.Close()
			}
		}()
		if i%64 == 63 {
			runtime.Gosched()
		}
	}
	for range at.Conns {
		<-opened
	}
	if _, err := fmt.Println("attacking"); err != nil {
		os.Exit(1)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		floodDatagrams(at, end, &sent)
	}()
	wg.Wait()
	r, _ := json.Marshal(attackReport{Dials: int(dials.Load()), Refused: int(refused.Load()), Held: int(held.Load()),
		BodyBytes: bodyBytes.Load(), Datagrams: int(sent.Load())})
	fmt.Println("report " + string(r))
	os.Exit(0)
}

// slowBody sends a takeover's headers, valid in form but with a wrong
// signature, then a 1 MiB body 4 KiB every 200 ms. It returns true if the
// agent closed the connection before end.
func slowBody(conn net.Conn, at attack, end time.Time, sent *atomic.Int64) bool {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	var sig [32]byte
	_, _ = rand.Read(sig[:])
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"+
		"%s: %s\r\n%s: %d\r\n%s: %s\r\n%s: %s\r\n%s: %s\r\n\r\n{\"recording\":\"rec-2\",\"epoch\":9,\"cameras\":[",
		Path("takeover"), at.TCP, DefaultMaxBodyBytes, HeaderKeyID, at.KeyID, HeaderTimestamp, time.Now().Unix(),
		HeaderNonce, hex.EncodeToString(nonce[:]), HeaderServer, at.Server, HeaderSignature, hex.EncodeToString(sig[:]))
	chunk := []byte(strings.Repeat(`"cam",`, 4096/6))
	_ = conn.SetWriteDeadline(end)
	if _, err := conn.Write([]byte(head)); err != nil {
		return time.Now().Before(end)
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for n := len(head); n+len(chunk) < DefaultMaxBodyBytes; n += len(chunk) {
		<-tick.C
		if _, err := conn.Write(chunk); err != nil {
			return time.Now().Before(end)
		}
		sent.Add(int64(len(chunk)))
	}
	return false
}

// floodDatagrams sends at.Datagrams forged probe requests a second until
// end: the right key ID and server, the current time, a random MAC.
func floodDatagrams(at attack, end time.Time, sent *atomic.Int64) {
	conn, err := net.Dial("udp", at.UDP)
	if err != nil {
		return
	}
	defer conn.Close()
	const every = 10 * time.Millisecond
	perTick := max(1, at.Datagrams/int(time.Second/every))
	tick := time.NewTicker(every)
	defer tick.Stop()
	var nonce [nonceSize]byte
	var mac [macSize]byte
	b := make([]byte, 0, maxDatagram)
	for now := range tick.C {
		if now.After(end) {
			return
		}
		for range perTick {
			_, _ = rand.Read(nonce[:])
			_, _ = rand.Read(mac[:])
			b = appendProbeRequest(b[:0], at.KeyID, nvrha.ServerID(at.Server), uint64(now.Unix()), &nonce, 100)
			b = append(b, mac[:]...)
			if _, err := conn.Write(b); err == nil {
				sent.Add(1)
			}
		}
	}
}
