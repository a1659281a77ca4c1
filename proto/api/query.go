package api

import (
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// MaxAuditLimit bounds the entries one audit query returns.
const MaxAuditLimit = 1000

// AuditQuery filters the audit log. Zero fields do not filter.
type AuditQuery struct {
	Action string    // exact action, or a prefix ending in "." ("user.")
	Actor  string    // exact actor
	Target string    // exact target
	Since  time.Time // entries at or after
	Until  time.Time // entries before
	Failed bool      // only failures
	Before int64     // entries with a smaller id (paging)
	Limit  int       // at most this many (0: 100; capped at MaxAuditLimit)
}

// Values encodes q as URL query parameters.
func (q AuditQuery) Values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("action", q.Action)
	set("actor", q.Actor)
	set("target", q.Target)
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format(time.RFC3339))
	}
	if q.Failed {
		v.Set("failed", "1")
	}
	if q.Before > 0 {
		v.Set("before", strconv.FormatInt(q.Before, 10))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

// ParseAuditQuery decodes the parameters made by Values. Dates may also be
// given as YYYY-MM-DD (UTC), as the console's date fields send them.
func ParseAuditQuery(v url.Values) (AuditQuery, error) {
	q := AuditQuery{
		Action: v.Get("action"),
		Actor:  v.Get("actor"),
		Target: v.Get("target"),
		Failed: v.Get("failed") == "1" || v.Get("failed") == "on",
	}
	for _, s := range []string{q.Action, q.Actor, q.Target} {
		if len(s) > 256 {
			return q, fmt.Errorf("api: audit query: filter longer than 256 bytes")
		}
	}
	var err error
	if q.Since, err = parseDate(v.Get("since")); err != nil {
		return q, fmt.Errorf("api: audit query: since: %w", err)
	}
	if q.Until, err = parseDate(v.Get("until")); err != nil {
		return q, fmt.Errorf("api: audit query: until: %w", err)
	}
	if s := v.Get("before"); s != "" {
		if q.Before, err = strconv.ParseInt(s, 10, 64); err != nil || q.Before < 0 {
			return q, fmt.Errorf("api: audit query: before %q: not an entry id", s)
		}
	}
	if s := v.Get("limit"); s != "" {
		if q.Limit, err = strconv.Atoi(s); err != nil || q.Limit < 0 {
			return q, fmt.Errorf("api: audit query: limit %q: not a count", s)
		}
	}
	if q.Limit == 0 {
		q.Limit = 100
	}
	q.Limit = min(q.Limit, MaxAuditLimit)
	return q, nil
}

func parseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor YYYY-MM-DD", s)
	}
	return t, nil
}
