package center

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/status"
	"github.com/nvrha/nvrha/transport"
)

// metrics holds the Center's Prometheus metrics. What the Controller does
// not report by itself (calls, retries, saves, latencies) is measured by
// wrapping the Transport and the Store it is given and by watching its
// events; statuses and channels are read from a snapshot at each scrape.
type metrics struct {
	c *Center

	calls      *prometheus.CounterVec
	callTime   *prometheus.HistogramVec
	retries    *prometheus.CounterVec
	saves      *prometheus.CounterVec
	saveTime   prometheus.Histogram
	events     *prometheus.CounterVec
	detection  prometheus.Histogram
	takeover   prometheus.Histogram
	streams    prometheus.Gauge
	scrapeErrs prometheus.Counter

	serversDesc    *prometheus.Desc
	channelsDesc   *prometheus.Desc
	protectionDesc *prometheus.Desc

	mu sync.Mutex
	// lastOK is when each server last answered a probe; downAt when each
	// recording server was declared down; lastOrder the last order of each
	// kind sent to each server, to tell a retry.
	lastOK    map[nvrha.ServerID]time.Time
	downAt    map[nvrha.ServerID]time.Time
	lastOrder map[orderKey]orderKey
}

type orderKey struct {
	kind      string
	server    nvrha.ServerID
	recording nvrha.ServerID
	epoch     nvrha.Epoch
}

// latencyBuckets span a fast LAN detection (a few hundred ms) to a takeover
// that needed several attempts.
var latencyBuckets = []float64{0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 13, 21, 34, 60}

func newMetrics(c *Center) *metrics {
	return &metrics{
		c: c,
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nvrcenter_transport_calls_total",
			Help: "Calls to the servers by kind (probe, inventory, takeover, release, stand-down, resume) and outcome."},
			[]string{"kind", "outcome"}),
		callTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "nvrcenter_transport_call_seconds",
			Help: "How long calls to the servers took, by kind.", Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9)},
			[]string{"kind"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nvrcenter_command_retries_total",
			Help: "Orders sent again with the same epoch to the same server, by kind."}, []string{"kind"}),
		saves: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nvrcenter_store_saves_total",
			Help: "State saves (a change or the whole State) by outcome (ok, error)."}, []string{"outcome"}),
		saveTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "nvrcenter_store_save_seconds",
			Help: "How long a state save took.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9)}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nvrcenter_events_total",
			Help: "Events of the failover machine by kind."}, []string{"kind"}),
		detection: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "nvrcenter_detection_seconds",
			Help:    "From a server's last answered probe to its being declared down.",
			Buckets: latencyBuckets}),
		takeover: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "nvrcenter_takeover_seconds",
			Help:    "From a recording server's being declared down to a standby recording its cameras.",
			Buckets: latencyBuckets}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{Name: "nvrcenter_event_streams",
			Help: "Event streams (server-sent events) open now."}),
		scrapeErrs: prometheus.NewCounter(prometheus.CounterOpts{Name: "nvrcenter_snapshot_errors_total",
			Help: "Scrapes that could not read the controller's snapshot."}),
		serversDesc: prometheus.NewDesc("nvrcenter_servers",
			"Servers in Failover Groups by role and Failover Status label (Checking: not probed yet).",
			[]string{"role", "status"}, nil),
		channelsDesc: prometheus.NewDesc("nvrcenter_group_channels",
			"Cameras of each group's recording servers that a standby records or could take over (protected) and the rest (unprotected).",
			[]string{"group", "name", "state"}, nil),
		protectionDesc: prometheus.NewDesc("nvrcenter_group_protection",
			"1 when the group's Failover Protection is on.", []string{"group", "name"}, nil),
		lastOK:    map[nvrha.ServerID]time.Time{},
		downAt:    map[nvrha.ServerID]time.Time{},
		lastOrder: map[orderKey]orderKey{},
	}
}

