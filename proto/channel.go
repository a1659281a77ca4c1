package proto

// The secure channel "dw/1" (SECURITY.md §4). AcceptHost and DialViewer
// run the handshake (handshake.go: CPace or OPAQUE, then Noise XXpsk0),
// then the SAS commit–reveal (sas.go), and return a *Channel that carries
// application messages as records (record.go) and survives relay
// fail-over by resumption (resume.go).
//
// States:
//
//	open ──transport EOF / record error / silent peer──▶ interrupted
//	interrupted ──Resume(new conn) ok──▶ open
//	interrupted ──window (120 s) or budget (10/h) exceeded──▶ failed
//	any ──Close / authenticated CLOSE from the peer──▶ closed
//
// A transport EOF without an authenticated CLOSE is "interrupted"
// (ErrInterrupted), never "finished": a relay cannot truncate a session
// into a clean end. Tampering (ErrRecordAuth, ErrRecordOrder,
// ErrRecordMalformed) also interrupts: nothing from the bad record or
// after it is delivered, and the session may continue through another
// relay.
//
// Reliability across resumption: every application message gets an
// application sequence number (app_seq, one counter per direction, for
// reliable and unreliable messages alike). The receiver acknowledges
// cumulatively (ACK every AckInterval while reliable data arrived, and at
// once after every ackEagerBytes of it, so a sender's MaxUnacked buffer,
// not the ACK timer, bounds the throughput of reliable messages).
// Reliable messages stay buffered until acknowledged (at most MaxUnacked
// bytes: Send then waits). On resumption each side tells the other the
// last app_seq it received; reliable messages after it are retransmitted
// exactly once, in order, and unreliable ones are dropped and reported
// in ResumeInfo.Dropped, so the caller can send a keyframe. The receiver
// delivers app_seq strictly increasing, so nothing is delivered twice.
//
// Concurrency contract: Send may be called from any number of goroutines;
// Recv from one goroutine at a time; Close and Resume from any goroutine
// (a Resume waits for the previous connection's goroutines). Each
// connection has two goroutines, a reader (records → receive queue,
// ACK and CLOSE handling) and a ticker (ACKs, keepalives, liveness); both
// are owned by the Channel and Close returns only after they exited.
// Field ownership: tx, wbuf and writes on the connection are guarded by
// the wmu semaphore; the record opener of a connection is owned by its
// reader; everything else by mu.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ErrInterrupted: the connection ended without an authenticated CLOSE,
// or the peer went silent. The channel can be resumed on a new
// connection (Channel.Resume).
var ErrInterrupted = errors.New("proto: connection interrupted")

// ErrMessageTooLarge: a message exceeds MaxPayload.
var ErrMessageTooLarge = errors.New("proto: message exceeds MaxPayload")

// CloseReason is the reason in an authenticated CLOSE record.
type CloseReason uint8

const (
	CloseNormal   CloseReason = 1 // the session finished
	CloseUser     CloseReason = 2 // a user ended it
	CloseTimeout  CloseReason = 3 // idle or session time limit
	CloseShutdown CloseReason = 4 // the process is shutting down
	CloseProtocol CloseReason = 5 // the peer broke the protocol
	ClosePolicy   CloseReason = 6 // refused by policy (consent, permissions)
)

