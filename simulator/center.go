package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
)

// store is the center's durable store: it keeps a deep copy of the last
// State saved, or round-trips it through JSON (failover.MemoryStore).
type store struct {
	json  bool
	mem   failover.MemoryStore
	last  *failover.State
	saves int
}

func (s *store) save(st failover.State) error {
	s.saves++
	if s.json {
		if err := s.mem.Save(context.Background(), st); err != nil {
			return err
		}
		got, err := s.mem.Load(context.Background())
		if err != nil {
			return err
		}
		s.last = &got
		return nil
	}
	c := cloneState(st, s.last)
	s.last = &c
	return nil
}

func (s *store) load() (failover.State, error) {
	if s.last == nil {
		return failover.State{}, failover.ErrNoState
	}
	return cloneState(*s.last, nil), nil
}

// cloneState returns a deep copy of st. A camera's intervals equal to
// its intervals in base (the State stored before, never modified) are
// shared with base rather than copied: the ledger is most of a State and
// most of it is unchanged from one save to the next (checkPersisted then
// knows it extends the one before without comparing it again).
func cloneState(st failover.State, base *failover.State) failover.State {
	out := st
	out.Groups = make([]failover.GroupState, len(st.Groups))
	for i, g := range st.Groups {
		g.Members = slices.Clone(g.Members)
		for j := range g.Members {
			m := &g.Members[j]
			var was *failover.MemberState
			if base != nil && i < len(base.Groups) && j < len(base.Groups[i].Members) {
				was = &base.Groups[i].Members[j]
			}
			m.Facts = shareFacts(m.Facts, was)
			m.Failovers = slices.Clone(m.Failovers)
		}
		out.Groups[i] = g
	}
	out.Epochs = slices.Clone(st.Epochs)
	out.Takeovers = slices.Clone(st.Takeovers)
	out.Owed = slices.Clone(st.Owed)
	out.Ledger = make([]failover.CameraLedger, len(st.Ledger))
	var old []failover.CameraLedger
	if base != nil && byCamera(base.Ledger) {
		old = base.Ledger
	}
	j := 0
	for i, cl := range st.Ledger {
		// Both in camera order (else j runs out and nothing is shared).
		for j < len(old) && old[j].Camera < cl.Camera {
			j++
		}
		if j < len(old) && old[j].Camera == cl.Camera && len(cl.Intervals) > 0 && slices.Equal(old[j].Intervals, cl.Intervals) {
			out.Ledger[i] = old[j]
			continue
		}
		out.Ledger[i] = failover.CameraLedger{Camera: cl.Camera, Intervals: slices.Clone(cl.Intervals)}
	}
	return out
}

// shareFacts is f.Clone(), but shares the camera and recording space lists
// of was (the same member in the State stored before) when they are equal:
// facts rarely change.
func shareFacts(f nvrha.Facts, was *failover.MemberState) nvrha.Facts {
	if was == nil || was.Facts.ID != f.ID {
		return f.Clone()
	}
	if len(f.Cameras) > 0 && slices.Equal(f.Cameras, was.Facts.Cameras) {
		f.Cameras = was.Facts.Cameras
	} else {
		f.Cameras = slices.Clone(f.Cameras)
	}
	if len(f.RecordingSpaces) > 0 && slices.Equal(f.RecordingSpaces, was.Facts.RecordingSpaces) {
		f.RecordingSpaces = was.Facts.RecordingSpaces
	} else {
		f.RecordingSpaces = slices.Clone(f.RecordingSpaces)
	}
	return f
}

// center is the simulated center: it runs the real Machine in the Ready
// loop of package failover's documentation, persists into its store before
// anything is sent, and can crash and restart from that store.
type center struct {
	w           *World
	cfg         failover.Config
	m           Machine
	up          bool
	incarnation uint32
	upSince     time.Duration
	downSince   time.Duration
	store       store
	// crashBeforeSend is set by a trigger: crash right after the State of
	// the current Ready is persisted, before its commands leave.
	crashBeforeSend bool
	crashDowntime   time.Duration
	restarts        int
	// restoredReady is set from a restore until its first Ready is sent:
	// the orders RestoreMachine queued.
	restoredReady bool
}

