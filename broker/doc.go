// Package broker authenticates people, knows the hosts and whether they
// are online, pairs viewers with hosts and signs relay tickets. It is
// trusted with accounts and metadata, never with session content: it sees
// nameplates, never the support code's secret digits, and for unattended
// sessions the owner's id, never the host access password.
//
// A Server serves the API of package proto/api under /api/v1/, the web
// console (server-rendered pages from package web) and the hosts' control
// WebSockets. Its state is in a Store: SQLite (one file, the default) or
// PostgreSQL, on which several Servers are one service (offers to a host
// travel through the database with LISTEN/NOTIFY to the instance holding
// its control connection). The embedded relay is the command's business:
// Config.ExtraHandlers mounts it and Server.ReportRelaySession takes its
// reports; this package does not import package relay.
//
// Accounts: Argon2id password hashes (PHC strings, a bounded number
// computed at once, the same cost for unknown users), rate limits per
// client network and per account with a growing delay and no permanent
// lock, TOTP with replay refusal and recovery codes, opaque session tokens
// stored as SHA-256, __Host- cookies, http.CrossOriginProtection and a
// strict Content-Security-Policy. Ticket signing keys (Ed25519, with key
// ids) and TOTP secrets are sealed in the store with the data key; keys
// rotate with a publication lead so that relays learn them first.
//
// docs/api.md lists the endpoints; SECURITY.md §5 is the design.
package broker
