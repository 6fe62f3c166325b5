package check

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
)

// Invariant 8, nothing acknowledged is lost: group configuration and
// ledger survive a controller crash at any point.
//
//   - After every Machine call the groups, members, roles, enabled
//     switches and protection switches the Machine reports are exactly
//     those of the admin operations it acknowledged (acknowledged).
//   - Every persisted ledger extends the previous one: intervals appended,
//     open ones closed, the oldest dropped past the limit (persisted).
//   - At a crash the persisted State holds everything the live Machine
//     holds, takeover phases included (but the next command ID; owed
//     orders: every one the live Machine owes is persisted); a leader that
//     stops while the lease store refuses its State holds that State
//     (unpersisted); at the restart the restored Machine's State equals
//     the persisted one (restored), and its first Ready that sends
//     commands persists its State first (restoredReady).
//   - No command ID is sent by two incarnations of the center, so that a
//     late answer from before a restart is never taken for a new
//     command's (commandID, restored).
//   - After a confirmed takeover or a failback the ledger names the new
//     holder (holdersNamed); at the end every stretch a standby recorded
//     under a confirmed takeover is found by HoldersAt (ledgerAtEnd).

// nothingLost is what invariant 8 remembers.
type nothingLost struct {
	// idBefore is the newest command ID sent by an earlier incarnation of
	// the center, idNow by the current one.
	idBefore, idNow uint64
	restores        int
	// holders are the confirmed takeovers and failbacks of the current
	// event.
	holders []failover.Event
	// takeovers are the takeovers the Machine ran, and covers every
	// stretch a standby recorded a recording server's cameras, by standby
	// index: what the ledger must find at the end.
	takeovers history.Takeovers
	covers    map[int][]coverSpan
}

// coverSpan is a stretch in which a standby recorded Of's cameras; To is
// -1 while it goes on.
type coverSpan struct {
	of       nvrha.ServerID
	from, to time.Duration
}

func (n *nothingLost) init() { n.covers = map[int][]coverSpan{} }

// footage follows the standbys' cover streams.
func (n *nothingLost) footage(c *Checker, e *history.Event) {
	if !e.Cover {
		return
	}
	now := c.now
	spans := n.covers[e.Server]
	if k := len(spans) - 1; k >= 0 && spans[k].to < 0 {
		spans[k].to = now
	}
	if e.On {
		spans = append(spans, coverSpan{of: e.Of, from: now, to: -1})
	}
	n.covers[e.Server] = spans
}

// acknowledged checks that everything acknowledged is there: groups,
// members, roles, enabled switches, protection.
func (c *Checker) acknowledged(snap *failover.Snapshot) bool {
	exist := 0
	for _, gm := range c.v.Groups() {
		if !gm.Exists {
			continue
		}
		exist++
		var found *failover.GroupSnapshot
		for gi := range snap.Groups {
			if snap.Groups[gi].ID == gm.ID {
				found = &snap.Groups[gi]
			}
		}
		switch {
		case found == nil:
			c.fail(8, fmt.Sprintf("group %s (id %d) was acknowledged and is gone", history.GroupRef(gm.Index), gm.ID))
			return false
		case found.Name != gm.Name || found.Protection != gm.Protection:
			c.fail(8, fmt.Sprintf("group %s is %q protection=%v, acknowledged %q protection=%v",
				history.GroupRef(gm.Index), found.Name, found.Protection, gm.Name, gm.Protection))
			return false
		}
	}
	if exist != len(snap.Groups) {
		c.fail(8, fmt.Sprintf("the Machine has %d groups, %d were acknowledged", len(snap.Groups), exist))
		return false
	}
	acked := 0
	for i, s := range c.srv {
		ms := &c.mv.mem[i]
		if s.Member {
			acked++
		}
		switch {
		case ms.in != s.Member:
			c.fail(8, fmt.Sprintf("server %s member=%v in the Machine, acknowledged member=%v", s.ID, ms.in, s.Member))
			return false
		case ms.in && (ms.group.ID != s.Group.ID || ms.Role != s.Role || ms.Enabled != s.Enabled):
			c.fail(8, fmt.Sprintf("server %s is %s in group %d enabled=%v, acknowledged %s in group %d enabled=%v",
				s.ID, ms.Role, ms.group.ID, ms.Enabled, s.Role, s.Group.ID, s.Enabled))
			return false
		}
	}
	if c.mv.members != acked {
		c.fail(8, fmt.Sprintf("the Machine has %d members, %d were acknowledged", c.mv.members, acked))
		return false
	}
	return true
}