func (m *metrics) register(r prometheus.Registerer) error {
	// Every series an alert may watch exists from the first scrape, at
	// zero: a rate over a series that appears only at its first increment
	// misses that increment.
	for _, k := range []failover.CommandKind{failover.CmdTakeover, failover.CmdRelease, failover.CmdStandDown, failover.CmdResume} {
		m.retries.WithLabelValues(k.String())
	}
	for _, o := range []string{"ok", "error"} {
		m.saves.WithLabelValues(o)
	}
	for _, c := range []prometheus.Collector{m.calls, m.callTime, m.retries, m.saves, m.saveTime, m.events,
		m.detection, m.takeover, m.streams, m.scrapeErrs, snapshotCollector{m}} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// observeEvent runs on the Machine's goroutine.
func (m *metrics) observeEvent(e failover.Event) {
	m.events.WithLabelValues(e.Kind.String()).Inc()
	now := m.c.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	switch e.Kind {
	case failover.EventServerDown:
		if ok, seen := m.lastOK[e.Server]; seen {
			m.detection.Observe(now.Sub(ok).Seconds())
		}
		m.downAt[e.Server] = now
	case failover.EventTakeoverSucceeded:
		if down, seen := m.downAt[e.Server]; seen {
			m.takeover.Observe(now.Sub(down).Seconds())
			delete(m.downAt, e.Server)
		}
	case failover.EventServerUp:
		delete(m.downAt, e.Server)
	}
}

func (m *metrics) call(kind string, start time.Time, err error) {
	m.calls.WithLabelValues(kind, outcome(err)).Inc()
	m.callTime.WithLabelValues(kind).Observe(time.Since(start).Seconds())
}

func (m *metrics) order(k orderKey) {
	slot := orderKey{kind: k.kind, server: k.server}
	m.mu.Lock()
	prev, seen := m.lastOrder[slot]
	m.lastOrder[slot] = k
	m.mu.Unlock()
	if seen && prev == k {
		m.retries.WithLabelValues(k.kind).Inc()
	}
}

func (m *metrics) probed(server nvrha.ServerID, err error) {
	if err != nil {
		return
	}
	now := m.c.now()
	m.mu.Lock()
	m.lastOK[server] = now
	m.mu.Unlock()
}

// outcome names an error of the transport contract for a label.
func outcome(err error) string {
	var stale *transport.StaleEpochError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &stale):
		return "stale-epoch"
	case errors.Is(err, transport.ErrInvalidOrder):
		return "invalid-order"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, transport.ErrUnreachable):
		return "unreachable"
	default:
		return "refused"
	}
}

// snapshotCollector reads the statuses and channels from the Controller at
// each scrape.
type snapshotCollector struct{ m *metrics }

func (s snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- s.m.serversDesc
	ch <- s.m.channelsDesc
	ch <- s.m.protectionDesc
}

func (s snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	snap, err := s.m.c.ctl.Snapshot(ctx)
	if err != nil {
		s.m.scrapeErrs.Inc()
		return
	}
	type key struct{ role, label string }
	counts := map[key]int{}
	// Every status has a series, zero or not, so that a dashboard's
	// query does not vanish when no server has it.
	for _, st := range status.RecordingStatuses() {
		counts[key{"recording", st.Label()}] = 0
	}
	for _, st := range status.StandbyStatuses() {
		counts[key{"standby", st.Label()}] = 0
	}
	counts[key{"recording", checkingLabel}] = 0
	counts[key{"standby", checkingLabel}] = 0
	held := s.m.c.events.heldSince()
	for _, g := range snap.Groups {
		protected, unprotected := 0, 0
		for _, ms := range g.Members {
			v := viewStatus(ms, held)
			counts[key{ms.Role.String(), v.Label}]++
			if ms.Role != failover.RoleRecording {
				continue
			}
			if ms.Recording == status.RecordingNormalProtected || ms.Recording == status.RecordingAbnormalProtected {
				protected += ms.Cameras
			} else {
				unprotected += ms.Cameras
			}
		}
		id := strconv.FormatUint(uint64(g.ID), 10)
		ch <- prometheus.MustNewConstMetric(s.m.channelsDesc, prometheus.GaugeValue, float64(protected), id, g.Name, "protected")
		ch <- prometheus.MustNewConstMetric(s.m.channelsDesc, prometheus.GaugeValue, float64(unprotected), id, g.Name, "unprotected")
		on := 0.0
		if g.Protection {
			on = 1
		}
		ch <- prometheus.MustNewConstMetric(s.m.protectionDesc, prometheus.GaugeValue, on, id, g.Name)
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(s.m.serversDesc, prometheus.GaugeValue, float64(n), k.role, k.label)
	}
}

