package perf

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nvrha/nvrha/failover/detector"
	"github.com/nvrha/nvrha/transport/httptransport"
)

var probeProfile = flag.String("httpprobe.cpuprofile", "",
	"write a CPU profile of each HTTPProbe benchmark's measured window to `prefix`-<case>.prof")

var probeWindow = flag.Duration("httpprobe.window", 0,
	"measure each HTTPProbe benchmark case over `duration` of wall time (0: HTTPProbeConfig's default)")

func TestMain(m *testing.M) {
	MaybeServeAgents()
	os.Exit(m.Run())
}

// BenchmarkHTTPProbe measures the CPU a failover.Controller spends probing
// agents over HTTP on loopback at the default probe interval; the agents
// run in another process. Run it once per case:
//
//	go test -run '^$' -bench HTTPProbe -benchtime 1x ./internal/perf
func BenchmarkHTTPProbe(b *testing.B) {
	benchHTTPProbe(b, DriveController, detector.DefaultProbeInterval)
}

// BenchmarkHTTPProbeIntervals is BenchmarkHTTPProbe at 200, 300 and 500 ms.
func BenchmarkHTTPProbeIntervals(b *testing.B) {
	for _, iv := range []time.Duration{200 * time.Millisecond, 300 * time.Millisecond, 500 * time.Millisecond} {
		b.Run(fmt.Sprintf("interval=%v", iv), func(b *testing.B) { benchHTTPProbe(b, DriveController, iv) })
	}
}

// BenchmarkHTTPProbeChannels is BenchmarkHTTPProbe probing over HTTP alone,
// as before the UDP probe channel, and with the default configuration
// (probes over UDP, everything else over HTTP), at 200 and 500 ms. To
// compare them at 1,024 agents:
//
//	go test -run '^$' -bench 'HTTPProbeChannels/.*/agents=1024' -benchtime 1x -count 3 ./internal/perf
func BenchmarkHTTPProbeChannels(b *testing.B) {
	for _, c := range []struct {
		name     string
		httpOnly bool
	}{
		{"http-only", true},
		{"default", false},
	} {
		for _, iv := range []time.Duration{200 * time.Millisecond, 500 * time.Millisecond} {
			b.Run(fmt.Sprintf("%s/interval=%v", c.name, iv), func(b *testing.B) {
				benchHTTPProbeCase(b, HTTPProbeConfig{Driver: DriveController, Interval: iv, HTTPOnly: c.httpOnly})
			})
		}
	}
}

// BenchmarkHTTPProbeLoop is BenchmarkHTTPProbe with a bare probe loop
// instead of a Controller: the cost of the transport alone.
func BenchmarkHTTPProbeLoop(b *testing.B) {
	benchHTTPProbe(b, DriveLoop, detector.DefaultProbeInterval)
}

func benchHTTPProbe(b *testing.B, d ProbeDriver, interval time.Duration) {
	benchHTTPProbeCase(b, HTTPProbeConfig{Driver: d, Interval: interval})
}

// benchHTTPProbeCase runs base at 8, 64, 256 and 1,024 agents.
func benchHTTPProbeCase(b *testing.B, base HTTPProbeConfig) {
	for _, n := range []int{8, 64, 256, 1024} {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			if n > 256 && testing.Short() {
				b.Skip("slow; not with -short")
			}
			var cpu, perProbe, rate, dials, writes float64
			for i := 0; i < b.N; i++ {
				cfg := base
				cfg.Agents, cfg.Window = n, *probeWindow
				if *probeProfile != "" {
					name := *probeProfile + "-" + strings.NewReplacer("/", "_", "=", "").Replace(b.Name()) + ".prof"
					f, err := os.Create(name)
					if err != nil {
						b.Fatal(err)
					}
					defer f.Close()
					cfg.CPUProfile = f
				}
				r, err := HTTPProbe(cfg)
				if err != nil {
					b.Fatal(err)
				}
				if err := r.Check(); err != nil {
					b.Fatalf("%v: %v", r, err)
				}
				b.Log(r)
				cpu += r.CPUPercent()
				perProbe += r.CPUPerProbe()
				rate += r.ProbesPerSecond()
				dials += float64(r.Dials)
				writes += float64(r.HTTPWrites) / r.Wall.Seconds()
			}
			k := float64(b.N)
			b.ReportMetric(0, "ns/op") // one op is a whole measurement
			b.ReportMetric(cpu/k, "cpu%")
			b.ReportMetric(perProbe/k, "cpu-µs/probe")
			b.ReportMetric(rate/k, "probes/s")
			b.ReportMetric(dials/k, "dials")
			b.ReportMetric(writes/k, "http-writes/s")
		})
	}
}

// TestHTTPProbe runs a small measurement end to end: it must see every
// probe succeed on reused connections. Its figures are not judged.
func TestHTTPProbe(t *testing.T) {
	for _, d := range []ProbeDriver{DriveController, DriveLoop} {
		t.Run(d.String(), func(t *testing.T) {
			r, err := HTTPProbe(HTTPProbeConfig{Agents: 4, Interval: 100 * time.Millisecond,
				Warmup: 300 * time.Millisecond, Window: 500 * time.Millisecond, Driver: d})
			if err != nil {
				t.Fatal(err)
			}
			t.Log(r)
			if r.Errors > 0 {
				t.Fatalf("%d probes failed; first: %v", r.Errors, r.FirstError)
			}
			if r.Probes == 0 || r.CPU <= 0 {
				t.Fatalf("measured nothing: %v", r)
			}
			if r.Dials > 0 {
				t.Errorf("%d connections dialled in the window, want them reused", r.Dials)
			}
		})
	}
}

// TestHTTPProbeFailsOnErrors checks that a measurement whose probes fail
// cannot pass: here the agents refuse the client's key.
func TestHTTPProbeFailsOnErrors(t *testing.T) {
	r, err := HTTPProbe(HTTPProbeConfig{Agents: 2, Interval: 100 * time.Millisecond,
		Warmup: 100 * time.Millisecond, Window: 100 * time.Millisecond, Driver: DriveLoop, NoVerify: true, wrongKey: true})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Check()
	if err == nil || !errors.Is(err, httptransport.ErrUnauthenticated) {
		t.Fatalf("Check() = %v, want the probes' ErrUnauthenticated", err)
	}
}

// TestHTTPProbeCheckRate checks that a rate below 90% of the one asked for
// fails the measurement.
func TestHTTPProbeCheckRate(t *testing.T) {
	r := HTTPProbeResult{Agents: 100, Interval: time.Second, Wall: time.Second, Probes: 89}
	if r.Check() == nil {
		t.Fatal("89 probes/s of 100 passed")
	}
	r.Probes = 95
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
}
