package simulator

import (
	"errors"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/transport"
)

// sendCommand puts one of the Machine's commands on the network, once
// the observers have seen it.
func (w *World) sendCommand(cmd *failover.Command) {
	if m := w.stamp(cmd); m != nil {
		w.send(m)
	}
}

// stamp shows a command to the observers as it leaves the center, with
// the center's term on an order, and returns the message that will carry
// it, or nil when none goes on the network.
func (w *World) stamp(cmd *failover.Command) *message {
	malformed := cmd.Kind < failover.CmdProbe || cmd.Kind > failover.CmdResume || cmd.Server == "" || cmd.ID == 0
	i, ok := w.byID[cmd.Server]
	// Orders carry the center's term; probes and inventories change
	// nothing and carry none (package transport, "Center terms").
	var term uint64
	if cmd.Kind > failover.CmdInventory {
		term = w.c.t.Term
	}
	w.emitCommand(cmd, ok, malformed, term)
	if malformed && w.stopped {
		return nil
	}
	if !ok {
		b := w.tr.start(w.now)
		b = append(b, " send-to-unknown "...)
		b = appendCmd(b, cmd)
		w.tr.end(b)
		return nil
	}
	if w.cfg.Oracle && cmd.Kind == failover.CmdProbe && !malformed {
		w.oracleProbe(i, cmd)
		return nil
	}
	w.stats.messages++
	m := w.newMessage()
	m.server, m.toServer, m.cmd, m.incarnation, m.term = i, true, *cmd, w.c.t.Incarnation, term
	return m
}

// oracleProbe answers the oracle center's probe of server i from its
// ground truth, as it is now: crashed, it answers nothing; abnormal, it
// says so; otherwise (paused or cut off included: it still records) it is
// healthy. The answer reaches the Machine at this same instant, after the
// current Ready, over no link.
func (w *World) oracleProbe(i int, cmd *failover.Command) {
	s := w.servers[i]
	m := w.newMessage()
	m.server, m.incarnation, m.oracle = i, w.c.t.Incarnation, true
	m.res = s.call(*cmd, 0)
	w.schedule(event{at: w.now, kind: evToCenter, msg: m})
}

// deliverToServer hands a command to its server, which answers at once,
// queues it while paused, or never sees it while crashed.
func (w *World) deliverToServer(m *message) {
	s := w.servers[m.server]
	if w.cut(m.server, true) {
		w.lose(m, "cut")
		return
	}
	if s.t.Crashed {
		w.lose(m, "crashed")
		return
	}
	if s.t.Paused {
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
		key = s.t.ID
	}
	// The server's state before goes straight into the event the
	// observers will see (the events its footage may emit on the way use
	// other fields): a delivery is the world's most frequent event.
	w.ev.Before = s.stateFor(key)
	reply := w.newMessage()
	reply.server, reply.res, reply.incarnation = s.t.Index, s.call(m.cmd, m.term), m.incarnation
	res := &reply.res
	if res.Err != nil || w.c.cl != nil {
		w.ev.After = s.stateFor(key)
	} else {
		w.ev.After = w.ev.Before
	}
	w.emitDelivered(s.t.Index, &m.cmd, m.term, res)
	b := w.tr.start(w.now)
	b = append(b, " exec"...)
	b = appendMsg(b, w, m)
	if res.Err != nil {
		b = append(b, " -> "...)
		b = append(b, res.Err.Error()...)
	}
	w.tr.end(b)
	if w.cfg.Servers.AckWhenRecording && res.Err == nil {
		switch {
		case m.cmd.Kind == failover.CmdTakeover && s.t.Cover.Pending:
			s.deferred[footCover] = append(s.deferred[footCover], reply)
			return
		case m.cmd.Kind == failover.CmdResume && s.t.Own.Pending:
			s.deferred[footOwn] = append(s.deferred[footOwn], reply)
			return
		}
	}
	w.reply(s, reply)
}

func (w *World) reply(s *Server, m *message) {
	if s.t.Crashed {
		return
	}
	w.stats.messages++
	w.send(m)
}

// deliverToCenter steps a result into the Machine, unless the center is
// down or restarted since the command left. With several centers a
// refusal for a stale term ends the leader's term, as it ends a
// failover.Controller's, and an answer that arrives while the leader's
// Machine stands still (its State refused by the lease store) waits.
func (w *World) deliverToCenter(m *message) {
	c := w.c
	if !m.oracle && w.cut(m.server, false) {
		w.lose(m, "cut")
		return
	}
	if !c.t.Up || m.incarnation != c.t.Incarnation {
		b := w.tr.start(w.now)
		b = append(b, " drop stale-incarnation"...)
		b = appendMsg(b, w, m)
		w.tr.end(b)
		w.freeMessage(m)
		return
	}
	if c.cl != nil {
		if errors.Is(m.res.Err, transport.ErrStaleTerm) {
			b := w.tr.start(w.now)
			b = append(b, " refused for a stale term"...)
			b = appendMsg(b, w, m)
			w.tr.end(b)
			w.freeMessage(m)
			c.cl.stepDown(causeStaleTerm)
			return
		}
		if c.held != nil {
			b := w.tr.start(w.now)
			b = append(b, " held"...)
			b = appendMsg(b, w, m)
			w.tr.end(b)
			c.held.results = append(c.held.results, m)
			return
		}
	}
	c.step(m)
}

// step hands an answer to the Machine and drains its Ready.
func (c *center) step(m *message) {
	w := c.w
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
