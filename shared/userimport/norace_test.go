//go:build !race

package userimport

const raceEnabled = false
