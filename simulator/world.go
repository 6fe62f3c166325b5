package simulator

import (
	"fmt"
	"strconv"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/check"
	"github.com/nvrha/nvrha/simulator/history"
	"github.com/nvrha/nvrha/simulator/report"
)

// World is one simulation: a center running the real failover.Machine,
// simulated servers with cameras, a network between them, faults, all on
// virtual time with one seeded random source, and the observers that
// check and measure the run as it happens (package check's Checker and
// package report's Measures). It is not safe for concurrent use, and it
// starts no goroutines.
type World struct {
	cfg Config
	set history.Settings
	rng *rng
	now time.Duration
	seq uint64
	q   eventQueue
	tr  *tracer

	servers []*Server
	truths  []*history.ServerTruth // every server's ground truth, for the view
	byID    map[nvrha.ServerID]int
	cams    []history.Camera
	camIdx  map[nvrha.CameraID]int
	links   []link
	bursts  []burst
	groups  []*history.GroupTruth
	c       *center
	// plan is the nemesis's fault plan; reactive its faults that strike
	// takeovers, in time order, and armed the ones that can strike now.
	plan     []PlannedFault
	reactive []*trigger
	armed    []*trigger

	nextBurst int
	msgSeq    uint64
	msgFree   []*message // delivered messages, for newMessage
	events    uint64

	triggers []*trigger
	expects  []*expectation

	stats struct{ messages, lost uint64 }

	// lastDisturbance is when the last fault touched the world (for a
	// long pause, when it ends).
	lastDisturbance time.Duration

	// What the current event changed, for the checks after it: the
	// Machine's view (machineTicked: a tick that published nothing may
	// have), every server's ground truth, or the ground truth of the
	// servers in touched.
	machineTouched bool
	machineTicked  bool
	groundTouched  bool
	touched        []int

	// The observers, in the order they see each event, and the event
	// they are shown (observe.go).
	chk  *check.Checker
	meas *report.Measures
	obs  [history.Kinds][]history.Observer // by the kinds they want
	ev   history.Event

	violation *Violation
	stopped   bool
	finished  bool
	report    *Report
}

// New builds a world from cfg: servers, the center with its groups joined,
// the scenario's actions and the nemesis, all at simulated time zero.
func New(cfg Config) (*World, error) {
	r := newRNG(cfg.Seed)
	cfg = cfg.withDefaults(r)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m, err := failover.NewMachine(cfg.Center.Failover)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	w := &World{
		cfg:    cfg,
		rng:    r,
		tr:     newTracer(cfg.Trace, cfg.TraceTail),
		byID:   map[nvrha.ServerID]int{},
		camIdx: map[nvrha.CameraID]int{},
	}
	w.set = history.Settings{Seed: cfg.Seed, Duration: cfg.Duration, World: cfg.World, Failover: cfg.Center.Failover,
		TickInterval: cfg.Center.TickInterval, StreamStart: cfg.Servers.StreamStart, MaxGapSamples: cfg.MaxGapSamples,
		Centers: cfg.Centers, Lease: cfg.Center.Lease}
	w.buildServers()
	w.links = make([]link, len(w.servers))
	w.c = &center{w: w, cfg: cfg.Center.Failover, store: store{json: cfg.Center.JSONStore}}
	w.c.t.Up, w.c.t.Incarnation = true, 1
	w.c.m = w.c.wrap(m)
	w.attachObservers()
	w.startRecording()
	w.traceLine("world seed=" + strconv.FormatUint(cfg.Seed, 10) + " servers=" + strconv.Itoa(len(w.servers)) +
		" cameras=" + strconv.Itoa(len(w.cams)) + " groups=" + strconv.Itoa(len(w.groups)))
	if cfg.Centers > 1 {
		w.c.cl = newCluster(w, w.c, cfg.Centers)
	}
	w.setup()
	if cfg.Scenario != nil {
		w.loadScenario(cfg.Scenario)
	}
	if cfg.Nemesis.Enabled {
		w.plan = w.planFaults()
		w.loadPlan()
	}
	w.schedule(event{at: cfg.Center.TickInterval, kind: evTick})
	w.schedule(event{at: cfg.Duration, kind: evFinish})
	return w, nil
}

