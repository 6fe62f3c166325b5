package check

import (
	"fmt"

	"github.com/nvrha/nvrha/failover"
)

// Invariant 0, the Ready loop: the Machine's Ready loop terminates (it
// goes quiet within 64 rounds of one event) and every command it sends is
// well formed (a valid kind, a server, an ID).

// readyStuck reports a Machine that still had a Ready after round rounds.
func (c *Checker) readyStuck(round int) {
	c.fail(0, fmt.Sprintf("the Machine still has a Ready after %d rounds in one event", round))
}

// malformed reports a command with no valid kind, server or ID.
func (c *Checker) malformed(cmd *failover.Command) {
	c.fail(0, fmt.Sprintf("the Machine sent a malformed command: %+v", *cmd))
}
