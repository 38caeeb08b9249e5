package segment

// Definition is a stub; replaced by the parser.
type Definition struct{}