// buildServers makes the groups, their servers and the recording servers'
// cameras, in the world's order: group by group, recording servers before
// standbys.
func (w *World) buildServers() {
	for gi, g := range w.cfg.World.Groups {
		gm := &history.GroupTruth{Index: gi + 1, Name: groupName(gi + 1)}
		if gi == 0 {
			gm.Name = failover.DefaultGroupName
		}
		w.groups = append(w.groups, gm)
		for _, role := range []failover.Role{failover.RoleRecording, failover.RoleStandby} {
			specs := g.Recording
			if role == failover.RoleStandby {
				specs = g.Standby
			}
			for _, sp := range specs {
				s := newServer(w, len(w.servers), sp, role)
				s.t.Group = gm
				gm.Servers = append(gm.Servers, s.t.Index)
				w.byID[sp.ID] = s.t.Index
				w.servers = append(w.servers, s)
				w.truths = append(w.truths, &s.t)
				for _, c := range s.t.Facts.Cameras {
					w.camIdx[c] = len(w.cams)
					s.t.OwnCams = append(s.t.OwnCams, len(w.cams))
					w.cams = append(w.cams, history.Camera{ID: c, Owner: s.t.Index})
				}
			}
		}
	}
}

// startRecording starts every recording server's footage: they are
// recording when the world begins.
func (w *World) startRecording() {
	for _, s := range w.servers {
		if len(s.t.OwnCams) > 0 {
			s.t.Own.On, s.t.Own.Cams = true, s.t.OwnCams
			w.emitFootage(s.t.Index, false, true, s.t.OwnCams, "")
		}
	}
}

// setup creates the groups and joins every server, one at a time so that
// one refusal does not keep the others out.
func (w *World) setup() {
	for _, g := range w.groups {
		if g.Index == 1 {
			g.ID, g.Exists, g.Protection = failover.DefaultGroupID, true, true
			continue
		}
		w.addGroup(g)
	}
	w.c.drain()
	w.groups[0].ChangedAt = 0
	for _, role := range []failover.Role{failover.RoleRecording, failover.RoleStandby} {
		for _, s := range w.servers {
			if s.t.Role == role && !s.t.Member && s.t.Group.Exists {
				w.addServer(s.t.Index, "")
			}
		}
	}
	w.c.drain()
	w.eventDone()
}

// Config returns the configuration the world runs with, defaults applied
// and any random world drawn.
func (w *World) Config() Config { return w.cfg }

// Now returns the simulated time since Start.
func (w *World) Now() time.Duration { return w.now }

// Done reports whether the run is over: its duration reached or an
// invariant violated.
func (w *World) Done() bool { return w.finished }

// Server returns a simulated server by ID, or nil.
func (w *World) Server(id nvrha.ServerID) *Server {
	if i, ok := w.byID[id]; ok {
		return w.servers[i]
	}
	return nil
}

// Machine returns the center's Machine, or nil while the center is down.
func (w *World) Machine() Machine {
	if !w.c.t.Up {
		return nil
	}
	return w.c.m
}

// Budgets returns the time budgets the invariants allow in this world.
func (w *World) Budgets() check.Budgets { return w.chk.Budgets() }

// Run runs the world to its end and returns the Report.
func (w *World) Run() *Report {
	w.RunUntil(w.cfg.Duration)
	return w.Report()
}

// RunUntil processes every event up to simulated time t (or the end of
// the run) and reports whether the run goes on. A progress display calls
// it in steps.
func (w *World) RunUntil(t time.Duration) bool {
	for !w.finished && w.q.len() > 0 && w.q.peek() <= t {
		ev := w.q.pop()
		w.now = ev.at
		w.events++
		w.handle(&ev)
		if w.stopped {
			w.finish()
			break
		}
		w.eventDone()
		if w.stopped {
			w.finish()
		}
	}
	return !w.finished
}

