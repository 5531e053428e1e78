package vrrp

import (
	"errors"
	"fmt"
	"io"
)

// dropError is the type of the sentinel errors that make a receiver drop an
// advert. Its reason is a short, stable label for metrics.
type dropError struct {
	reason string
	msg    string
}

func (e *dropError) Error() string { return e.msg }

// Sentinel errors. Parse, CheckLocal and AppendMarshal wrap them with the
// details; compare with errors.Is.
var (
	ErrTTL              error = &dropError{"ttl", "TTL/hop limit is not 255"}
	ErrVersion          error = &dropError{"version", "unsupported or unexpected version"}
	ErrType             error = &dropError{"type", "type is not ADVERTISEMENT"}
	ErrChecksum         error = &dropError{"checksum", "bad checksum"}
	ErrLength           error = &dropError{"length", "length does not match address count"}
	ErrAddrCount        error = &dropError{"addr_count", "bad address count"}
	ErrAddrFamily       error = &dropError{"addr_family", "address family mismatch"}
	ErrAddrList         error = &dropError{"addr_list", "address list differs from the local one"}
	ErrAuth             error = &dropError{"auth", "authentication mismatch"}
	ErrIntervalMismatch error = &dropError{"interval", "advert interval differs from the local one"}
	ErrInterval         error = &dropError{"interval_range", "advert interval not representable"}
	ErrVRID             error = &dropError{"vrid", "VRID not configured here"}
)

// ReasonShort is the label Reason gives io.ErrUnexpectedEOF (a message
// shorter than the fixed header).
const ReasonShort = "short"

// ReasonOther is the label Reason gives errors that wrap no sentinel.
const ReasonOther = "other"

// Reason returns the metrics label for an error returned by Parse or
// CheckLocal: "ttl", "version", "checksum", ... , "short" for a truncated
// message, "other" for anything else and "" for nil.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	var d *dropError
	if errors.As(err, &d) {
		return d.reason
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return ReasonShort
	}
	return ReasonOther
}

// Reasons lists every label Reason can return for a non-nil error, so that
// metrics can be pre-declared with all their labels.
func Reasons() []string {
	return []string{
		"ttl", "version", "type", "checksum", "length", "addr_count",
		"addr_family", "addr_list", "auth", "interval", "interval_range",
		"vrid", ReasonShort, ReasonOther,
	}
}

// errorf wraps a sentinel with the operation and details.
func errorf(op string, sentinel error, format string, args ...any) error {
	return fmt.Errorf("vrrp: %s: %w: %s", op, sentinel, fmt.Sprintf(format, args...))
}
