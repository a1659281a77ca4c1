package viewer

import (
	"context"
	"errors"
	"fmt"

	"github.com/deskway/deskway/proto"
)

// Errors of Connect and Run. Each wraps the underlying error, so
// errors.Is(err, ErrWrongCode) and errors.As(err, &handshakeErr) both
// work; Explain turns them into a sentence for people.
var (
	// ErrWrongCode: the support code is malformed, no session waits under
	// its nameplate, or the host did not accept it (which can also mean a
	// man-in-the-middle).
	ErrWrongCode = errors.New("viewer: wrong support code")
	// ErrCodeExpired: the code was used, expired, or invalidated after
	// too many wrong attempts; the customer has a new one.
	ErrCodeExpired = errors.New("viewer: support code no longer valid")
	// ErrWrongPassword: the host did not accept the access password (or
	// a man-in-the-middle answered).
	ErrWrongPassword = errors.New("viewer: wrong host access password")
	// ErrHostOffline: the host is not connected to the broker, or never
	// came to the relay.
	ErrHostOffline = errors.New("viewer: host offline")
	// ErrHostBusy: another connection attempt to the host is under way.
	ErrHostBusy = errors.New("viewer: host busy")
	// ErrHostLocked: the host refuses attempts for a while after failed
	// ones (or only admits trusted devices).
	ErrHostLocked = errors.New("viewer: host locked after failed attempts")
	// ErrHostKeyChanged: the host's key is not the pinned one. A hard
	// failure: someone may be impersonating the host.
	ErrHostKeyChanged = errors.New("viewer: host key changed")
	// ErrConsentRefused: the person at the host refused or withdrew
	// viewing.
	ErrConsentRefused = errors.New("viewer: consent refused")
	// ErrConnectionLost: the connection broke and could not be resumed.
	ErrConnectionLost = errors.New("viewer: connection lost")
	// ErrNoRelay: no relay of the pairing could be reached.
	ErrNoRelay = errors.New("viewer: no relay reachable")
	// ErrNotSignedIn: the broker wants a signed-in user.
	ErrNotSignedIn = errors.New("viewer: not signed in")
	// ErrForbidden: the user may not do this (reach this host, join
	// support sessions).
	ErrForbidden = errors.New("viewer: not allowed")
	// ErrProtocol: the host broke the protocol.
	ErrProtocol = errors.New("viewer: protocol error")

	// ErrInputNotAllowed: input while view-only or without the host's
	// consent to control (or clipboard).
	ErrInputNotAllowed = errors.New("viewer: input not allowed")
	// ErrInputQueueFull: the input queue is full (the connection is
	// stalled); the event was dropped.
	ErrInputQueueFull = errors.New("viewer: input queue full")
	// ErrClosed: the session was closed.
	ErrClosed = errors.New("viewer: session closed")
)

// EndError reports that the host ended the session with an End message.
// errors.Is(err, ErrConsentRefused) is true for the consent reasons.
type EndError struct {
	Reason proto.EndReason
	Text   string // the host's explanation, may be empty
}

func (e *EndError) Error() string {
	s := "viewer: the host ended the session: " + e.Reason.String()
	if e.Text != "" {
		s += ": " + e.Text
	}
	return s
}

// Is matches ErrConsentRefused for refused or withdrawn consent.
func (e *EndError) Is(target error) bool {
	return target == ErrConsentRefused && (e.Reason == proto.EndConsentDenied || e.Reason == proto.EndConsentWithdrawn)
}

// wrap returns err as "kind: err", matching both.
func wrap(kind, err error) error {
	if err == nil || errors.Is(err, kind) {
		return err
	}
	return fmt.Errorf("%w: %w", kind, err)
}

