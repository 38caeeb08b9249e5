package edge

import "context"

// SetExit replaces os.Exit for a test and returns the undo.
func SetExit(f func(int)) func() {
	old := exit
	exit = f
	return func() { exit = old }
}

// Handling is l as an EventHandler with no age limit.
func Handling(l *Lazy[Handler]) *Lazy[EventHandler] {
	return &Lazy[EventHandler]{Build: func(ctx context.Context) (EventHandler, error) {
		h, err := l.Get(ctx)
		return EventHandler{Handle: h}, err
	}}
}
