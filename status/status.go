package status

import (
	"errors"
	"strconv"
)

// ErrUnknownStatus is wrapped by every error about a status value or code that
// names no Failover Status.
var ErrUnknownStatus = errors.New("status: unknown Failover Status")

// UnknownStatusError reports text that is not the code of any status of its
// type. It wraps [ErrUnknownStatus].
type UnknownStatusError struct {
	// Type is "recording" or "standby".
	Type string
	// Code is the rejected text, as given.
	Code string
}

func (e *UnknownStatusError) Error() string {
	return "status: unknown " + e.Type + " Failover Status code " + strconv.Quote(e.Code)
}

func (e *UnknownStatusError) Unwrap() error { return ErrUnknownStatus }

// Status is a Failover Status of either table: a [Recording] or a
// [Standby]. It lets code that lists servers of both roles show a status
// without a switch on the role.
type Status interface {
	// Label is the status as QVR Center's manual shows it.
	Label() string
	// Description is the manual's explanation of the status.
	Description() string
	// Code is a stable identifier for APIs and logs.
	Code() string
	// Valid reports whether the value is one of its table's statuses.
	Valid() bool
}

var (
	_ Status = Recording(0)
	_ Status = Standby(0)
)

// row is one row of a Failover Status table.
type row struct {
	code, label, description string
}

// invalidValueError is the MarshalText error of a value that is no status.
// Refusing to encode it keeps a never-derived status out of stored state and
// off the wire, where it would decode to nothing.
type invalidValueError struct {
	value string
}

func (e *invalidValueError) Error() string {
	return "status: cannot encode " + e.value + ": not a Failover Status"
}

func (e *invalidValueError) Unwrap() error { return ErrUnknownStatus }

// unknownName formats an unknown value the way fmt's %v does for other
// enumerations in the module, so that logs stay readable.
func unknownName(typ string, v uint8) string {
	return typ + "(" + strconv.Itoa(int(v)) + ")"
}