// holdersNamed checks that the ledger names who holds the footage from
// now on: the standby after a confirmed takeover, the recording server
// after a failback.
func (c *Checker) holdersNamed() bool {
	m := c.v.Machine()
	for _, e := range c.durable.holders {
		holder := holderOf(&e)
		i, ok := c.index(e.Server, 0)
		if !ok || len(c.srv[i].OwnCams) == 0 {
			continue
		}
		cam := c.cams[c.srv[i].OwnCams[0]].ID
		if !slices.ContainsFunc(m.HoldersAt(cam, history.Abs(c.now)), func(iv failover.Interval) bool { return iv.Server == holder }) {
			c.fail(8, fmt.Sprintf("after %s the ledger does not name %s as a holder of %s now: %+v", e.Kind, holder, cam, m.Ledger(cam)))
			return false
		}
	}
	c.durable.holders = c.durable.holders[:0]
	return true
}

// holderOf returns the server that records a recording server's cameras
// once e, a confirmed takeover or a completed failback, took effect.
func holderOf(e *failover.Event) nvrha.ServerID {
	if e.Kind == failover.EventFailbackCompleted {
		return e.Server
	}
	return e.Peer
}

// restoredReady checks the first Ready of a Machine just restored: it
// persists its State before it sends commands, since the restore moved
// command IDs on and a second crash before that is persisted would hand
// the same IDs out again.
func (c *Checker) restoredReady(rd *failover.Ready) {
	if rd.State == nil && rd.Changes == nil && len(rd.Commands) > 0 {
		c.fail(8, "the restored Machine sends commands before it persisted its State")
	}
}

// commandID checks that a command's ID was never used by an earlier
// incarnation of the center, so that a late answer from before a restart
// is never taken for the answer to a new command.
func (c *Checker) commandID(cmd *failover.Command) {
	n := &c.durable
	if cmd.ID <= n.idBefore {
		c.fail(8, fmt.Sprintf("%s has ID %d, but IDs up to %d were sent before the center restarted: a late answer could be taken for its own",
			cmd, cmd.ID, n.idBefore))
		return
	}
	n.idNow = max(n.idNow, cmd.ID)
}

// persisted checks every State persisted: its epochs (invariant 3) and
// that the ledger only grows.
func (c *Checker) persisted(prev, cur *failover.State) {
	if !c.epochsPersisted(cur, prev == nil) || prev == nil {
		return
	}
	limit := c.set.Failover.LedgerLimit
	if !byCamera(prev.Ledger) || !byCamera(cur.Ledger) {
		c.ledgerGrowsAnyOrder(prev, cur, limit)
		return
	}
	// Both ledgers are in camera order (the Machine exports them so): walk
	// them side by side. A camera whose intervals the store shares with
	// the previous State (it found them equal) extends them.
	lost := -1 // the first camera of prev that cur lost, reported last
	j := 0
	for _, cl := range cur.Ledger {
		for j < len(prev.Ledger) && prev.Ledger[j].Camera < cl.Camera {
			if lost < 0 && len(prev.Ledger[j].Intervals) > 0 {
				lost = j
			}
			j++
		}
		var old []failover.Interval
		if j < len(prev.Ledger) && prev.Ledger[j].Camera == cl.Camera {
			old = prev.Ledger[j].Intervals
			j++
		}
		if sameSlice(old, cl.Intervals) {
			continue
		}
		if err := ledgerExtends(old, cl.Intervals, limit); err != "" {
			c.fail(8, fmt.Sprintf("ledger of %s: %s", cl.Camera, err))
			return
		}
	}
	for ; lost < 0 && j < len(prev.Ledger); j++ {
		if len(prev.Ledger[j].Intervals) > 0 {
			lost = j
		}
	}
	if lost >= 0 {
		cl := prev.Ledger[lost]
		c.fail(8, fmt.Sprintf("ledger of %s lost all %d intervals", cl.Camera, len(cl.Intervals)))
	}
}

