//go:build race

package httptransport

// raceEnabled is true when the tests run with the race detector, which
// makes memory and timing figures meaningless.
const raceEnabled = true
