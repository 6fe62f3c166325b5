//go:build race

package simulator

// raceEnabled is set when the tests run under the race detector, which
// makes a simulated hour some twenty times slower.
const raceEnabled = true