// persistedChanges checks Changes persisted to prev, before they are
// applied: the epochs they raise (invariant 3), and that each camera's
// intervals only grow. What a change keeps of a camera's intervals it
// keeps as they were; the intervals it replaces must be the start of those
// it gives, and the ones it drops, the oldest, only at the ledger's limit.
func (c *Checker) persistedChanges(prev *failover.State, ch *failover.Changes) {
	if ch.Full != nil {
		c.persisted(prev, ch.Full)
		return
	}
	if !c.epochsChanged(ch.Epochs) {
		return
	}
	limit := c.set.Failover.LedgerLimit
	for _, lc := range ch.Ledger {
		var old []failover.Interval
		if prev != nil {
			if i, ok := slices.BinarySearchFunc(prev.Ledger, lc.Camera, func(cl failover.CameraLedger, id nvrha.CameraID) int {
				return cmp.Compare(cl.Camera, id)
			}); ok {
				old = prev.Ledger[i].Intervals
			}
		}
		n := lc.Keep + len(lc.Intervals)
		switch {
		case lc.Trim < 0 || lc.Keep < 0 || lc.Trim+lc.Keep > len(old):
			c.fail(8, fmt.Sprintf("ledger of %s: a change drops %d and keeps %d of %d intervals", lc.Camera, lc.Trim, lc.Keep, len(old)))
		case lc.Trim > 0 && (limit <= 0 || n < limit):
			c.fail(8, fmt.Sprintf("ledger of %s: %d intervals dropped, leaving %d, under the limit of %d", lc.Camera, lc.Trim, n, limit))
		case !prefixOf(old[lc.Trim+lc.Keep:], lc.Intervals):
			c.fail(8, fmt.Sprintf("ledger of %s: %d intervals became %d that do not extend them", lc.Camera, len(old), len(old)-lc.Trim-lc.Keep+n))
		default:
			continue
		}
		return
	}
}

// ledgerGrowsAnyOrder is persisted's ledger check for ledgers not in
// camera order.
func (c *Checker) ledgerGrowsAnyOrder(prev, cur *failover.State, limit int) {
	old := map[nvrha.CameraID][]failover.Interval{}
	for _, cl := range prev.Ledger {
		old[cl.Camera] = cl.Intervals
	}
	for _, cl := range cur.Ledger {
		if err := ledgerExtends(old[cl.Camera], cl.Intervals, limit); err != "" {
			c.fail(8, fmt.Sprintf("ledger of %s: %s", cl.Camera, err))
			return
		}
		delete(old, cl.Camera)
	}
	for _, cl := range prev.Ledger {
		if ivs := old[cl.Camera]; len(ivs) > 0 {
			c.fail(8, fmt.Sprintf("ledger of %s lost all %d intervals", cl.Camera, len(ivs)))
			return
		}
	}
}

// byCamera reports whether a ledger is in strictly increasing camera order.
func byCamera(l []failover.CameraLedger) bool {
	for i := 1; i < len(l); i++ {
		if l[i-1].Camera >= l[i].Camera {
			return false
		}
	}
	return true
}

// sameSlice reports whether a and b are the same slice (one backing array,
// one length), as the store shares an unchanged camera's intervals.
func sameSlice(a, b []failover.Interval) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// ledgerExtends reports why next is not prev with open intervals closed
// and new ones appended (and, once the ledger is at its limit, the oldest
// dropped), or "".
func ledgerExtends(prev, next []failover.Interval, limit int) string {
	if prefixOf(prev, next) {
		return ""
	}
	if limit > 0 && len(next) >= limit {
		for k := 1; k <= len(prev); k++ {
			if prefixOf(prev[k:], next) {
				return ""
			}
		}
	}
	return fmt.Sprintf("%d intervals became %d that do not extend them", len(prev), len(next))
}

func prefixOf(prev, next []failover.Interval) bool {
	if len(prev) > len(next) {
		return false
	}
	for i, p := range prev {
		n := next[i]
		if p.Server != n.Server || p.Epoch != n.Epoch || !p.From.Equal(n.From) {
			return false
		}
		if !p.To.IsZero() && !p.To.Equal(n.To) {
			return false
		}
	}
	return true
}

// restored checks a restart: the restored Machine holds exactly the
// persisted State, its next command ID is fresh, and its epochs are at
// least every epoch ever sent (invariant 3).
func (c *Checker) restored(st *failover.State) {
	n := &c.durable
	n.takeovers.Restored(st, c.now)
	n.restores++
	c.settle.outage = true
	live := c.v.Machine().State()
	if ok, a, b := sameState(&live, st); !ok {
		c.fail(8, "the restored Machine's State differs from the persisted one:\n  restored:  "+a+"\n  persisted: "+b)
		return
	}
	n.idBefore = max(n.idBefore, n.idNow)
	if next := live.NextCommandID; next <= n.idBefore {
		c.fail(8, fmt.Sprintf("the restored Machine's next command ID is %d, but IDs up to %d were sent before the restart", next, n.idBefore))
		return
	}
	c.epochsRestored()
}

// unpersisted checks, before a crash, that the Machine had persisted
// everything it acknowledged. A leader that stops while the store refuses
// its State (held, several centers) must hold exactly that State beyond
// the persisted one: nothing of it was sent.
func (c *Checker) unpersisted(held *failover.State) {
	pers := c.center.Persisted
	if held != nil {
		pers = held
	}
	m := c.v.Machine()
	if m == nil || pers == nil {
		return
	}
	live := m.State()
	for _, o := range live.Owed {
		if !slices.ContainsFunc(pers.Owed, func(x failover.OwedState) bool { return reflect.DeepEqual(x, o) }) {
			c.fail(8, fmt.Sprintf("the Machine owes %s a %s (epoch %d) that it never persisted", o.Server, o.Kind, o.Epoch))
			return
		}
	}
	live.Owed = nil
	if ok, a, b := sameState(&live, withoutOwed(pers)); !ok {
		c.fail(8, "the Machine holds changes it never persisted:\n  live:      "+a+"\n  persisted: "+b)
	}
}

