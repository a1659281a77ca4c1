package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Error codes in the "code" field of an error response.
const (
	CodeBadRequest   = "bad_request"
	CodeUnauthorized = "unauthorized"  // not signed in, or wrong name or password
	CodeTOTPRequired = "totp_required" // the password was right; a second factor is needed
	CodeForbidden    = "forbidden"
	CodeNotFound     = "not_found"
	CodeConflict     = "conflict"
	CodeRateLimited  = "rate_limited" // see Retry-After
	CodeHostOffline  = "host_offline"
	CodeExpired      = "expired"
	CodeInternal     = "internal"
	CodeUnavailable  = "unavailable" // e.g. no healthy relay
)

// Error is an error response of the broker.
type Error struct {
	Status     int           // HTTP status
	Code       string        // one of the Code constants
	Message    string        // for people
	RetryAfter time.Duration // from Retry-After, for CodeRateLimited
}

func (e *Error) Error() string {
	return fmt.Sprintf("api: %d %s: %s", e.Status, e.Code, e.Message)
}

// ErrorBody is the JSON of an error response.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// IsCode reports whether err is an *Error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// StatusFor returns the HTTP status the broker uses for a code.
func StatusFor(code string) int {
	switch code {
	case CodeBadRequest:
		return http.StatusBadRequest
	case CodeUnauthorized, CodeTOTPRequired:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeConflict, CodeHostOffline:
		return http.StatusConflict
	case CodeExpired:
		return http.StatusGone
	case CodeRateLimited:
		return http.StatusTooManyRequests
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
