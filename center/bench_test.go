package center_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/center"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/agenttest"
)

// fullCenter is a center at the manual's limits: 16 groups of 64 servers
// (62 recording servers with 8 cameras each and 2 standbys), probed as
// usual while the benchmark runs.
func fullCenter(b *testing.B) (*httptest.Server, *client) {
	b.Helper()
	tr := transport.NewInMemory()
	ctx, cancel := context.WithCancel(context.Background())
	c, err := center.New(ctx, center.Config{
		Controller: failover.ControllerConfig{Transport: tr, Store: &failover.MemoryStore{}},
		Users:      []center.User{{Name: "admin", PasswordHash: hash(b, adminPassword)}},
		Registry:   prometheus.NewRegistry(),
	})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		<-done
	})
	ctl := c.Controller()
	for gi := range failover.MaxGroups {
		g := failover.DefaultGroupID
		if gi > 0 {
			if g, err = ctl.AddGroup(ctx, fmt.Sprintf("Group %d", gi+1)); err != nil {
				b.Fatal(err)
			}
		}
		var recs, sbs []nvrha.Facts
		for i := range 64 {
			f := nvrha.Facts{ID: nvrha.ServerID(fmt.Sprintf("g%02d-s%02d", gi, i)), Product: nvrha.ProductQVRPro, AdvancedMode: true,
				LicenseChannels: 16, RecordingSpaces: []nvrha.RecordingSpace{{Name: "v", CapacityBytes: 1 << 40, Empty: i >= 62}}}
			if i < 62 {
				for cam := range 8 {
					f.Cameras = append(f.Cameras, nvrha.CameraID(fmt.Sprintf("%s/cam-%d", f.ID, cam)))
				}
				recs = append(recs, f)
			} else {
				f.LicenseChannels = 32
				sbs = append(sbs, f)
			}
			if err := tr.Register(f.ID, agenttest.New(f)); err != nil {
				b.Fatal(err)
			}
		}
		if err := ctl.AddRecordingServers(ctx, g, recs...); err != nil {
			b.Fatal(err)
		}
		if err := ctl.AddStandbyServers(ctx, g, sbs...); err != nil {
			b.Fatal(err)
		}
	}
	srv := httptest.NewServer(c.Handler())
	b.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	cl := &client{t: b, base: srv.URL, hc: &http.Client{Jar: jar}}
	cl.must(http.StatusOK, "POST", "/api/v1/session", map[string]string{"user": "admin", "password": adminPassword}, nil)
	return srv, cl
}

func get(b *testing.B, cl *client, url string) int {
	res, err := cl.hc.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %d", url, res.StatusCode)
	}
	return int(n)
}

// BenchmarkGroups is GET /api/v1/groups at 16 groups x 64 servers, over
// HTTP on loopback.
func BenchmarkGroups(b *testing.B) {
	srv, cl := fullCenter(b)
	var n int
	for b.Loop() {
		n = get(b, cl, srv.URL+"/api/v1/groups")
	}
	b.ReportMetric(float64(n), "bytes/response")
}

// BenchmarkMetricsScrape is GET /metrics at 16 groups x 64 servers.
func BenchmarkMetricsScrape(b *testing.B) {
	srv, cl := fullCenter(b)
	var n int
	for b.Loop() {
		n = get(b, cl, srv.URL+"/metrics")
	}
	b.ReportMetric(float64(n), "bytes/response")
}
