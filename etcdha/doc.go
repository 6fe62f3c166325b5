// Package etcdha lets several nvrha centers stand by for each other through
// etcd, so that a center dying with its host no longer leaves the recording
// servers unprotected. It is a module of its own, so that the core module
// does not carry etcd.
//
// Each center runs a [Node]. The Nodes campaign in an etcd election
// (go.etcd.io/etcd/client/v3/concurrency) under Config.Store.Prefix+"leader";
// the one elected runs the failover.Controller, the others follow. The
// leader's term is the revision its election key was created at, which only
// grows from one election to the next; the Controller stamps it on every
// order (failover.ControllerConfig.Term) and agents refuse the orders of an
// older term (package transport, "Center terms"), so a deposed leader that
// has not noticed yet cannot undo what its successor ordered.
//
// # The State in etcd
//
// [Store] is a failover.Store that keeps the State under
// Prefix+"state/", one key per part, each value JSON:
//
//	state/meta                   version, next group and command IDs, counts
//	state/group/<10-digit ID>    name, protection, member IDs in order
//	state/member/<server ID>     the member's state, facts included
//	state/epoch/<server ID>      the newest epoch issued for the server
//	state/takeover/<6 digits>    a takeover in progress
//	state/owed/<6 digits>        an order owed to a server
//	state/ledger/<camera ID>     the camera's ledger
//
// It is a failover.DeltaStore: the Controller applies the Changes of each
// Ready, which write only the keys they name, encoded from the State the
// Store keeps (a failover.Replica), and saves the whole State when it
// starts and after a write that failed. Save writes only the keys whose
// value changed since the Store last read or wrote them. Both write in
// transactions guarded by the writer's leadership
// (If the election key still has the revision it was elected at): the
// writes of a deposed leader are refused, and its Controller stops
// (ErrNotLeader wraps failover.ErrTermRevoked). A save too large for one
// transaction is bracketed by the marker key Prefix+"saving", and Load
// reads the State as it was before an unfinished one (see [Store]).
//
// # Leases
//
// A Node's election key is bound to a lease of Config.LeaseTTL (5 s by
// default). The leader renews it every fifth of the TTL with a
// keep-alive whose sending time it notes: a renewal sent at t0 keeps the
// lease until at least t0+TTL. Its term holds until a fifth of the TTL
// before that; once that passes without a renewal (the leader is cut from
// etcd, or etcd is down) the term is revoked and the Controller sends no
// further order, before the lease can expire and another center be
// elected. The margin covers orders already on their way and clocks that
// run at slightly different rates.
//
// # Followers
//
// A follower watches the prefix and keeps the State the leader saved, and a
// Machine restored from it (Node.Warm), so that a State that would not
// restore shows up while there is time, and so that a promotion reads
// nothing from etcd: the new leader waits until its watch is complete up to
// the revision of its election, then hands what it holds to its Store. Its
// Controller restores the Machine once more, at the moment it leads, so
// that the timers of the takeovers in progress count from then.
//
// A leader that stops (its ctx ends) resigns, and a follower takes over at
// once; one that dies is replaced once its lease expires.
package etcdha
