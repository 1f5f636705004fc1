package server

// WritersHandedOff is writersHandedOff, for the external tests.
func WritersHandedOff() int64 { return writersHandedOff.Load() }

// FramesHandedOff is framesHandedOff, for the external tests.
func FramesHandedOff() int64 { return framesHandedOff.Load() }
