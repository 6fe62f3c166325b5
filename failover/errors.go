package failover

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/eligibility"
)

// Sentinel errors. Every error a Machine returns wraps one of them, so callers
// can branch with errors.Is; the typed errors below carry the details.
var (
	ErrInvalidConfig        = errors.New("failover: invalid config")
	ErrInvalidGroupName     = errors.New("failover: invalid group name")
	ErrDuplicateGroupName   = errors.New("failover: group name already in use")
	ErrTooManyGroups        = errors.New("failover: too many failover groups")
	ErrGroupNotFound        = errors.New("failover: failover group not found")
	ErrDefaultGroup         = errors.New("failover: the default failover group cannot be deleted")
	ErrServerNotFound       = errors.New("failover: server not in any failover group")
	ErrNotMember            = errors.New("failover: server is not a member of this group in that role")
	ErrIneligible           = errors.New("failover: server not eligible")
	ErrEmptyBatch           = errors.New("failover: no servers given")
	ErrDuplicateServer      = errors.New("failover: server given twice")
	ErrInTakeover           = errors.New("failover: server is in the takeover process; disable it first")
	ErrVerificationRequired = errors.New("failover: verification as the first admin user is required")
	ErrVerificationFailed   = errors.New("failover: verification as the first admin user failed")
	ErrFactsChanged         = errors.New("failover: facts change not allowed")
)

// RejectedError reports every server of a batch that may not join a group,
// with all the rules each one failed. Nothing of the batch was added.
type RejectedError struct {
	Group   string
	Role    Role
	Servers []Rejection
}

// Rejection is one refused server and every rule it failed.
type Rejection struct {
	Server  nvrha.ServerID
	Reasons eligibility.Reasons
}

func (e *RejectedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "failover: %d server(s) not eligible as %s servers of %q", len(e.Servers), e.Role, e.Group)
	for _, r := range e.Servers {
		fmt.Fprintf(&b, "; %s: %s", r.Server, r.Reasons)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrIneligible) hold.
func (e *RejectedError) Unwrap() error { return ErrIneligible }

// InTakeoverError reports a server that cannot be removed because it is in the
// takeover process: a recording server whose cameras a standby records, or a
// standby that records them. Disable the server first.
type InTakeoverError struct {
	Server nvrha.ServerID
	// Peer is the other server of the takeover.
	Peer nvrha.ServerID
}

func (e *InTakeoverError) Error() string {
	return fmt.Sprintf("failover: server %s is in the takeover process with %s; disable it first", e.Server, e.Peer)
}

// Unwrap makes errors.Is(err, ErrInTakeover) hold.
func (e *InTakeoverError) Unwrap() error { return ErrInTakeover }

// VerificationError reports that the first-admin verification of an operation
// failed; Err is the verifier's own error.
type VerificationError struct {
	Op  string
	Err error
}

func (e *VerificationError) Error() string {
	return fmt.Sprintf("failover: %s: verification as the first admin user failed: %v", e.Op, e.Err)
}

// Unwrap returns both ErrVerificationFailed and the verifier's error.
func (e *VerificationError) Unwrap() []error { return []error{ErrVerificationFailed, e.Err} }
