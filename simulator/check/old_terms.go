package check

import (
	"fmt"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
)

// Invariant 11, old terms: where several centers stand by for each other,
// no agent obeys an order of an old center term.
//
//   - An agent that carried out an order of term T never carries out an
//     order of a term below T afterwards, across its own crashes
//     (agentTerm). The check counts what each agent carried out from the
//     deliveries it sees, not from the agent's own fence: an agent that
//     forgot its term, or never kept one, is caught.
//   - No agent carries out an order its center sent once its term had
//     ended: a newer term granted, or its lease no longer held in the
//     store (sentAfterTerm). A leader stops ordering before its lease can
//     expire; orders it sent while its term held may still be carried out
//     by an agent that has not yet obeyed its successor.
//
// An order is carried out when its agent answers it without an error,
// unless the agent is hostile and acknowledges such orders without
// carrying them out (replay, fake-takeover). Probes and inventories carry
// no term; one center's orders carry term 0, which never breaks either.

func init() {
	register(11, "no agent obeys an order of an old center term", func() invariant { return &oldTerms{} })
}

// oldTerms is what invariant 11 remembers.
type oldTerms struct {
	// obeyed is the newest term each server carried out an order of, by
	// index (nil until an order of a term above 0 is carried out).
	obeyed []uint64
	// late are the orders sent after their term had ended, with what the
	// store held when they left.
	late map[sentOrder]string
}

// sentOrder is one order as sent: a command ID is fresh across terms
// (invariant 8), the server and term make it certain.
type sentOrder struct {
	id     uint64
	server nvrha.ServerID
	term   uint64
}

// wants the orders sent and delivered, where several centers send terms.
func (o *oldTerms) wants(c *Checker, k history.Kind) bool {
	return c.set.Centers > 1 && (k == history.CommandSent || k == history.Delivered)
}

func (o *oldTerms) observe(c *Checker, e *history.Event) {
	switch e.Kind {
	case history.CommandSent:
		if e.Term != 0 && e.Known && !e.Malformed {
			o.sent(c, e)
		}
	case history.Delivered:
		if e.Command.Kind > failover.CmdInventory && e.Result.Err == nil {
			o.carriedOut(c, e)
		}
	}
}

// sent notes an order that leaves once its term has ended.
func (o *oldTerms) sent(c *Checker, e *history.Event) {
	ct := c.center
	var why string
	switch {
	case e.Term < ct.StoreTerm:
		why = fmt.Sprintf("term %d had been granted", ct.StoreTerm)
	case e.Term == ct.StoreTerm && !ct.LeaseHeld:
		why = "its lease no longer held in the store"
	default:
		return
	}
	if o.late == nil {
		o.late = map[sentOrder]string{}
	}
	o.late[sentOrder{e.Command.ID, e.Command.Server, e.Term}] = fmt.Sprintf("it left at %s, when %s", fmtDur(c.now), why)
}

// carriedOut checks an order an agent answered without an error.
func (o *oldTerms) carriedOut(c *Checker, e *history.Event) {
	s := c.srv[e.Server]
	switch s.Hostile {
	case history.HostileReplay, history.HostileFakeTakeover:
		return // acknowledged, perhaps without carrying it out
	}
	cmd := e.Command
	if o.obeyed != nil && e.Term < o.obeyed[e.Server] {
		c.fail(11, fmt.Sprintf("%s carried out %s of center term %d after it had carried out an order of term %d: an agent keeps the newest term and refuses older ones",
			s.ID, cmd, e.Term, o.obeyed[e.Server]))
		return
	}
	if why, ok := o.late[sentOrder{cmd.ID, cmd.Server, e.Term}]; ok {
		c.fail(11, fmt.Sprintf("%s carried out %s of center term %d, which its center sent once its term had ended: %s",
			s.ID, cmd, e.Term, why))
		return
	}
	if e.Term > 0 {
		if o.obeyed == nil {
			o.obeyed = make([]uint64, len(c.srv))
		}
		o.obeyed[e.Server] = max(o.obeyed[e.Server], e.Term)
	}
}
