// Package infra holds the Terraform that builds Event Stream Engine on
// Google Cloud (see README.md here) and, in its tests, the proof that the
// Terraform matches the code: every function, topic, subscription, index,
// setting, secret and permission the code needs is declared.
package infra
