// Package relay is the waypoint: it pairs the host and viewer ends of a
// session by their broker-signed tickets and forwards the end-to-end
// encrypted records between them, which it cannot read.
package relay
