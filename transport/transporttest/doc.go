// Package transporttest is the conformance suite every [transport.Transport]
// must pass. A transport's own test hands [Run] a [Harness] that connects a
// fresh transport to a set of agents, and the suite checks that the transport
// behaves, as seen from the center, exactly like a direct call to the agent:
//
//	func TestConformance(t *testing.T) {
//		transporttest.Run(t, transporttest.Harness{
//			New: func(t *testing.T, agents map[nvrha.ServerID]transport.Agent) transporttest.Network {
//				tr := transport.NewInMemory()
//				for id, a := range agents {
//					if err := tr.Register(id, a); err != nil {
//						t.Fatal(err)
//					}
//				}
//				return transporttest.Network{
//					Transport: tr,
//					Kill:      func(id nvrha.ServerID) { tr.SetHook(id, transport.Drop()) },
//				}
//			},
//		})
//	}
//
// # What a transport must do
//
//   - Deliver every call to the agent registered under the server ID it names,
//     and to no other, with an order equal (reflect.DeepEqual) to the one the
//     caller passed, and return the agent's ProbeReport or Facts equal to
//     what the agent returned, epochs up to the largest uint64 and any valid
//     UTF-8 text included. An empty slice may arrive as nil and the other way
//     round: both mean "none". Neither side may alias the other's slices.
//   - Carry the agent's errors so that a center can act on them, as the next
//     section describes.
//   - Fail a call to a server it has no agent for, or one made unreachable by
//     [Network.Kill], with an error for which errors.Is(err,
//     [transport.ErrUnreachable]) holds, without delivering it.
//   - Honour the caller's context. A call made with a context that is already
//     done is not delivered and fails with an error for which errors.Is(err,
//     ctx.Err()) holds. A call whose context ends while the agent is still
//     working returns promptly (soon after the context ends, not when the agent
//     finishes; the suite allows 3 s, for slow machines) with an error for which errors.Is(err, ctx.Err())
//     holds: context.DeadlineExceeded for a deadline, context.Canceled for a
//     cancellation. A transport may also wrap [transport.ErrUnreachable] in
//     such an error, since the outcome is unknown; it must not make it look
//     like a definite refusal ([transport.ErrStaleEpoch] or
//     [transport.ErrInvalidOrder]).
//   - Refuse a malformed order (one whose Validate method fails) with an
//     error wrapping [transport.ErrInvalidOrder], changing nothing on the
//     agent, whether the transport refuses it before sending or the agent
//     does. A network transport must do so even for orders its encoding could
//     not carry faithfully, such as a camera ID that is not valid UTF-8.
//   - Be safe for concurrent use: many goroutines calling many servers at
//     once each get their own answer, and every agent sees exactly the calls
//     made to it.
//
// # How the agent's errors arrive
//
// A [*transport.StaleEpochError] (wrapped or not) arrives as an error for
// which errors.Is(err, [transport.ErrStaleEpoch]) holds and errors.As finds a
// *StaleEpochError with the same Key, Got and Newest.
//
// An error wrapping [transport.ErrInvalidOrder] arrives wrapping it.
//
// An error wrapping [transport.ErrUnreachable], from an agent that reports it
// cannot act (as agenttest.Server does while crashed), arrives wrapping it:
// the outcome is unknown either way.
//
// Any other error arrives as a definite refusal: an error that is none of the
// above and no context error either. If the harness lists a sentinel error in
// [Harness.Sentinels], errors.Is must also hold for it after the trip; other
// sentinels may be lost, as they are on a network that carries only text.
//
// In every case the message of the agent's error is part of the message of
// the error the center sees.
//
// The suite uses agents of its own and [agenttest.Server]; it does not need
// the transport to offer anything beyond [transport.Transport].
package transporttest
