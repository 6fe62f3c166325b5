package check

import (
	"strconv"

	"github.com/nvrha/nvrha/simulator/history"
)

// invariant checks one invariant of its own, registered by its file: a
// new invariant can be one file, whose init calls register with a
// function that makes its checker. The invariants 0 to 10 are checked by
// the Checker's own methods, in an order that reports the same first
// violation event after event; a registered one sees every event after
// them.
type invariant interface {
	// observe checks the invariant on one event, reading the world through
	// c.v (c.now is the event's time), and reports with c.fail.
	observe(c *Checker, e *history.Event)
}

// selective is an invariant that sees only the kinds of events it wants,
// as its Checker's world is: a cheaper Checker for the events it does not.
type selective interface {
	wants(c *Checker, k history.Kind) bool
}

// registered are the makers of the registered invariants' checkers, in
// the order they were registered, and registeredNames their names by
// number.
var (
	registered      []func() invariant
	registeredNames = map[int]string{}
)

// register adds invariant number (above 10, as docs/invariants.md numbers
// it) named name: every Checker made afterwards checks it with a checker
// of its own, made by newInvariant.
func register(number int, name string, newInvariant func() invariant) {
	if number < len(Names) || registeredNames[number] != "" {
		panic("check: invariant " + strconv.Itoa(number) + " registered twice") // a programming error
	}
	registeredNames[number] = name
	registered = append(registered, newInvariant)
}

// Name returns the name of invariant number, built in or registered.
func Name(number int) string {
	if number >= 0 && number < len(Names) {
		return Names[number]
	}
	if n, ok := registeredNames[number]; ok {
		return n
	}
	return "invariant " + strconv.Itoa(number)
}
