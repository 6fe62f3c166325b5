package simulator

import (
	"fmt"
	"strconv"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
)

// World is one simulation: a center running the real failover.Machine,
// simulated servers with cameras, a network between them, faults, and the
// invariant checker, all on virtual time with one seeded random source. It
// is not safe for concurrent use, and it starts no goroutines.
type World struct {
	cfg Config
	rng *rng
	now time.Duration
	seq uint64
	q   eventQueue
	tr  *tracer

	servers []*Server
	byID    map[nvrha.ServerID]int
	cams    []camState
	camIdx  map[nvrha.CameraID]int
	links   []link
	bursts  []burst
	groups  []*groupModel
	c       *center
	nem     *nemesis

	nextBurst int
	msgSeq    uint64
	msgFree   []*message // delivered messages, for newMessage
	events    uint64

	triggers []*trigger
	expects  []*expectation

	faults     map[FaultKind]int
	recoveries map[Recovery]int
	admin      []AdminResult
	refused    []Refusal
	stats      struct{ messages, lost uint64 }

	lastDisturbance time.Duration
	removedAt       time.Duration

	// What the current event changed, for checkAfterEvent: the Machine's
	// view, every server's ground truth, or the ground truth of the
	// servers in touched.
	machineTouched bool
	groundTouched  bool
	touched        []int

	chk  checker
	meas *measures

	known     []KnownIssue
	violation *Violation
	stopped   bool
	finished  bool
	report    *Report
}

// camState is one camera's ground truth: how many servers record it now,
// and since when nobody does.
type camState struct {
	id      nvrha.CameraID
	owner   int // the recording server whose camera it is
	n       int
	gapFrom time.Duration
}

// New builds a world from cfg: servers, the center with its groups joined,
// the scenario's actions and the nemesis, all at simulated time zero.
func New(cfg Config) (*World, error) {
	r := newRNG(cfg.Seed)
	cfg = cfg.withDefaults(r)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	w := &World{
		cfg:        cfg,
		rng:        r,
		tr:         newTracer(cfg.Trace, cfg.TraceTail),
		byID:       map[nvrha.ServerID]int{},
		camIdx:     map[nvrha.CameraID]int{},
		faults:     map[FaultKind]int{},
		recoveries: map[Recovery]int{},
	}
	for gi, g := range cfg.World.Groups {
		gm := &groupModel{index: gi + 1, name: groupName(gi + 1)}
		if gi == 0 {
			gm.name = failover.DefaultGroupName
		}
		w.groups = append(w.groups, gm)
		for _, role := range []failover.Role{failover.RoleRecording, failover.RoleStandby} {
			specs := g.Recording
			if role == failover.RoleStandby {
				specs = g.Standby
			}
			for _, sp := range specs {
				s := newServer(w, len(w.servers), sp, role)
				s.group = gm
				gm.servers = append(gm.servers, s.idx)
				w.byID[sp.ID] = s.idx
				w.servers = append(w.servers, s)
				for _, c := range s.facts.Cameras {
					w.camIdx[c] = len(w.cams)
					s.ownCams = append(s.ownCams, len(w.cams))
					w.cams = append(w.cams, camState{id: c, owner: s.idx})
				}
			}
		}
	}
	w.links = make([]link, len(w.servers))
	w.chk.init(w)
	w.meas = newMeasures(w)
	// Recording servers are recording when the world begins.
	for _, s := range w.servers {
		if len(s.ownCams) > 0 {
			s.own.on, s.own.cams = true, s.ownCams
			for _, c := range s.ownCams {
				w.cams[c].n++
			}
			w.meas.footageSpan(w, s, footOwn, true)
		}
	}
	m, err := failover.NewMachine(cfg.Center.Failover)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	w.c = &center{w: w, cfg: cfg.Center.Failover, up: true, incarnation: 1, store: store{json: cfg.Center.JSONStore}}
	w.c.m = w.c.wrap(m)
	w.traceLine("world seed=" + strconv.FormatUint(cfg.Seed, 10) + " servers=" + strconv.Itoa(len(w.servers)) +
		" cameras=" + strconv.Itoa(len(w.cams)) + " groups=" + strconv.Itoa(len(w.groups)))
	w.setup()
	if cfg.Scenario != nil {
		w.loadScenario(cfg.Scenario)
	}
	if cfg.Nemesis.Enabled {
		w.nem = newNemesis(w)
	}
	w.schedule(event{at: cfg.Center.TickInterval, kind: evTick})
	w.schedule(event{at: cfg.Duration, kind: evFinish})
	return w, nil
}