func (w *World) abs(d time.Duration) time.Time { return Start.Add(d) }

// rel is the virtual time of an instant of the Machine's clock; 0 for the
// zero time.
func (w *World) rel(t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	return t.Sub(Start)
}

func (c *center) wrap(m *failover.Machine) Machine {
	if c.w.cfg.Center.WrapMachine != nil {
		return c.w.cfg.Center.WrapMachine(m)
	}
	return m
}

// drain runs the Ready loop until the Machine has nothing more to say.
func (c *center) drain() {
	w := c.w
	for i := 0; c.up && c.m.HasReady(); i++ {
		if i == 64 {
			w.fail(0, "the Machine still has a Ready after 64 rounds in one event")
			return
		}
		rd := c.m.Ready()
		if c.restoredReady && rd.State == nil && len(rd.Commands) > 0 {
			// The restore moved command IDs on; a second crash before that
			// is persisted would hand the same IDs out again.
			w.fail(8, "the restored Machine sends commands before it persisted its State")
			return
		}
		if rd.State != nil {
			c.persist(*rd.State)
			if w.stopped {
				return
			}
		}
		for _, e := range rd.Events {
			w.machineEvent(e)
		}
		if c.crashBeforeSend {
			c.crashBeforeSend = false
			w.traceLine("center crashes after persisting, before sending " + itoa(len(rd.Commands)) + " commands")
			c.crash(c.crashDowntime)
			return
		}
		for _, cmd := range rd.Commands {
			w.sendCommand(cmd)
		}
		c.restoredReady = false
		c.m.Advance(rd)
		if rd.State != nil || len(rd.Events) > 0 {
			// A change the Machine persisted or published: its view is
			// checked after the event (see checkAfterEvent).
			w.machineTouched = true
		}
	}
}

func (c *center) persist(st failover.State) {
	prev := c.store.last
	if err := c.store.save(st); err != nil {
		c.w.fail(8, "the store refused the Machine's State: "+err.Error())
		return
	}
	c.w.checkPersisted(prev, c.store.last)
}

// crash drops the Machine and every reply in flight; the center restarts
// from its store after downtime (never when downtime is negative).
func (c *center) crash(downtime time.Duration) {
	w := c.w
	if !c.up {
		return
	}
	w.checkUnpersisted()
	c.up = false
	c.m = nil
	c.incarnation++
	c.downSince = w.now
	w.disturbAll()
	w.meas.centerWentDown(w.now)
	w.traceLine("center crash")
	if downtime >= 0 {
		w.schedule(event{at: w.now + downtime, kind: evCenterUp})
	}
}

// restart rebuilds the Machine from the store with failover.RestoreMachine.
func (c *center) restart() {
	w := c.w
	if c.up {
		return
	}
	st, err := c.store.load()
	if err != nil {
		w.fail(8, "center restart: nothing to restore: "+err.Error())
		return
	}
	m, err := failover.RestoreMachine(c.cfg, st, w.abs(w.now))
	if err != nil {
		w.fail(8, "center restart: RestoreMachine refused the persisted State: "+err.Error())
		return
	}
	c.m = c.wrap(m)
	c.up = true
	c.incarnation++
	c.upSince = w.now
	c.restoredReady = true
	c.restarts++
	w.disturbAll()
	w.traceLine("center restart (incarnation " + itoa(int(c.incarnation)) + ")")
	w.machineTouched = true
	w.checkRestored(st)
	if w.stopped {
		return
	}
	w.meas.centerUp(w, st)
	c.drain()
}

// approval returns a first-admin approval for op, as a vendor's UI would
// after the first admin user verified at now.
func approval(op failover.Operation, now time.Time) failover.Approval {
	a, err := failover.VerifyFirstAdminAt(context.Background(),
		failover.VerifierFunc(func(context.Context) error { return nil }), op, now)
	if err != nil {
		panic(err) // a nil verifier result always approves
	}
	return a
}

