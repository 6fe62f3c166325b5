package simulator

import (
	"time"

	"github.com/nvrha/nvrha/failover"
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
	dup         bool
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
	if w.rng.chance(loss) {
		w.lose(m, "lost")
		return
	}
	w.scheduleMessage(m, extra)
	if w.rng.chance(w.cfg.Net.Duplicate) {
		d := *m
		d.dup = true
		w.scheduleMessage(&d, extra)
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
	w.servers[m.server].disturbedAt = w.now
	w.stats.lost++
	b := w.tr.start(w.now)
	b = append(b, " drop "...)
	b = append(b, why...)
	b = appendMsg(b, w, m)
	w.tr.end(b)
}

func appendMsg(b []byte, w *World, m *message) []byte {
	b = append(b, ' ')
	if m.toServer {
		b = append(b, m.cmd.String()...)
	} else {
		b = append(b, "reply #"...)
		b = appendUint(b, m.res.ID)
		b = append(b, " from "...)
		b = append(b, w.servers[m.server].spec.ID...)
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