// withoutOwed returns a copy of st without its owed orders.
func withoutOwed(st *failover.State) *failover.State {
	out := *st
	out.Owed = nil
	return &out
}

// ledgerAtEnd checks at the end of the run that every stretch in which a
// standby in fact recorded a recording server's cameras under a takeover
// the Machine confirmed is found in the ledger (HoldersAt), so that
// footage made on a standby stays findable after failback.
func (c *Checker) ledgerAtEnd() {
	m := c.v.Machine()
	if m == nil {
		return
	}
	now := c.now
	n := &c.durable
	n.takeovers.Close(now)
	limit := c.set.Failover.LedgerLimit
	for _, tk := range n.takeovers.Spans {
		if tk.Confirmed < 0 {
			continue
		}
		ri, ok1 := c.index(tk.Recording, -1)
		si, ok2 := c.index(tk.Standby, -1)
		if !ok1 || !ok2 || len(c.srv[ri].OwnCams) == 0 {
			continue
		}
		cam := c.cams[c.srv[ri].OwnCams[0]].ID
		log := m.Ledger(cam)
		for _, sp := range n.covers[si] {
			if sp.of != tk.Recording {
				continue
			}
			to := sp.to
			if to < 0 {
				to = now
			}
			from, to := max(sp.from, tk.Confirmed), min(to, tk.To)
			if to-from < 2*time.Second {
				continue
			}
			mid := from + (to-from)/2
			if len(log) >= limit && limit > 0 && history.Abs(mid).Before(log[0].From) {
				continue // dropped past the ledger limit
			}
			if !slices.ContainsFunc(m.HoldersAt(cam, history.Abs(mid)), func(iv failover.Interval) bool { return iv.Server == tk.Standby }) {
				c.fail(8, fmt.Sprintf("%s recorded %s at %s under a confirmed takeover, but the ledger does not find it there: %+v",
					tk.Standby, cam, fmtDur(mid), log))
				return
			}
		}
	}
}

// sameState reports whether a live and a persisted State agree, but for
// what may legitimately differ between them: the next command ID (not
// persisted on every command; commandID checks that IDs never repeat), and
// an empty list of failovers. A takeover's phase and start are compared:
// every phase change is persisted. When they differ it returns both, as
// JSON, around where they first differ.
//
// The ledgers, most of a large State, are compared interval by interval
// with ==, which implies reflect.DeepEqual's equality; the rest with
// reflect.DeepEqual. Only when either finds a difference are both encoded,
// so two States that differ in form alone (equal instants in different
// locations) still agree.
func sameState(live, pers *failover.State) (ok bool, a, b string) {
	got, want := comparable(live), comparable(pers)
	if slices.EqualFunc(live.Ledger, pers.Ledger, sameCameraLedger) && reflect.DeepEqual(got, want) {
		return true, "", ""
	}
	got.Ledger, want.Ledger = live.Ledger, pers.Ledger
	if reflect.DeepEqual(got, want) {
		return true, "", ""
	}
	ok, a, b = jsonEqual(got, want)
	if ok {
		return true, "", ""
	}
	a, b = diffAt(a, b)
	return false, a, b
}

func sameCameraLedger(x, y failover.CameraLedger) bool {
	return x.Camera == y.Camera && slices.Equal(x.Intervals, y.Intervals)
}

// comparable returns what sameState compares of st besides its ledger: a
// copy without the next command ID, its empty lists of failovers nil. It
// copies only the members; nothing of st changes.
func comparable(st *failover.State) failover.State {
	out := *st
	out.NextCommandID = 0
	out.Ledger = nil
	out.Groups = slices.Clone(st.Groups)
	for gi := range out.Groups {
		members := slices.Clone(out.Groups[gi].Members)
		for mi := range members {
			if len(members[mi].Failovers) == 0 {
				members[mi].Failovers = nil
			}
		}
		out.Groups[gi].Members = members
	}
	return out
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

// diffAt returns both strings around where they first differ.
func diffAt(a, b string) (string, string) {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(0, i-200)
	cut := func(s string) string {
		hi := min(len(s), i+200)
		if lo >= hi {
			return "(end)"
		}
		return "..." + s[lo:hi] + "..."
	}
	return cut(a), cut(b)
}
