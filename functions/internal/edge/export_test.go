package edge

// EventWith is Event with its max age and clock given, for tests.
var EventWith = eventWith