// brokerError classifies an error of the broker's API.
func brokerError(mode proto.Mode, err error) error {
	var e *BrokerError
	if !errors.As(err, &e) {
		return err
	}
	switch e.Code {
	case codeNotFound:
		if mode == proto.ModeSupport {
			return wrap(ErrWrongCode, err)
		}
	case codeExpired:
		if mode == proto.ModeSupport {
			return wrap(ErrCodeExpired, err)
		}
	case codeHostOffline:
		return wrap(ErrHostOffline, err)
	case codeUnauthorized:
		return wrap(ErrNotSignedIn, err)
	case codeForbidden:
		return wrap(ErrForbidden, err)
	case codeUnavailable:
		return wrap(ErrNoRelay, err)
	}
	return err
}

// dialError classifies a failure to reach any relay: the Dial func says
// when the host never came (ErrHostOffline); anything else is ErrNoRelay.
func dialError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrHostOffline) {
		return err
	}
	return wrap(ErrNoRelay, err)
}

// handshakeError classifies a failed dw/1 handshake (SECURITY.md §4.2:
// the viewer never retries one on its own).
func handshakeError(mode proto.Mode, err error) error {
	var pm *proto.PinMismatchError
	switch {
	case errors.As(err, &pm):
		return wrap(ErrHostKeyChanged, err)
	case errors.Is(err, proto.ErrAuthFailed):
		if mode == proto.ModeSupport {
			return wrap(ErrWrongCode, err)
		}
		return wrap(ErrWrongPassword, err)
	case errors.Is(err, proto.ErrCodeExhausted), errors.Is(err, proto.ErrCodeUsed), errors.Is(err, proto.ErrCodeExpired):
		return wrap(ErrCodeExpired, err)
	case errors.Is(err, proto.ErrBusy):
		return wrap(ErrHostBusy, err)
	case errors.Is(err, proto.ErrRateLimited), errors.Is(err, proto.ErrUntrustedDevice):
		return wrap(ErrHostLocked, err)
	}
	return err
}

// Explain returns a sentence for people about an error of Connect or Run,
// the same in the native and the browser viewer.
func Explain(err error) string {
	var end *EndError
	switch {
	case err == nil, errors.Is(err, ErrClosed):
		return "Disconnected."
	case errors.Is(err, ErrWrongCode):
		return "Wrong code. Check the 9 digits with the customer and try again. (If the code is right, someone may be intercepting the connection.)"
	case errors.Is(err, ErrCodeExpired):
		return "This code is no longer valid. Ask the customer for the new code their screen shows."
	case errors.Is(err, ErrWrongPassword):
		return "Authentication failed: wrong host access password, or a man-in-the-middle. Nothing is retried automatically."
	case errors.Is(err, ErrHostKeyChanged):
		return "The host's key changed since the last connection. Someone may be impersonating it: the connection was refused. Remove the pin only if you know why the key changed."
	case errors.Is(err, ErrHostOffline):
		return "The host is offline. Check that the Deskway agent is running there."
	case errors.Is(err, ErrHostBusy):
		return "The host is busy with another connection attempt. Try again in a moment."
	case errors.Is(err, ErrHostLocked):
		return "The host refuses connections for a while after failed attempts."
	case errors.As(err, &end) && errors.Is(err, ErrConsentRefused):
		if end.Reason == proto.EndConsentWithdrawn {
			return "The person at the host stopped sharing the screen."
		}
		return "The person at the host refused the request."
	case errors.Is(err, ErrConsentRefused):
		return "The person at the host refused the request."
	case errors.As(err, &end):
		if end.Text != "" {
			return "The host ended the session (" + end.Reason.String() + "): " + end.Text
		}
		return "The host ended the session (" + end.Reason.String() + ")."
	case errors.Is(err, ErrConnectionLost):
		return "The connection was lost and could not be resumed."
	case errors.Is(err, ErrNoRelay):
		return "No relay could be reached. Check the network connection."
	case errors.Is(err, ErrNotSignedIn):
		return "Please sign in to the console first."
	case errors.Is(err, ErrForbidden):
		return "Your account may not do this."
	case errors.Is(err, ErrProtocol):
		return "The host sent something this viewer does not understand; the session was ended."
	case errors.Is(err, context.Canceled):
		return "Cancelled."
	case errors.Is(err, context.DeadlineExceeded):
		return "Timed out."
	}
	return "Error: " + err.Error()
}
