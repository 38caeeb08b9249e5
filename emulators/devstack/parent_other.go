//go:build !linux

package main

// exitWithParent does nothing where there is no parent-death signal.
func exitWithParent() {}
