package failover

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"
)

// Errors of an Approval that was valid once; both wrap
// ErrVerificationRequired, so a caller that asks the user to verify again
// on that error needs no change.
var (
	// ErrApprovalExpired: the Approval is older than Config.ApprovalTTL on
	// the Machine's clock, from before the Machine was restored, or dated
	// that far in its future.
	ErrApprovalExpired = errors.New("failover: the first-admin verification has expired")
	// ErrApprovalUsed: the Approval already approved an operation.
	ErrApprovalUsed = errors.New("failover: the first-admin verification was already used")
)

// DefaultApprovalTTL is how long an Approval stays valid.
const DefaultApprovalTTL = time.Minute

// FirstAdminVerifier is implemented by the vendor: it checks that whoever asks
// for an operation is the first admin user of the center (by password, a
// one-time code or a session, as the vendor's UI does it). Removing a standby
// server and deleting a Failover Group require it.
type FirstAdminVerifier interface {
	VerifyFirstAdmin(ctx context.Context) error
}

// VerifierFunc adapts a function to FirstAdminVerifier.
type VerifierFunc func(ctx context.Context) error

// VerifyFirstAdmin calls f.
func (f VerifierFunc) VerifyFirstAdmin(ctx context.Context) error { return f(ctx) }

// Operation names an operation that needs a first-admin verification.
type Operation string

// The operations QVR Center's manual guards with a first-admin verification.
const (
	OpRemoveStandbyServers Operation = "remove standby servers"
	OpDeleteGroup          Operation = "delete group"
)

// Approval proves that a first-admin verification for one operation
// succeeded. Only [VerifyFirstAdmin] and [VerifyFirstAdminAt] make one; the
// zero Approval proves nothing. An Approval approves one operation, once,
// for Config.ApprovalTTL after it was made: one obtained to remove a
// standby neither deletes a group nor removes a second standby later. It is
// spent only when the operation succeeds, so a refused operation (a server
// in takeover, say) can be retried with it while it is fresh.
//
// The Machine takes an Approval instead of a verifier so that it never
// calls out (the verifier may do IO) and stays deterministic: the Approval
// carries its time, which the Machine compares with its own clock, and a
// random ID, which the Machine only compares for equality.
type Approval struct {
	op Operation
	at time.Time
	id [16]byte
}

// Operation returns the operation a approves; "" for the zero Approval.
func (a Approval) Operation() Operation { return a.op }

// IssuedAt returns when the verification succeeded.
func (a Approval) IssuedAt() time.Time { return a.at }

// VerifyFirstAdmin asks v to verify the first admin user for operation op
// and returns the Approval the Machine's operation op needs, dated now by
// the wall clock. A Machine driven on another clock (a simulation, a test
// on virtual time) needs [VerifyFirstAdminAt].
func VerifyFirstAdmin(ctx context.Context, v FirstAdminVerifier, op Operation) (Approval, error) {
	return VerifyFirstAdminAt(ctx, v, op, time.Now())
}

// VerifyFirstAdminAt is VerifyFirstAdmin with the Approval dated now, on the
// clock that drives the Machine. A nil verifier, an operation other than
// [OpRemoveStandbyServers] and [OpDeleteGroup], or a failed verification is
// a *VerificationError wrapping ErrVerificationFailed; v is not asked for an
// unknown operation.
func VerifyFirstAdminAt(ctx context.Context, v FirstAdminVerifier, op Operation, now time.Time) (Approval, error) {
	if op != OpRemoveStandbyServers && op != OpDeleteGroup {
		return Approval{}, &VerificationError{Op: string(op), Err: fmt.Errorf("unknown operation %q", op)}
	}
	if v == nil {
		return Approval{}, &VerificationError{Op: string(op), Err: fmt.Errorf("no verifier")}
	}
	if err := ctx.Err(); err != nil {
		return Approval{}, &VerificationError{Op: string(op), Err: err}
	}
	if err := v.VerifyFirstAdmin(ctx); err != nil {
		return Approval{}, &VerificationError{Op: string(op), Err: err}
	}
	a := Approval{op: op, at: now}
	// crypto/rand.Read never fails (it crashes the program instead).
	_, _ = rand.Read(a.id[:])
	return a, nil
}

// checkApproval returns why a may not approve op now, or nil. It changes
// nothing: spend marks it used once the operation succeeded.
//
// A Machine that has not been given a time yet (no Tick, Step or restore)
// judges an Approval by its operation and single use only.
func (m *Machine) checkApproval(a Approval, op Operation, what string) error {
	switch {
	case a.op != op:
		return fmt.Errorf("%w: %s%s", ErrVerificationRequired, what, approvedOther(a))
	case m.spentApprovals[a.id]:
		return fmt.Errorf("%w: %s: %w", ErrVerificationRequired, what, ErrApprovalUsed)
	case m.now.IsZero():
		return nil
	case a.at.Before(m.approvalsFrom), m.now.Sub(a.at) > m.cfg.ApprovalTTL, a.at.Sub(m.now) > m.cfg.ApprovalTTL:
		return fmt.Errorf("%w: %s: %w (verified at %s, now %s)", ErrVerificationRequired, what, ErrApprovalExpired,
			a.at.Format(time.RFC3339), m.now.Format(time.RFC3339))
	}
	return nil
}

// spend marks a used, and forgets approvals that have expired anyway, so
// the set holds at most the approvals of one ApprovalTTL.
func (m *Machine) spend(a Approval) {
	if m.spentApprovals == nil {
		m.spentApprovals = make(map[[16]byte]bool)
		m.spentAt = make(map[[16]byte]time.Time)
	}
	for id, at := range m.spentAt {
		// Iterated only to delete: the order reaches no output.
		if !m.now.IsZero() && m.now.Sub(at) > 2*m.cfg.ApprovalTTL {
			delete(m.spentAt, id)
			delete(m.spentApprovals, id)
		}
	}
	m.spentApprovals[a.id] = true
	m.spentAt[a.id] = a.at
}

// approvedOther explains a refusal of an Approval made for another
// operation.
func approvedOther(a Approval) string {
	if a.op == "" {
		return ""
	}
	return fmt.Sprintf(" (the approval given is for %q)", a.op)
}
