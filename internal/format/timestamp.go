package format

import (
	"errors"
	"sync/atomic"
	"time"
)

// maxSlowTimestamp bounds the timestamps handed to time.Parse when the fast path fails,
// so that a garbage "timestamp" field (a long word with no space) is not copied.
const maxSlowTimestamp = 64

var errTimestampTooLong = errors.New("format: timestamp too long")

// ParseTimestamp parses a container runtime timestamp exactly as the kubelet does with
// time.Parse(time.RFC3339Nano, ...): "2006-01-02T15:04:05" followed by an optional
// fraction of any width (digits past the ninth are truncated) and either "Z" or a
// "±hh:mm" offset. This covers containerd (variable-width fraction, local zone) and
// CRI-O/conmon (9 digits, numeric offset, never "Z"). Impossible dates and times
// (month 13, Feb 30, hour 24, second 60) are rejected.
//
// The common shapes take an allocation-free fast path; only unusual spellings that
// time.Parse also accepts (a one-digit hour, a ',' before the fraction, a +24:00
// offset) go through time.Parse, and those are limited to 64 bytes.
//
// The result has location time.UTC for "Z" and for a zero offset, and otherwise a
// fixed zone (named "") with the line's offset, shared between calls.
func ParseTimestamp(b []byte) (time.Time, error) {
	if t, ok := parseTimestampFast(b); ok {
		return t, nil
	}
	if len(b) > maxSlowTimestamp {
		return time.Time{}, errTimestampTooLong
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return time.Time{}, err
	}
	_, off := t.Zone()
	return t.In(zoneFor(off)), nil
}

// parseTimestampFast mirrors the RFC 3339 fast path of package time (parseRFC3339),
// without allocating. ok is false when the input is not in that exact shape; the input
// may still be valid for time.Parse.
func parseTimestampFast(s []byte) (t time.Time, ok bool) {
	if len(s) < len("2006-01-02T15:04:05Z") {
		return t, false
	}
	if s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return t, false
	}
	y1, ok1 := num2(s[0], s[1])
	y2, ok2 := num2(s[2], s[3])
	month, ok3 := num2(s[5], s[6])
	day, ok4 := num2(s[8], s[9])
	hour, ok5 := num2(s[11], s[12])
	minute, ok6 := num2(s[14], s[15])
	sec, ok7 := num2(s[17], s[18])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) {
		return t, false
	}
	year := y1*100 + y2
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return t, false
	}
	s = s[19:]

	// Fraction: any number of digits, the first nine count.
	nsec := 0
	if len(s) >= 2 && s[0] == '.' && isDigit(s[1]) {
		n := 1
		for ; n < len(s) && isDigit(s[n]); n++ {
			if n <= 9 {
				nsec = nsec*10 + int(s[n]-'0')
			}
		}
		for i := n; i <= 9; i++ {
			nsec *= 10
		}
		s = s[n:]
	}

	// Zone.
	offset := 0
	switch {
	case len(s) == 1 && s[0] == 'Z':
	case len(s) == 6 && (s[0] == '+' || s[0] == '-') && s[3] == ':':
		hh, okh := num2(s[1], s[2])
		mm, okm := num2(s[4], s[5])
		if !okh || !okm || hh > 23 || mm > 59 {
			return t, false
		}
		offset = (hh*60 + mm) * 60
		if s[0] == '-' {
			offset = -offset
		}
	default:
		return t, false
	}

	unix := daysSinceEpoch(year, month, day)*86400 +
		int64(hour*3600+minute*60+sec) - int64(offset)
	return time.Unix(unix, int64(nsec)).In(zoneFor(offset)), true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// num2 parses two decimal digits.
func num2(a, b byte) (int, bool) {
	a -= '0'
	b -= '0'
	return int(a)*10 + int(b), a <= 9 && b <= 9
}

func isLeap(year int) bool { return year%4 == 0 && (year%100 != 0 || year%400 == 0) }

var monthDays = [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// daysIn returns the number of days of month (1-12) in year.
func daysIn(month, year int) int {
	if month == 2 && isLeap(year) {
		return 29
	}
	return monthDays[month]
}

// daysSinceEpoch returns the days from 1970-01-01 to the given proleptic Gregorian date,
// for years 0 to 9999 (H. Hinnant's days_from_civil).
func daysSinceEpoch(year, month, day int) int64 {
	y := uint(year + 400) // one 400-year era ahead, so that year-1 stays non-negative
	if month <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := uint(month+9) % 12 // March = 0
	doy := (153*mp+2)/5 + uint(day) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097+doe) - 146097 - 719468
}

// zoneRange is the largest offset, in minutes, kept in the zone cache. time.Parse
// accepts offsets up to 24:60.
const zoneRange = 25 * 60

// zones caches one fixed zone per offset minute, so that parsing a line does not
// allocate a *time.Location.
var zones [2*zoneRange + 1]atomic.Pointer[time.Location]

// zoneFor returns time.UTC for offset 0, else a shared fixed zone named "" with the
// offset (in seconds east of UTC).
func zoneFor(offset int) *time.Location {
	if offset == 0 {
		return time.UTC
	}
	m := offset / 60
	if offset%60 != 0 || m < -zoneRange || m > zoneRange {
		return time.FixedZone("", offset)
	}
	p := &zones[m+zoneRange]
	if l := p.Load(); l != nil {
		return l
	}
	p.CompareAndSwap(nil, time.FixedZone("", offset))
	return p.Load()
}