// setup creates the groups and joins every server, one at a time so that
// one refusal does not keep the others out.
func (w *World) setup() {
	for _, g := range w.groups {
		if g.index == 1 {
			g.id, g.exists, g.protection = failover.DefaultGroupID, true, true
			continue
		}
		w.addGroup(g)
	}
	w.c.drain()
	w.groups[0].changedAt = 0
	for _, role := range []failover.Role{failover.RoleRecording, failover.RoleStandby} {
		for _, s := range w.servers {
			if s.role == role && !s.member && s.group.exists {
				w.addServer(s.idx, "")
			}
		}
	}
	w.c.drain()
	w.checkAfterEvent()
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
	if !w.c.up {
		return nil
	}
	return w.c.m
}

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
		w.checkAfterEvent()
		if w.stopped {
			w.finish()
		}
	}
	return !w.finished
}

func (w *World) handle(ev *event) {
	switch ev.kind {
	case evTick:
		b := w.tr.start(w.now)
		b = append(b, " tick"...)
		w.tr.end(b)
		if w.c.up {
			w.c.m.Tick(w.abs(w.now))
			w.machineTouched = true
			w.c.drain()
		}
		w.checkTimed()
		w.meas.tick(w)
		w.schedule(event{at: w.now + w.cfg.Center.TickInterval, kind: evTick})
	case evToServer:
		w.touch(ev.msg.server)
		w.deliverToServer(ev.msg)
	case evToCenter:
		w.deliverToCenter(ev.msg)
	case evStream:
		s := w.servers[ev.a/2]
		w.touch(s.idx)
		s.streamStarts(ev.a%2, ev.gen)
	case evAction:
		w.do(ev.act)
	case evNemesis:
		w.nem.fire(ev.a)
	case evUnpause:
		b := w.tr.start(w.now)
		b = append(b, " unpause "...)
		b = append(b, w.servers[ev.a].spec.ID...)
		w.tr.end(b)
		w.touch(ev.a)
		w.unpause(ev.a, ev.gen)
	case evCenterUp:
		w.c.restart()
	case evFinish:
		w.finish()
	}
}

func (w *World) traceLine(s string) {
	b := w.tr.start(w.now)
	b = append(b, ' ')
	b = append(b, s...)
	w.tr.end(b)
}

func appendUint(b []byte, u uint64) []byte { return strconv.AppendUint(b, u, 10) }

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

// footage records that server s's footage of cams started or stopped:
// the ground truth of every camera and the gaps it leaves.
func (w *World) footage(s *Server, kind int, cams []int, on bool) {
	b := w.tr.start(w.now)
	b = append(b, " footage "...)
	b = append(b, s.spec.ID...)
	if kind == footOwn {
		b = append(b, " own"...)
	} else {
		b = append(b, " cover "...)
		b = append(b, s.cover.of...)
	}
	if on {
		b = append(b, " on"...)
	} else {
		b = append(b, " off"...)
	}
	w.tr.end(b)
	for _, c := range cams {
		cs := &w.cams[c]
		if on {
			if cs.n == 0 {
				w.meas.gap(w, c, cs.gapFrom, w.now, false)
			}
			cs.n++
		} else {
			cs.n--
			if cs.n == 0 {
				cs.gapFrom = w.now
			}
		}
	}
	w.meas.footageSpan(w, s, kind, on)
	w.touch(s.idx)
}

// machineEvent handles one event the Machine published.
func (w *World) machineEvent(e failover.Event) {
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
	w.checkEvent(e)
	w.meas.event(w, e)
	w.fireTriggers(e)
	if e.Kind == failover.EventTakeoverStarted && w.nem != nil {
		w.nem.onTakeover(e)
	}
}

// finish ends the run: the end-of-run checks, the expectations, the report.
func (w *World) finish() {
	if w.finished {
		return
	}
	w.finished = true
	if w.violation == nil {
		w.checkEnd()
	}
	w.meas.close(w)
	if w.violation == nil {
		w.checkLedger()
	}
	w.checkExpectations()
	w.traceLine("end")
}
