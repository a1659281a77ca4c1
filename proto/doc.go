// Package proto is the Deskway wire protocol. The full specification is
// being written; see docs/ARCHITECTURE.md.
package proto
