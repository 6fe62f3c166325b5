package failover

import (
	"context"
	"fmt"
)

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

// The operations the seed guards with a first-admin verification.
const (
	OpRemoveStandbyServers Operation = "remove standby servers"
	OpDeleteGroup          Operation = "delete group"
)

// Approval proves that a first-admin verification for one operation
// succeeded. Only [VerifyFirstAdmin] makes one; the zero Approval proves
// nothing, and an Approval for one operation does not approve the other.
// The Machine takes an Approval instead of a verifier so that it never
// calls out (the verifier may do IO) and stays deterministic.
type Approval struct {
	op Operation
}

// Operation returns the operation a approves; "" for the zero Approval.
func (a Approval) Operation() Operation { return a.op }

// VerifyFirstAdmin asks v to verify the first admin user for operation op
// and returns the Approval the Machine's operation op needs. A nil verifier,
// an operation other than [OpRemoveStandbyServers] and [OpDeleteGroup], or
// a failed verification is a *VerificationError wrapping
// ErrVerificationFailed; v is not asked for an unknown operation.
func VerifyFirstAdmin(ctx context.Context, v FirstAdminVerifier, op Operation) (Approval, error) {
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
	return Approval{op: op}, nil
}

// approves reports whether a approves op.
func (a Approval) approves(op Operation) bool { return a.op == op }

// approvedOther explains a refusal of an Approval made for another
// operation.
func approvedOther(a Approval) string {
	if a.op == "" {
		return ""
	}
	return fmt.Sprintf(" (the approval given is for %q)", a.op)
}