func (w *World) handle(ev *event) {
	switch ev.kind {
	case evTick:
		w.tick()
	case evToServer:
		w.touch(ev.msg.server)
		w.deliverToServer(ev.msg)
	case evToCenter:
		w.deliverToCenter(ev.msg)
	case evStream:
		s := w.servers[ev.a/2]
		w.touch(s.t.Index)
		s.streamStarts(ev.a%2, ev.gen)
	case evAction:
		w.do(ev.act)
	case evUnpause:
		b := w.tr.start(w.now)
		b = append(b, " unpause "...)
		b = append(b, w.servers[ev.a].t.ID...)
		w.tr.end(b)
		w.touch(ev.a)
		w.unpause(ev.a, ev.gen)
	case evCenterUp:
		if w.c.cl != nil {
			w.c.cl.restartHost(ev.a)
		} else {
			w.c.restart()
		}
	case evThaw:
		w.c.cl.thaw(ev.a, ev.gen)
	case evFinish:
		w.finish()
	}
}

// tick runs the centers' leases (when there are several), ticks the
// center's Machine (when it is up and not standing still), lets the
// observers take the tick, and schedules the next one.
func (w *World) tick() {
	b := w.tr.start(w.now)
	b = append(b, " tick"...)
	w.tr.end(b)
	if w.c.cl != nil {
		w.c.cl.tick()
	}
	if w.c.t.Up && w.c.held == nil {
		w.c.m.Tick(w.abs(w.now))
		w.machineTicked = true
		w.c.drain()
	}
	w.emitKind(history.Tick)
	w.schedule(event{at: w.now + w.cfg.Center.TickInterval, kind: evTick})
}

func (w *World) traceLine(s string) {
	b := w.tr.start(w.now)
	b = append(b, ' ')
	b = append(b, s...)
	w.tr.end(b)
}

// cameraIndexes maps camera IDs to indexes; unknown cameras are skipped.
func (w *World) cameraIndexes(ids []nvrha.CameraID) []int {
	out := make([]int, 0, len(ids))
	for _, id := range ids {
		if i, ok := w.camIdx[id]; ok {
			out = append(out, i)
		}
	}
	return out
}

// footage records that server s's footage of cams started or stopped.
func (w *World) footage(s *Server, kind int, cams []int, on bool) {
	b := w.tr.start(w.now)
	b = append(b, " footage "...)
	b = append(b, s.t.ID...)
	if kind == footOwn {
		b = append(b, " own"...)
	} else {
		b = append(b, " cover "...)
		b = append(b, s.t.Cover.Of...)
	}
	if on {
		b = append(b, " on"...)
	} else {
		b = append(b, " off"...)
	}
	w.tr.end(b)
	w.emitFootage(s.t.Index, kind == footCover, on, cams, s.t.Cover.Of)
	w.touch(s.t.Index)
}

// machineEvent handles one event the Machine published: the observers
// see it, then the scenario's triggers and the nemesis's reactive faults.
func (w *World) machineEvent(e *failover.Event) {
	b := w.tr.start(w.now)
	b = append(b, " event "...)
	b = append(b, e.Kind.String()...)
	b = append(b, ' ')
	b = append(b, e.Server...)
	if e.Peer != "" {
		b = append(b, " peer="...)
		b = append(b, e.Peer...)
	}
	if e.Epoch != 0 {
		b = append(b, " epoch="...)
		b = appendUint(b, uint64(e.Epoch))
	}
	if e.To != "" {
		b = append(b, " -> "...)
		b = append(b, e.To...)
	}
	if e.Detail != "" {
		b = append(b, " ("...)
		b = append(b, e.Detail...)
		b = append(b, ')')
	}
	w.tr.end(b)
	w.emitMachineEvent(e)
	w.fireTriggers(*e)
}

// finish ends the run: the observers' end-of-run checks and measures, the
// expectations, the report.
func (w *World) finish() {
	if w.finished {
		return
	}
	w.finished = true
	w.emitKind(history.Finish)
	w.judgeExpectations()
	w.traceLine("end")
}
