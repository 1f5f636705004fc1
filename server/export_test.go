package server

// WritersHandedOff is writersHandedOff, for the external tests.
func WritersHandedOff() int64 { return writersHandedOff.Load() }
