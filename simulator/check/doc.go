// Package check checks the simulator's invariants on a running world. A
// Checker is a history.Observer: the world hands it every event as it
// happens, and it reads the world through a read-only history.View. The
// invariants, their numbers and names, what each forbids and which checks
// enforce it are in docs/invariants.md; each has its file here, named as
// that document names it (one_standby.go is invariant 1, and so on), and
// ready_loop.go holds invariant 0, the Ready loop itself. A new invariant
// can be one file that registers its own checker (register.go).
//
// The first violation goes to the Checker's Sink, which stops the run; a
// known issue (KnownIssues) the caller tolerates is recorded instead.
//
// A check runs only after an event that can break it: the Machine's view
// after an event whose call into the Machine changed what it persists or
// publishes (and after every admin operation and restart, and every tick
// at which the Machine's Generation moved), one server's ground truth
// after an event that touched that server, every server's after a fault
// or an admin operation, the time-bounded checks at every tick. The
// budgets derive from the Machine's configuration (Budgets).
package check
