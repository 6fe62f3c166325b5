// Package history is what the simulator's world and its observers share:
// the vocabulary of a run (the world's shape, its network, fault kinds,
// recovery paths, actions), the events the world reports as they happen,
// and the read-only View of the world an observer reads while it handles
// them.
package history
