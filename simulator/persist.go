package simulator

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
)

// persistIncrementally makes a Machine that can hand Changes do so: the
// center then persists what changed, not the whole State, as a
// Controller over a FileStore does. At a thousand servers the whole State
// at every change was most of the simulator's work.
func persistIncrementally(m Machine) {
	if im, ok := m.(interface{ SetIncremental(bool) }); ok {
		im.SetIncremental(true)
	}
}

// persistChanges persists Changes in the store. The observers see them
// first, with the State they change, so that a check compares the two
// without a copy of either.
func (c *center) persistChanges(ch failover.Changes) {
	c.w.emitPersistedChanges(c.store.last, &ch)
	if err := c.store.apply(ch); err != nil {
		c.w.ev.Err = err
		c.w.emitKind(history.StoreFailed)
		return
	}
	c.t.Persisted = c.store.last
}

// apply persists Changes: the store applies them to the State it holds
// (round-tripped through JSON for CenterConfig.JSONStore), in place. The
// State last persisted is then a new header over that State, so that a
// reader that keys on it sees a new one; the headers before it see the
// State changed under them.
func (s *store) apply(ch failover.Changes) error {
	s.saves++
	if s.json {
		data, err := json.Marshal(ch)
		if err != nil {
			return fmt.Errorf("encode changes: %w", err)
		}
		ch = failover.Changes{}
		if err := json.Unmarshal(data, &ch); err != nil {
			return fmt.Errorf("decode changes: %w", err)
		}
	}
	switch {
	case ch.Full != nil:
		rep, err := failover.NewReplica(*ch.Full)
		if err != nil {
			return err
		}
		s.rep = rep
	case s.rep == nil:
		return errors.New("changes to a store that holds no State")
	default:
		if err := s.rep.Apply(ch); err != nil {
			return err
		}
	}
	v := *s.rep.View()
	s.last = &v
	return nil
}

// heldState returns the State rd would have persisted over last: its
// State, or its Changes applied to a copy of last. Nil when it has
// neither, or its Changes do not apply (the checker then compares with
// what was persisted).
func heldState(rd *failover.Ready, last *failover.State) *failover.State {
	switch {
	case rd.State != nil:
		return rd.State
	case rd.Changes == nil:
		return nil
	case rd.Changes.Full != nil:
		return rd.Changes.Full
	case last == nil:
		return nil
	}
	rep, err := failover.NewReplica(cloneState(*last, nil))
	if err != nil || rep.Apply(*rd.Changes) != nil {
		return nil
	}
	st := rep.State()
	return &st
}
