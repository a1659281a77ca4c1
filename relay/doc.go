// Package relay is the waypoint: it pairs the host and viewer ends of a
// session by their broker-signed tickets and forwards the end-to-end
// encrypted records between them, which it cannot read.
//
// The wire is docs/ARCHITECTURE.md's "Relay wire": a WebSocket at
// /v1/relay, the ticket as the first binary message, notices as text
// messages, errors as close codes 4001–4009 (proto/ws names them).
//
// # Engine
//
// The cost that matters is CPU and memory per forwarded message and per
// idle connection, so the hot path does not use a goroutine per
// connection. On Linux, after the HTTP upgrade the relay takes the
// connection's file descriptor out of net/http and serves it from a few
// event loops (one per CPU) on edge-triggered epoll:
//
//	epoll_wait ─► read(fd, loop buffer) ─► parse frames, unmask in place,
//	rewrite headers in place ─► write(peer fd, same buffer)
//
// A pair session's messages are streamed through frame by frame, never
// read whole; one read and one write per chunk, no copy unless the peer's
// socket is full, in which case the rest waits in a pooled buffer and the
// sender is not read again until it drains (backpressure: a pair session
// never drops). Presentation sessions read the host's messages whole and
// copy them into each viewer's bounded queue; a viewer whose queue
// overflows loses the oldest messages and is told so with a "lost"
// notice. Both ends of a session live on the same loop, so forwarding
// takes no lock. An idle connection costs a small struct and its kernel
// socket buffers: no goroutine stack, no buffer. docs/perf-relay.md has the
// figures and the comparison with goroutine-per-connection designs.
//
// A connection that is not a plain socket (TLS served by the process
// itself) is bridged to its loop through a socket pair. Where there is no
// epoll, or with Config.Engine = EngineGoroutine, connections are served
// by github.com/coder/websocket with a goroutine each: the design the
// epoll engine was measured against.
//
// # Concurrency
//
// A Server is safe for concurrent use; several may run in one process.
// Each session and its connections are owned by one event loop goroutine;
// the registry of sessions and the single-use ticket cache are guarded by
// mutexes taken once per connection, never per message.
package relay
