package edge

// SetExit replaces os.Exit for a test and returns the undo.
func SetExit(f func(int)) func() {
	old := exit
	exit = f
	return func() { exit = old }
}

// EventWith is Event with its max age and clock given, for tests.
var EventWith = eventWith
