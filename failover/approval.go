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

// Approval proves that a first-admin verification succeeded. Only
// [VerifyFirstAdmin] makes one; the zero Approval proves nothing. The Machine
// takes an Approval instead of a verifier so that it never calls out (the
// verifier may do IO) and stays deterministic.
type Approval struct {
	op string
}

// VerifyFirstAdmin asks v to verify the first admin user for operation op (for
// messages and audit) and returns the Approval the Machine's guarded
// operations need. A nil verifier or a failed verification is a
// *VerificationError wrapping ErrVerificationFailed.
func VerifyFirstAdmin(ctx context.Context, v FirstAdminVerifier, op string) (Approval, error) {
	if v == nil {
		return Approval{}, &VerificationError{Op: op, Err: fmt.Errorf("no verifier")}
	}
	if err := ctx.Err(); err != nil {
		return Approval{}, &VerificationError{Op: op, Err: err}
	}
	if err := v.VerifyFirstAdmin(ctx); err != nil {
		return Approval{}, &VerificationError{Op: op, Err: err}
	}
	if op == "" {
		op = "operation"
	}
	return Approval{op: op}, nil
}

func (a Approval) valid() bool { return a.op != "" }
