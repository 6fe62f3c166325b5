package nvrha

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// MaxIDLength is the longest server or camera ID, in bytes.
const MaxIDLength = 128

// ServerID names a recording or standby server. It is chosen by the vendor and
// must be stable for the server's lifetime: groups, the ledger and fencing
// epochs are keyed by it.
type ServerID string

// CameraID names a camera. It is unique within the center.
type CameraID string

// Validate reports whether id is a usable server ID.
func (id ServerID) Validate() error { return validateID("server", string(id)) }

// Validate reports whether id is a usable camera ID.
func (id CameraID) Validate() error { return validateID("camera", string(id)) }

// validateID accepts non-empty, bounded, printable UTF-8 with no surrounding
// space, so that an ID can be shown in a UI, logged and used as a map key
// without surprises.
func validateID(kind, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty %s ID", ErrInvalidID, kind)
	case len(s) > MaxIDLength:
		return fmt.Errorf("%w: %s ID longer than %d bytes", ErrInvalidID, kind, MaxIDLength)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s ID %q is not valid UTF-8", ErrInvalidID, kind, s)
	}
	for i, r := range s {
		if !unicode.IsPrint(r) || (unicode.IsSpace(r) && (i == 0 || i+utf8.RuneLen(r) == len(s))) {
			return fmt.Errorf("%w: %s ID %q has a control or surrounding space character", ErrInvalidID, kind, s)
		}
	}
	return nil
}
