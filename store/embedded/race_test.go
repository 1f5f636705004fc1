//go:build race

package embedded_test

// raceEnabled: the race detector adds allocations of its own, so an
// allocation ceiling has another value under it.
const raceEnabled = true
