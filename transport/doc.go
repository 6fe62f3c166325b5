// Package transport owns the contract between a center and its servers: the
// messages they exchange, the [Transport] a center calls, the [Agent] a server
// implements, the errors both sides must agree on, and the epoch and term
// bookkeeping ([Fence]) that keeps a late or duplicated message, or one from a
// center that has been replaced, from doing harm. It also
// holds [InMemory], a Transport that calls in-process agents directly and can
// inject faults, for tests and simulations; package agenttest holds a reference
// Agent that behaves like a real server.
//
// The package decides nothing about failover. Which standby takes over, when
// failback starts and which epoch an order carries are the center's business;
// this package only carries orders and answers and defines what an agent must
// do with the epoch and the term an order carries.
//
// # Outcomes of a call
//
// A call that returns nil took effect. A call that fails with an error for
// which errors.Is(err, [ErrUnreachable]) holds may or may not have taken
// effect: the order may have been lost on the way, or carried out and its
// answer lost on the way back. The same is true of a call that fails with the
// caller's context error on a networked transport. A center therefore treats
// both as "unknown" and retries the same order, with the same epoch, until it
// gets a definite answer or decides to do something else (with a newer epoch).
// Every other error is a definite refusal by the agent: [ErrStaleEpoch],
// [ErrStaleTerm], [ErrInvalidOrder], or a reason of the agent's own.
//
// # Epochs
//
// Every order carries an [nvrha.Epoch] that the center draws from a sequence
// that only grows, also across center restarts. The rules:
//
//   - Epochs are keyed by the recording server whose cameras are at stake. A
//     [TakeoverOrder] or [ReleaseOrder] sent to a standby is keyed by its
//     Recording field; a [StandDownOrder] or [ResumeOrder] sent to a recording
//     server is keyed by that server itself. One sequence per recording server
//     thus orders every command about its cameras, whichever server receives
//     it, and epochs of different keys are never compared.
//   - Each agent keeps, per key, the newest epoch it has accepted, and refuses
//     an order with an older one with a [*StaleEpochError]. A refused order
//     changes nothing. This is what stops a delayed Takeover from a cancelled
//     attempt, or an order from a center that has since been replaced, from
//     making two servers record the same cameras.
//   - An order with an epoch equal to the newest is accepted. Since a caller
//     cannot know whether an unreachable call took effect, its only safe move
//     is to send the same order again; refusing equal epochs would turn every
//     lost answer into a permanent failure. Orders are therefore idempotent per
//     epoch: an agent accepts a retry of an order it has carried out, and
//     carrying it out again changes nothing.
//   - Because equal epochs are accepted, an order that undoes another must
//     carry a newer epoch than the order it undoes. If a Release carried the
//     Takeover's epoch, a delayed copy of that Takeover arriving after the
//     Release would be accepted as a retry and start recording again. A center
//     draws one new epoch per change of who records a recording server's
//     cameras: a takeover sends Takeover and StandDown with epoch e, the
//     failback after it sends Resume and Release with a later epoch.
//   - An agent records an epoch whenever it accepts an order, even one that
//     has nothing to do (a Release for cameras it does not record), so that a
//     cancelled takeover's Takeover still in flight is refused when it lands.
//   - An agent must keep its epochs across its own restarts (see
//     [Fence.Snapshot]); an agent that forgot them would accept the very
//     orders fencing exists to refuse.
//
// # Center terms
//
// Epochs order the commands of one center. Where several centers stand by
// for each other, one at a time leads, elected through a store they share,
// and each election gives the leader a center term: a number that grows with
// every election. Every order carries its sender's term (the Term field);
// probes and inventories carry none, as they change nothing.
//
//   - An agent keeps the newest term it has accepted, one for all keys, and
//     refuses an order with an older term with a [*StaleTermError], which
//     changes nothing, its epoch included. This is what stops a deposed
//     center that has not noticed yet (its host cut from the store but not
//     from the servers) from undoing what its successor ordered.
//   - An order with the newest term is accepted (subject to its epoch); one
//     with a newer term raises the agent's term. The term is checked before
//     the epoch and recorded with it.
//   - Term 0 means "no election": a single center sends it. It is accepted
//     while the agent has accepted no other term, so a single-center setup
//     works with agents that know terms, and refused afterwards.
//   - An agent keeps its term across its own restarts, with its epochs
//     ([Fence.Term], [Fence.AdmitTerm]).
//
// [Fence.AdmitOrder] does all of this.
package transport