// jsonEqual compares two values by their JSON encoding.
func jsonEqual(a, b any) (bool, string, string) {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err := errors.Join(err1, err2); err != nil {
		return false, err.Error(), ""
	}
	return string(ja) == string(jb), string(ja), string(jb)
}

func itoa(i int) string { return fmt.Sprint(i) }

// sendCommand puts one of the Machine's commands on the network, after the
// epoch checks of invariant 3.
func (w *World) sendCommand(cmd failover.Command) {
	if cmd.Kind < failover.CmdProbe || cmd.Kind > failover.CmdResume || cmd.Server == "" || cmd.ID == 0 {
		w.checkMalformed(cmd)
		if w.stopped {
			return
		}
	}
	i, ok := w.byID[cmd.Server]
	if !ok {
		b := w.tr.start(w.now)
		b = append(b, " send-to-unknown "...)
		b = appendCmd(b, &cmd)
		w.tr.end(b)
		return
	}
	w.checkCommandID(cmd)
	w.checkCommandEpoch(cmd)
	w.stats.messages++
	m := w.newMessage()
	m.server, m.toServer, m.cmd, m.incarnation = i, true, cmd, w.c.incarnation
	w.send(m)
}

// deliverToServer hands a command to its server, which answers at once,
// queues it while paused, or never sees it while crashed.
func (w *World) deliverToServer(m *message) {
	s := w.servers[m.server]
	if w.cut(m.server, true) {
		w.lose(m, "cut")
		return
	}
	if s.crashed {
		w.lose(m, "crashed")
		return
	}
	if s.paused {
		s.inbox = append(s.inbox, m)
		b := w.tr.start(w.now)
		b = append(b, " queued"...)
		b = appendMsg(b, w, m)
		w.tr.end(b)
		return
	}
	w.execute(s, m)
	w.freeMessage(m)
}

// execute carries out a command on its server and sends the reply.
func (w *World) execute(s *Server, m *message) {
	key := m.cmd.Recording
	if m.cmd.Kind == failover.CmdStandDown || m.cmd.Kind == failover.CmdResume {
		key = s.spec.ID
	}
	before := s.stateFor(key)
	res := s.call(m.cmd)
	w.noteDelivery(s, m.cmd, res, before)
	b := w.tr.start(w.now)
	b = append(b, " exec"...)
	b = appendMsg(b, w, m)
	if res.Err != nil {
		b = append(b, " -> "...)
		b = append(b, res.Err.Error()...)
	}
	w.tr.end(b)
	reply := w.newMessage()
	reply.server, reply.res, reply.incarnation = s.idx, res, m.incarnation
	if w.cfg.Servers.AckWhenRecording && res.Err == nil {
		switch {
		case m.cmd.Kind == failover.CmdTakeover && s.cover.pending:
			s.deferred[footCover] = append(s.deferred[footCover], reply)
			return
		case m.cmd.Kind == failover.CmdResume && s.own.pending:
			s.deferred[footOwn] = append(s.deferred[footOwn], reply)
			return
		}
	}
	w.reply(s, reply)
}

func (w *World) reply(s *Server, m *message) {
	if s.crashed {
		return
	}
	w.stats.messages++
	w.send(m)
}

// deliverToCenter steps a result into the Machine, unless the center is
// down or restarted since the command left.
func (w *World) deliverToCenter(m *message) {
	c := w.c
	if w.cut(m.server, false) {
		w.lose(m, "cut")
		return
	}
	if !c.up || m.incarnation != c.incarnation {
		b := w.tr.start(w.now)
		b = append(b, " drop stale-incarnation"...)
		b = appendMsg(b, w, m)
		w.tr.end(b)
		w.freeMessage(m)
		return
	}
	b := w.tr.start(w.now)
	b = append(b, " step"...)
	b = appendMsg(b, w, m)
	w.tr.end(b)
	err := c.m.Step(w.abs(w.now), m.res)
	w.freeMessage(m)
	if err != nil {
		w.traceLine("step error: " + err.Error())
	}
	// No w.machineTouched: drain sets it when the answer changed anything
	// the Machine persists or publishes.
	c.drain()
}
