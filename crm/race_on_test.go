//go:build race

package crm_test

// raceOn is true when the tests run under the race detector, whose
// instrumentation allocates more: allocation budgets are not held then.
const raceOn = true