func (r CloseReason) String() string {
	switch r {
	case CloseNormal:
		return "finished"
	case CloseUser:
		return "ended by user"
	case CloseTimeout:
		return "timed out"
	case CloseShutdown:
		return "shutting down"
	case CloseProtocol:
		return "protocol error"
	case ClosePolicy:
		return "refused by policy"
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// CloseError reports that the channel was closed: by Close (Remote false)
// or by an authenticated CLOSE from the peer (Remote true).
type CloseError struct {
	Reason CloseReason
	Text   string
	Remote bool
}

func (e *CloseError) Error() string {
	who := "locally"
	if e.Remote {
		who = "by the peer"
	}
	s := fmt.Sprintf("proto: channel closed %s: %v", who, e.Reason)
	if e.Text != "" {
		s += ": " + e.Text
	}
	return s
}

// ChannelOptions tunes a channel. Zero fields take their defaults.
type ChannelOptions struct {
	KeepaliveInterval time.Duration // default 10 s: send a KEEPALIVE after this long without sending
	DeadAfter         time.Duration // default 30 s: interrupted after this long without a record
	AckInterval       time.Duration // default 100 ms: ACK cadence while reliable data arrives
	RekeyRecords      uint64        // default 2^20 records per epoch
	RekeyBytes        uint64        // default 256 MiB of plaintext per epoch
	RekeyAfter        time.Duration // default 10 min per epoch
	ResumeWindow      time.Duration // default 120 s since the last authenticated record
	MaxResumesPerHour int           // default 10
	MaxUnacked        int           // default 4 MiB of unacknowledged reliable messages
	RecvQueue         int           // default 64 received messages not yet taken by Recv
	HandshakeTimeout  time.Duration // default 60 s (Argon2id in wasm is slow)
	Clock             func() time.Time

	newAEAD  aeadFunc // tests: instrumented AEAD
	startSeq uint64   // tests: first record seq of both directions
}

func (o ChannelOptions) withDefaults() ChannelOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.KeepaliveInterval, 10*time.Second)
	def(&o.DeadAfter, 30*time.Second)
	def(&o.AckInterval, 100*time.Millisecond)
	def(&o.RekeyAfter, 10*time.Minute)
	def(&o.ResumeWindow, 120*time.Second)
	def(&o.HandshakeTimeout, 60*time.Second)
	if o.RekeyRecords == 0 {
		o.RekeyRecords = 1 << 20
	}
	if o.RekeyBytes == 0 {
		o.RekeyBytes = 256 << 20
	}
	if o.MaxResumesPerHour <= 0 {
		o.MaxResumesPerHour = 10
	}
	if o.MaxUnacked <= 0 {
		o.MaxUnacked = 4 << 20
	}
	if o.RecvQueue <= 0 {
		o.RecvQueue = 64
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return o
}

func (o *ChannelOptions) rekeyPolicy() rekeyPolicy {
	return rekeyPolicy{records: o.RekeyRecords, bytes: o.RekeyBytes, after: o.RekeyAfter}
}

// Channel is an established dw/1 channel. See the file comment for its
// states, invariants and concurrency contract.
type Channel struct {
	role   Role
	opts   ChannelOptions
	log    *slog.Logger
	rand   io.Reader
	sid    SessionID
	static StaticPrivate // own static key, for KKpsk0 resumption
	peer   StaticPublic
	hash   []byte // handshake hash of the XX handshake
	sas    string
	pin    PinStatus
	trust  bool

	// ctx is the channel's lifetime context: it bounds the goroutines'
	// blocking reads and writes and is cancelled by Close.
	ctx    context.Context
	cancel context.CancelFunc

	wmu  chan struct{} // 1-slot semaphore; guards tx, wbuf and conn writes
	tx   *recordSealer
	wbuf []byte

	rxq     chan []byte   // received messages for Recv
	closing chan struct{} // closed once the channel is closed or failed

	mu           sync.Mutex
	gen          *connGen // the current connection
	terminal     error    // set once: *CloseError or a resumption failure
	lastRx       time.Time
	lastTx       time.Time
	nextSeq      uint64 // last app_seq assigned to a message we sent
	rxSeq        uint64 // last app_seq we received and queued
	ackDue       bool
	rxUnacked    int           // reliable bytes received since the last ACK
	ackNow       chan struct{} // asks the tick loop for an ACK before its tick
	unacked      []sentMsg     // reliable messages sent, not acknowledged
	unackedBytes int
	spaceCh      chan struct{} // closed and replaced when unacked shrinks
	resume       resumeState

	wg sync.WaitGroup // every goroutine of every connection
}

// sentMsg is a reliable message kept for retransmission.
type sentMsg struct {
	seq  uint64
	data []byte
}

// connGen is one connection of the channel and its goroutines.
type connGen struct {
	conn        MsgConn
	rx          *recordOpener // owned by the reader goroutine
	done        chan struct{} // closed when the connection broke
	err         error         // why; written before done is closed
	once        sync.Once
	readBlocked atomic.Bool // the reader waits for Recv, not the network
	wg          sync.WaitGroup
}

func (g *connGen) broken() bool {
	select {
	case <-g.done:
		return true
	default:
		return false
	}
}

// AcceptHost runs dw/1 as the host on conn: the PAKE of cfg.Mode (with
// cfg.Limiter counting the attempt before the reply), Noise XXpsk0 and
// the SAS. It takes ownership of conn: on error conn is closed and the
// error is a *HandshakeError.
func AcceptHost(ctx context.Context, conn MsgConn, cfg HostConfig) (*Channel, error) {
	if err := cfg.check(); err != nil {
		conn.Close()
		return nil, err
	}
	return establish(ctx, conn, RoleHost, channelSetup{cfg.Options, cfg.Rand, cfg.Logger, cfg.SessionID, cfg.Static},
		func(r io.Reader, log *slog.Logger) handshaker {
			return &hostHandshake{cfg: &cfg, conn: conn, rand: r, log: log}
		}, nil)
}

// DialViewer runs dw/1 as the viewer on conn: the PAKE, Noise XXpsk0
// with the pin check of the host's static key, and the SAS. It pins the
// host on first contact. It takes ownership of conn: on error conn is
// closed and the error is a *HandshakeError. A failed handshake must not
// be retried automatically (each retry is a password guess for a fake
// host).
func DialViewer(ctx context.Context, conn MsgConn, cfg ViewerConfig) (*Channel, error) {
	if err := cfg.check(); err != nil {
		conn.Close()
		return nil, err
	}
	pin := func(c *Channel) error {
		if cfg.Pins == nil {
			return nil
		}
		_, ok, err := cfg.Pins.Lookup(cfg.HostID)
		if err != nil {
			return err
		}
		c.pin = PinMatched // the handshake already refused a mismatch
		if !ok {
			c.pin = PinNew
			return cfg.Pins.Pin(cfg.HostID, c.peer.Fingerprint())
		}
		return nil
	}
	return establish(ctx, conn, RoleViewer, channelSetup{cfg.Options, cfg.Rand, cfg.Logger, cfg.SessionID, cfg.Static},
		func(r io.Reader, log *slog.Logger) handshaker {
			return &viewerHandshake{cfg: &cfg, conn: conn, rand: r, log: log}
		}, pin)
}

// handshaker is one side of the dw/1 handshake.
type handshaker interface {
	run(ctx context.Context) (*handshakeResult, error)
	stageName() string
}

func (h *hostHandshake) stageName() string   { return h.stage }
func (v *viewerHandshake) stageName() string { return v.stage }

// channelSetup is what both configurations have in common.
type channelSetup struct {
	opts   ChannelOptions
	rand   io.Reader
	logger *slog.Logger
	sid    SessionID
	static StaticPrivate
}

// establish runs the handshake, the SAS and finish (the viewer's pinning)
// under one timeout and starts the channel.
func establish(ctx context.Context, conn MsgConn, role Role, cs channelSetup, newHS func(io.Reader, *slog.Logger) handshaker, finish func(*Channel) error) (*Channel, error) {
	opts := cs.opts.withDefaults()
	hctx, cancel := context.WithTimeout(ctx, opts.HandshakeTimeout)
	defer cancel()
	r := randOrDefault(cs.rand)
	log := loggerOrDiscard(cs.logger).With("session", cs.sid.String(), "role", role.String())
	h := newHS(r, log)
	res, err := h.run(hctx)
	if err != nil {
		sendAbort(hctx, conn, err)
		conn.Close()
		log.Info("handshake failed", "stage", h.stageName(), "err", err)
		return nil, &HandshakeError{Role: role, Stage: h.stageName(), Remote: isAbort(err), Err: err}
	}
	c := newChannel(role, conn, res, opts, r, log, cs.sid, cs.static)
	c.trust = res.trusted
	sas := c.sasHost
	if role == RoleViewer {
		sas = c.sasViewer
	}
	if err := sas(hctx); err != nil {
		sendAbort(hctx, conn, err)
		c.abandon()
		return nil, &HandshakeError{Role: role, Stage: "sas", Remote: isAbort(err), Err: err}
	}
	if finish != nil {
		if err := finish(c); err != nil {
			c.abandon()
			return nil, &HandshakeError{Role: role, Stage: "pin", Err: err}
		}
	}
	c.startGen(c.gen)
	log.Info("channel open", "peer", c.peer, "trusted", c.trust, "pin", c.pin.String())
	return c, nil
}

func isAbort(err error) bool {
	var a abortError
	return errors.As(err, &a)
}

func newChannel(role Role, conn MsgConn, res *handshakeResult, opts ChannelOptions, r io.Reader, log *slog.Logger, sid SessionID, static StaticPrivate) *Channel {
	now := opts.Clock()
	c := &Channel{
		role:    role,
		opts:    opts,
		log:     log,
		rand:    r,
		sid:     sid,
		static:  static,
		peer:    res.peer,
		hash:    res.hash,
		wmu:     make(chan struct{}, 1),
		rxq:     make(chan []byte, opts.RecvQueue),
		closing: make(chan struct{}),
		spaceCh: make(chan struct{}),
		ackNow:  make(chan struct{}, 1),
		lastRx:  now,
		lastTx:  now,
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.resume.rs = res.rs
	c.resume.hPrev = bytes.Clone(res.hash)
	c.tx = newRecordSealer(res.send, opts.newAEAD, opts.rekeyPolicy(), now)
	c.gen = &connGen{conn: conn, rx: newRecordOpener(res.recv, opts.newAEAD), done: make(chan struct{})}
	c.tx.seq, c.gen.rx.seq = opts.startSeq, opts.startSeq
	return c
}

// abandon tears down a channel that never started its goroutines.
func (c *Channel) abandon() {
	c.cancel()
	c.gen.conn.Close()
	c.wipe()
}

// startGen starts the goroutines of a connection.
func (c *Channel) startGen(g *connGen) {
	c.wg.Add(2)
	g.wg.Add(2)
	go c.readLoop(g)
	go c.tickLoop(g)
}

// SAS returns the 6-digit short authentication string, "482 913", that
// both ends show.
func (c *Channel) SAS() string { return c.sas }

// PeerStatic returns the peer's static key (its Fingerprint is what
// users compare and what pins hold).
func (c *Channel) PeerStatic() StaticPublic { return c.peer }

// HandshakeHash returns the Noise handshake hash h of the XX handshake:
// a channel binding unique to this session.
func (c *Channel) HandshakeHash() []byte { return bytes.Clone(c.hash) }

// PinStatus says whether the viewer pinned the host now or matched a pin.
func (c *Channel) PinStatus() PinStatus { return c.pin }

// PeerTrusted reports, on the host, that the viewer is one of the owner's
// trusted devices.
func (c *Channel) PeerTrusted() bool { return c.trust }

// Role returns which end of the channel this is.
func (c *Channel) Role() Role { return c.role }

// Send sends one application message of at most MaxPayload bytes.
// Reliable messages (input, clipboard, control) are delivered exactly
// once, in order, across resumptions; Send waits while MaxUnacked bytes
// are unacknowledged. Unreliable messages (screen fragments) are sent if
// the channel is connected and dropped otherwise (ResumeInfo.Dropped
// counts them). Send returns nil once the message is queued for delivery,
// also while the channel is interrupted; it returns the terminal error
// once the channel is closed or failed. ctx bounds the waits for buffer
// space and for other senders, not the transport write itself (which
// Close interrupts).
func (c *Channel) Send(ctx context.Context, msg []byte, reliable bool) error {
	if len(msg) > MaxPayload {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, len(msg), MaxPayload)
	}
	if reliable {
		if err := c.waitSpace(ctx, len(msg)); err != nil {
			return err
		}
	}
	if err := c.lockWrite(ctx); err != nil {
		return err
	}
	defer c.unlockWrite()
	c.mu.Lock()
	if c.terminal != nil {
		err := c.terminal
		c.mu.Unlock()
		return err
	}
	c.nextSeq++
	seq := c.nextSeq
	if reliable {
		c.unacked = append(c.unacked, sentMsg{seq, bytes.Clone(msg)})
		c.unackedBytes += len(msg)
	}
	g := c.gen
	c.mu.Unlock()
	if g.broken() {
		return nil
	}
	typ := recDatagram
	if reliable {
		typ = recData
	}
	var p [appSeqLen]byte
	binary.BigEndian.PutUint64(p[:], seq)
	// A failed write breaks the connection; the message is then
	// retransmitted after Resume (reliable) or counted as dropped.
	c.writeLocked(g, typ, p[:], msg)
	return nil
}

// waitSpace waits until a reliable message of n bytes fits the buffer.
func (c *Channel) waitSpace(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		if c.terminal != nil {
			err := c.terminal
			c.mu.Unlock()
			return err
		}
		if c.unackedBytes == 0 || c.unackedBytes+n <= c.opts.MaxUnacked {
			c.mu.Unlock()
			return nil
		}
		ch := c.spaceCh
		c.mu.Unlock()
		select {
		case <-ch:
		case <-c.closing:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// lockWrite takes the write semaphore; it gives up when ctx ends or the
// channel is closed.
func (c *Channel) lockWrite(ctx context.Context) error {
	select {
	case c.wmu <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.closing:
		return c.terminalErr()
	}
}

func (c *Channel) unlockWrite() { <-c.wmu }

// writeLocked seals and writes one record on g, preceded by a REKEY when
// the epoch is due. The caller holds wmu. A failure breaks g.
func (c *Channel) writeLocked(g *connGen, typ recordType, prefix, body []byte) error {
	return c.writeLockedCtx(c.ctx, g, typ, prefix, body)
}

// writeLockedCtx is writeLocked with the transport write bounded by ctx.
func (c *Channel) writeLockedCtx(ctx context.Context, g *connGen, typ recordType, prefix, body []byte) error {
	if g.broken() {
		return g.err
	}
	now := c.opts.Clock()
	if c.tx.needRekey(now) {
		if err := c.sealAndWrite(ctx, g, recRekey, nil, nil); err != nil {
			return err
		}
		if err := c.tx.rekey(now); err != nil {
			c.breakConn(g, err)
			return err
		}
		c.log.Debug("rekey", "dir", "send", "epoch", c.tx.epoch)
	}
	if err := c.sealAndWrite(ctx, g, typ, prefix, body); err != nil {
		return err
	}
	c.mu.Lock()
	c.lastTx = now
	c.mu.Unlock()
	return nil
}

// sealAndWrite seals one record into wbuf and writes it; a failure breaks g.
func (c *Channel) sealAndWrite(ctx context.Context, g *connGen, typ recordType, prefix, body []byte) error {
	var err error
	if c.wbuf, err = c.tx.seal(c.wbuf[:0], typ, prefix, body); err != nil {
		c.breakConn(g, err)
		return err
	}
	if err := g.conn.WriteMsg(ctx, c.wbuf); err != nil {
		err = c.transportErr(err)
		c.breakConn(g, err)
		return err
	}
	return nil
}

// transportErr maps a transport failure to the channel's error.
func (c *Channel) transportErr(err error) error {
	if c.ctx.Err() != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.terminal != nil {
			return c.terminal
		}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, ErrClosed) {
		return fmt.Errorf("%w: connection ended without CLOSE", ErrInterrupted)
	}
	return fmt.Errorf("%w: %v", ErrInterrupted, err)
}

// breakConn marks g broken with err and closes its transport.
func (c *Channel) breakConn(g *connGen, err error) {
	g.once.Do(func() {
		g.err = err
		close(g.done)
		g.conn.Close()
		var ce *CloseError
		if !errors.As(err, &ce) && c.ctx.Err() == nil {
			c.log.Info("connection interrupted", "err", err)
		}
	})
}

// setTerminal ends the channel with err (once).
func (c *Channel) setTerminal(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setTerminalLocked(err)
}

func (c *Channel) setTerminalLocked(err error) {
	if c.terminal != nil {
		return
	}
	c.terminal = err
	close(c.closing)
}

// Recv returns the next application message. After the connection broke
// it returns the queued messages, then the reason: an error matching
// ErrInterrupted or a record error (call Resume with a new connection),
// or a *CloseError or resumption failure once the channel ended. Only one
// goroutine may call Recv at a time.
func (c *Channel) Recv(ctx context.Context) ([]byte, error) {
	for {
		select {
		case m := <-c.rxq:
			return m, nil
		default:
		}
		c.mu.Lock()
		g, term := c.gen, c.terminal
		c.mu.Unlock()
		if term != nil {
			return nil, term
		}
		select {
		case m := <-c.rxq:
			return m, nil
		case <-g.done:
			select {
			case m := <-c.rxq:
				return m, nil
			default:
			}
			c.mu.Lock()
			same, term := c.gen == g, c.terminal
			c.mu.Unlock()
			if term != nil {
				return nil, term
			}
			if same {
				return nil, g.err
			}
			// Resumed in the meantime: wait on the new connection.
		case <-c.closing:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// closeGrace bounds how long Close tries to send its CLOSE record (behind
// other writers, through a back-pressured transport).
const closeGrace = 5 * time.Second

// Close sends an authenticated CLOSE with reason (if connected, within
// ctx and at most 5 s), ends the channel and waits for its goroutines,
// interrupting blocked reads and writes. It is idempotent. A channel
// closed while interrupted cannot tell the peer, which sees an
// interruption and fails to resume.
func (c *Channel) Close(ctx context.Context, reason CloseReason) error {
	c.mu.Lock()
	already := c.terminal != nil
	c.mu.Unlock()
	var err error
	if !already {
		cctx, cancel := context.WithTimeout(ctx, closeGrace)
		if err = c.lockWrite(cctx); err == nil {
			c.mu.Lock()
			g := c.gen
			c.mu.Unlock()
			if !g.broken() {
				err = c.writeLockedCtx(cctx, g, recClose, []byte{byte(reason)}, nil)
			}
			c.setTerminal(&CloseError{Reason: reason})
			c.unlockWrite()
		} else {
			c.setTerminal(&CloseError{Reason: reason})
		}
		cancel()
		c.log.Info("channel closed", "reason", reason.String())
	}
	c.shutdown()
	if err != nil && !errors.Is(err, ErrInterrupted) {
		return err
	}
	return nil
}

// shutdown stops every goroutine and wipes the keys.
func (c *Channel) shutdown() {
	c.cancel()
	c.mu.Lock()
	g := c.gen
	c.mu.Unlock()
	c.breakConn(g, c.terminalErr())
	c.wg.Wait()
	// Writers holding wmu return quickly now that the context is
	// cancelled and the transport closed.
	c.wmu <- struct{}{}
	c.tx.wipe()
	c.unlockWrite()
	c.mu.Lock()
	c.resume.wipe()
	c.mu.Unlock()
}

func (c *Channel) terminalErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.terminal
}

func (c *Channel) wipe() {
	c.tx.wipe()
	c.gen.rx.wipe()
	c.resume.wipe()
}

// readLoop reads the records of g until it breaks.
func (c *Channel) readLoop(g *connGen) {
	defer c.wg.Done()
	defer g.wg.Done()
	defer g.rx.wipe()
	for {
		m, err := g.conn.ReadMsg(c.ctx)
		if err != nil {
			c.breakConn(g, c.transportErr(err))
			return
		}
		typ, pt, err := g.rx.open(m)
		if err != nil {
			c.breakConn(g, err)
			return
		}
		if typ == recRekey {
			c.log.Debug("rekey", "dir", "recv", "epoch", g.rx.epoch)
		}
		stop, err := c.handleRecord(g, typ, pt)
		if err != nil {
			c.breakConn(g, err)
			return
		}
		if stop {
			return
		}
	}
}

// handleRecord processes one authenticated record. stop reports that the
// connection ended (CLOSE).
func (c *Channel) handleRecord(g *connGen, typ recordType, pt []byte) (stop bool, err error) {
	now := c.opts.Clock()
	c.mu.Lock()
	c.lastRx = now
	c.commitPendingLocked(g)
	c.mu.Unlock()
	switch typ {
	case recData, recDatagram:
		seq := binary.BigEndian.Uint64(pt[:appSeqLen])
		c.mu.Lock()
		last := c.rxSeq
		c.mu.Unlock()
		if seq <= last {
			return false, fmt.Errorf("%w: application message %d after %d", ErrRecordOrder, seq, last)
		}
		msg := bytes.Clone(pt[appSeqLen:])
		g.readBlocked.Store(true)
		select {
		case c.rxq <- msg:
		case <-g.done:
			g.readBlocked.Store(false)
			return true, nil
		case <-c.closing:
			g.readBlocked.Store(false)
			return true, nil
		}
		g.readBlocked.Store(false)
		c.mu.Lock()
		c.rxSeq = seq
		eager := false
		if typ == recData {
			c.ackDue = true
			c.rxUnacked += len(msg)
			eager = c.rxUnacked >= ackEagerBytes
		}
		c.mu.Unlock()
		if eager {
			select {
			case c.ackNow <- struct{}{}:
			default: // one is already asked for
			}
		}
	case recAck:
		a := binary.BigEndian.Uint64(pt)
		c.mu.Lock()
		defer c.mu.Unlock()
		if a > c.nextSeq {
			return false, fmt.Errorf("%w: ACK of %d, only %d sent", ErrRecordOrder, a, c.nextSeq)
		}
		c.ackLocked(a)
	case recKeepalive, recRekey:
	case recClose:
		ce := &CloseError{Reason: CloseReason(pt[0]), Text: string(pt[1:]), Remote: true}
		c.log.Info("channel closed by peer", "reason", ce.Reason.String())
		c.setTerminal(ce)
		c.breakConn(g, ce)
		return true, nil
	default:
		return false, fmt.Errorf("%w: unexpected %v record", ErrRecordMalformed, typ)
	}
	return false, nil
}

// ackLocked drops the reliable messages up to a.
func (c *Channel) ackLocked(a uint64) {
	i := 0
	for i < len(c.unacked) && c.unacked[i].seq <= a {
		c.unackedBytes -= len(c.unacked[i].data)
		i++
	}
	if i == 0 {
		return
	}
	c.unacked = slices.Delete(c.unacked, 0, i)
	close(c.spaceCh)
	c.spaceCh = make(chan struct{})
}

// ackEagerBytes of reliable data received make the receiver ACK at once:
// a quarter of the default MaxUnacked, so a sender with the default buffer
// keeps sending while the ACK travels.
const ackEagerBytes = 1 << 20

// tickLoop sends ACKs and keepalives and notices a silent peer.
func (c *Channel) tickLoop(g *connGen) {
	defer c.wg.Done()
	defer g.wg.Done()
	tick := min(c.opts.AckInterval, c.opts.KeepaliveInterval/2, c.opts.DeadAfter/4)
	tick = max(tick, time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-g.done:
			return
		case <-c.closing:
			return
		case <-t.C:
		case <-c.ackNow:
		}
		now := c.opts.Clock()
		c.mu.Lock()
		silent := now.Sub(c.lastRx)
		idle := now.Sub(c.lastTx)
		ack, ackSeq := c.ackDue, c.rxSeq
		c.ackDue, c.rxUnacked = false, 0
		c.mu.Unlock()
		if silent >= c.opts.DeadAfter && !g.readBlocked.Load() {
			c.breakConn(g, fmt.Errorf("%w: no record from the peer for %v", ErrInterrupted, silent.Round(time.Millisecond)))
			return
		}
		if !ack && idle < c.opts.KeepaliveInterval {
			continue
		}
		if c.lockWrite(c.ctx) != nil {
			return
		}
		if ack {
			var p [appSeqLen]byte
			binary.BigEndian.PutUint64(p[:], ackSeq)
			c.writeLocked(g, recAck, p[:], nil)
		} else {
			c.writeLocked(g, recKeepalive, nil, nil)
		}
		c.unlockWrite()
	}
}

// readRecordSync reads one record during channel setup (before the
// goroutines run) and checks its type.
func (c *Channel) readRecordSync(ctx context.Context, want recordType) ([]byte, error) {
	g := c.gen
	m, err := g.conn.ReadMsg(ctx)
	if err != nil {
		return nil, fmt.Errorf("read %v: %w", want, err)
	}
	if len(m) == 2 && handshakeType(m[0]) == hsAbort {
		return nil, abortError{abortReason(m[1])}
	}
	typ, pt, err := g.rx.open(m)
	if err != nil {
		return nil, err
	}
	if typ != want {
		return nil, fmt.Errorf("%w: got %v, want %v", ErrRecordMalformed, typ, want)
	}
	c.mu.Lock()
	c.lastRx = c.opts.Clock()
	c.mu.Unlock()
	return bytes.Clone(pt), nil
}

func (c *Channel) writeRecordSync(typ recordType, body []byte) error {
	if err := c.lockWrite(context.Background()); err != nil {
		return err
	}
	defer c.unlockWrite()
	return c.writeLocked(c.gen, typ, nil, body)
}

// sasHost runs the host's half of the SAS exchange (sas.go).
func (c *Channel) sasHost(ctx context.Context) error {
	nH, err := readNonce(c.rand, sasNonceLen)
	if err != nil {
		return err
	}
	commit := sasCommit(c.hash, nH)
	if err := c.writeRecordSync(recSASCommit, commit[:]); err != nil {
		return err
	}
	nV, err := c.readRecordSync(ctx, recSASNonce)
	if err != nil {
		return err
	}
	if err := c.writeRecordSync(recSASReveal, nH); err != nil {
		return err
	}
	c.sas = sasString(c.hash, nH, nV)
	return nil
}

// sasViewer runs the viewer's half of the SAS exchange.
func (c *Channel) sasViewer(ctx context.Context) error {
	commit, err := c.readRecordSync(ctx, recSASCommit)
	if err != nil {
		return err
	}
	nV, err := readNonce(c.rand, sasNonceLen)
	if err != nil {
		return err
	}
	if err := c.writeRecordSync(recSASNonce, nV); err != nil {
		return err
	}
	nH, err := c.readRecordSync(ctx, recSASReveal)
	if err != nil {
		return err
	}
	if err := sasCheck(commit, c.hash, nH); err != nil {
		return err
	}
	c.sas = sasString(c.hash, nH, nV)
	return nil
}
