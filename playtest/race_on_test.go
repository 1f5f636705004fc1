//go:build race

package playtest

// raceOn is true when the tests run under the race detector: slow sweeps
// then take their short form.
const raceOn = true
