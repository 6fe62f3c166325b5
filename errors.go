package nvrha

import "errors"

// ErrInvalidID is wrapped by every error about a malformed server or camera ID.
var ErrInvalidID = errors.New("nvrha: invalid ID")

// ErrInvalidFacts is wrapped by every error about malformed server facts.
var ErrInvalidFacts = errors.New("nvrha: invalid server facts")