// meteredTransport counts and times every call the Controller makes.
type meteredTransport struct {
	next transport.Transport
	m    *metrics
}

func (t *meteredTransport) Probe(ctx context.Context, server nvrha.ServerID) (transport.ProbeReport, error) {
	start := time.Now()
	r, err := t.next.Probe(ctx, server)
	t.m.call("probe", start, err)
	t.m.probed(server, err)
	return r, err
}

func (t *meteredTransport) Inventory(ctx context.Context, server nvrha.ServerID) (nvrha.Facts, error) {
	start := time.Now()
	f, err := t.next.Inventory(ctx, server)
	t.m.call("inventory", start, err)
	return f, err
}

func (t *meteredTransport) Takeover(ctx context.Context, standby nvrha.ServerID, o transport.TakeoverOrder) error {
	t.m.order(orderKey{failover.CmdTakeover.String(), standby, o.Recording, o.Epoch})
	start := time.Now()
	err := t.next.Takeover(ctx, standby, o)
	t.m.call("takeover", start, err)
	return err
}

func (t *meteredTransport) Release(ctx context.Context, standby nvrha.ServerID, o transport.ReleaseOrder) error {
	t.m.order(orderKey{failover.CmdRelease.String(), standby, o.Recording, o.Epoch})
	start := time.Now()
	err := t.next.Release(ctx, standby, o)
	t.m.call("release", start, err)
	return err
}

func (t *meteredTransport) StandDown(ctx context.Context, recording nvrha.ServerID, o transport.StandDownOrder) error {
	t.m.order(orderKey{failover.CmdStandDown.String(), recording, "", o.Epoch})
	start := time.Now()
	err := t.next.StandDown(ctx, recording, o)
	t.m.call("stand-down", start, err)
	return err
}

func (t *meteredTransport) Resume(ctx context.Context, recording nvrha.ServerID, o transport.ResumeOrder) error {
	t.m.order(orderKey{failover.CmdResume.String(), recording, "", o.Epoch})
	start := time.Now()
	err := t.next.Resume(ctx, recording, o)
	t.m.call("resume", start, err)
	return err
}

// meteredStore counts and times the Controller's saves (of the State, or
// of Changes), and remembers whether the last one failed, for /readyz.
type meteredStore struct {
	next   failover.Store
	m      *metrics
	mu     sync.Mutex
	failed error
}

func (s *meteredStore) Load(ctx context.Context) (failover.State, error) { return s.next.Load(ctx) }

func (s *meteredStore) Save(ctx context.Context, st failover.State) error {
	start := time.Now()
	err := s.next.Save(ctx, st)
	s.done(start, err)
	return err
}

// done counts and times a write that began at start.
func (s *meteredStore) done(start time.Time, err error) {
	s.m.saveTime.Observe(time.Since(start).Seconds())
	s.m.saves.WithLabelValues(outcome2(err)).Inc()
	s.mu.Lock()
	s.failed = err
	s.mu.Unlock()
}

// meteredDeltaStore is a meteredStore over a DeltaStore: it applies
// Changes too, counted and timed as saves, so that the Controller still
// writes only what changed.
type meteredDeltaStore struct{ *meteredStore }

func (s meteredDeltaStore) Apply(ctx context.Context, c failover.Changes) error {
	start := time.Now()
	err := s.next.(failover.DeltaStore).Apply(ctx, c)
	s.done(start, err)
	return err
}

// asStore returns s as the Controller's Store: a DeltaStore when the store
// it meters is one.
func (s *meteredStore) asStore() failover.Store {
	if _, ok := s.next.(failover.DeltaStore); ok {
		return meteredDeltaStore{s}
	}
	return s
}

func (s *meteredStore) lastErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

func outcome2(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}
