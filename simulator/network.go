package simulator

import (
	"time"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
)

// message is a command on its way to a server, or a result on its way back.
type message struct {
	id       uint64
	server   int
	toServer bool
	cmd      failover.Command
	res      failover.Result
	// incarnation is the center's incarnation that sent the command; a
	// reply for an earlier incarnation is dropped, as the connection it
	// would arrive on is gone.
	incarnation uint32
	// term is the center term an order carries (0 for one center).
	term uint64
	dup  bool
	// oracle marks the oracle center's answer to a probe, made from the
	// ground truth: no link carries it.
	oracle bool
}

// link is the state of the network between the center and one server.
type link struct {
	// cutIn and cutOut count the partitions that cut center->server and
	// server->center; a direction is cut while its count is positive.
	cutIn, cutOut int
}

// burst is a loss or delay burst on some links (all when servers is nil).
type burst struct {
	id      int
	servers []int
	loss    float64
	delay   time.Duration
	until   time.Duration
}

func (b *burst) covers(server int) bool {
	if b.servers == nil {
		return true
	}
	for _, s := range b.servers {
		if s == server {
			return true
		}
	}
	return false
}

// linkConditions returns the loss probability and extra delay on server's
// link now.
func (w *World) linkConditions(server int) (float64, time.Duration) {
	loss, delay := w.cfg.Net.Loss, time.Duration(0)
	for i := range w.bursts {
		b := &w.bursts[i]
		if b.until > w.now && b.covers(server) {
			loss = max(loss, b.loss)
			delay = max(delay, b.delay)
		}
	}
	return loss, delay
}

func (w *World) cut(server int, toServer bool) bool {
	l := &w.links[server]
	if toServer {
		return l.cutIn > 0
	}
	return l.cutOut > 0
}

// send puts m on the network: it is lost if its direction is cut or by the
// loss draw, delayed by latency, jitter and any delay burst, and perhaps
// duplicated.
func (w *World) send(m *message) {
	w.msgSeq++
	m.id = w.msgSeq
	if w.cut(m.server, m.toServer) {
		w.lose(m, "cut")
		return
	}
	loss, extra := w.linkConditions(m.server)
	if s := &w.servers[m.server].t; !m.toServer && s.Hostile == history.HostileLate {
		extra += s.LateBy
	}
	if w.rng.chance(loss) {
		w.lose(m, "lost")
		return
	}
	w.scheduleMessage(m, extra)
	if w.rng.chance(w.cfg.Net.Duplicate) {
		d := w.newMessage()
		*d = *m
		d.dup = true
		w.scheduleMessage(d, extra)
	}
}

func (w *World) scheduleMessage(m *message, extra time.Duration) {
	d := w.cfg.Net.Latency + extra
	if j := w.cfg.Net.Jitter; j > 0 {
		// Whole microseconds keep the trace readable.
		d += w.rng.between(0, j/time.Microsecond) * time.Microsecond
	}
	k := evToCenter
	if m.toServer {
		k = evToServer
	}
	w.schedule(event{at: w.now + d, kind: k, msg: m})
}

// lose records that m never arrives.
func (w *World) lose(m *message, why string) {
	disturbed(&w.servers[m.server].t, w.now)
	w.stats.lost++
	b := w.tr.start(w.now)
	b = append(b, " drop "...)
	b = append(b, why...)
	b = appendMsg(b, w, m)
	w.tr.end(b)
	w.freeMessage(m)
}

// newMessage returns a zero message, reusing one that was delivered or
// lost: a busy world sends hundreds of thousands.
func (w *World) newMessage() *message {
	if n := len(w.msgFree); n > 0 {
		m := w.msgFree[n-1]
		w.msgFree = w.msgFree[:n-1]
		return m
	}
	return new(message)
}

// freeMessage takes back a message nothing refers to any more: its event
// was handled and it was neither queued nor deferred.
func (w *World) freeMessage(m *message) {
	*m = message{}
	w.msgFree = append(w.msgFree, m)
}

func appendMsg(b []byte, w *World, m *message) []byte {
	b = append(b, ' ')
	if m.toServer {
		b = appendCmd(b, &m.cmd)
		if m.term != 0 {
			b = append(b, " term "...)
			b = appendUint(b, m.term)
		}
	} else {
		b = append(b, "reply #"...)
		b = appendUint(b, m.res.ID)
		b = append(b, " from "...)
		b = append(b, w.servers[m.server].t.ID...)
		if m.res.Err != nil {
			b = append(b, " err="...)
			b = append(b, m.res.Err.Error()...)
		}
	}
	if m.dup {
		b = append(b, " (dup)"...)
	}
	return b
}

// appendCmd appends cmd.String() (the same bytes: the trace hash depends
// on them) without fmt, as every message's trace line has one.
func appendCmd(b []byte, c *failover.Command) []byte {
	b = append(b, '#')
	b = appendUint(b, c.ID)
	b = append(b, ' ')
	b = append(b, c.Kind.String()...)
	b = append(b, ' ')
	b = append(b, c.Server...)
	if c.Recording != "" {
		b = append(b, " for "...)
		b = append(b, c.Recording...)
	}
	if c.Epoch != 0 {
		b = append(b, " epoch "...)
		b = appendUint(b, uint64(c.Epoch))
	}
	return b
}
