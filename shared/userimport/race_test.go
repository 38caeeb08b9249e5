//go:build race

package userimport

// raceEnabled shortens the long tests: the race detector makes number
// parsing some twenty times slower.
const raceEnabled = true
