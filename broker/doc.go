// Package broker authenticates people, knows the hosts and whether they
// are online, pairs viewers with hosts and signs relay tickets. It is
// trusted with accounts and metadata, never with session content.
package broker
