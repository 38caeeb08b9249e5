// Package segment selects the people a campaign goes to, by a JSON
// definition over their attributes.
package segment

import "time"

// Segment is a named, stored definition.
type Segment struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Definition  Definition `json:"definition_json"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}
