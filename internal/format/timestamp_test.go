package format

import (
	"testing"
	"time"
)

func TestParseTimestamp(t *testing.T) {
	for _, tc := range []struct {
		in     string
		want   string // RFC3339Nano in UTC; "" means an error
		offset int    // seconds east of UTC
	}{
		{"2016-10-06T00:17:09.669794202Z", "2016-10-06T00:17:09.669794202Z", 0},
		{"2016-10-06T00:17:09.6697942Z", "2016-10-06T00:17:09.6697942Z", 0},
		{"2016-10-06T00:17:09.1Z", "2016-10-06T00:17:09.1Z", 0},
		{"2016-10-06T00:17:09Z", "2016-10-06T00:17:09Z", 0},
		{"2016-10-06T00:17:09.000000000Z", "2016-10-06T00:17:09Z", 0},
		{"2016-10-06T02:17:09.669794202+02:00", "2016-10-06T00:17:09.669794202Z", 7200},
		{"2016-10-05T19:47:09.669794202-04:30", "2016-10-06T00:17:09.669794202Z", -16200},
		{"2016-10-06T00:17:09.669794202+00:00", "2016-10-06T00:17:09.669794202Z", 0},
		{"2016-10-06T00:17:09.669794202-00:00", "2016-10-06T00:17:09.669794202Z", 0},
		{"2016-10-06T00:17:09.1234567891234Z", "2016-10-06T00:17:09.123456789Z", 0}, // extra digits truncated, as time.Parse
		{"2024-02-29T23:59:59.999999999+23:59", "2024-02-29T00:00:59.999999999Z", 86340},
		{"0000-01-01T00:00:00Z", "0000-01-01T00:00:00Z", 0},
		{"9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z", 0},
		{"2000-02-29T12:00:00Z", "2000-02-29T12:00:00Z", 0},
		{"1969-12-31T23:59:59.5Z", "1969-12-31T23:59:59.5Z", 0},
		// Spellings only the general time.Parse path accepts (the kubelet does too).
		{"2016-10-06T0:17:09Z", "2016-10-06T00:17:09Z", 0},
		{"2016-10-06T00:17:09,5Z", "2016-10-06T00:17:09.5Z", 0},
		// Rejected.
		{"", "", 0},
		{"2016-10-06", "", 0},
		{"2016-10-06T00:17:09", "", 0},
		{"2016-10-06T00:17:09.", "", 0},
		{"2016-10-06T00:17:09.Z", "", 0},
		{"2016-10-06T00:17:09.5", "", 0},
		{"2016-10-06T00:17:09z", "", 0},
		{"2016-10-06t00:17:09Z", "", 0},
		{"2016-13-06T00:17:09Z", "", 0},
		{"2016-00-06T00:17:09Z", "", 0},
		{"2016-10-00T00:17:09Z", "", 0},
		{"2016-10-32T00:17:09Z", "", 0},
		{"2016-02-30T00:17:09Z", "", 0},
		{"1900-02-29T00:17:09Z", "", 0},
		{"2016-06-31T00:17:09Z", "", 0},
		{"2016-10-06T24:00:00Z", "", 0},
		{"2016-10-06T25:17:09Z", "", 0},
		{"2016-10-06T00:60:09Z", "", 0},
		{"2016-10-06T00:17:60Z", "", 0},
		{"2016-10-06T00:17:09+2:00", "", 0},
		{"2016-10-06T00:17:09+0200", "", 0},
		{"2016-10-06T00:17:09 +02:00", "", 0},
		{"2016-10-06T00:17:09Z ", "", 0},
		{"+016-10-06T00:17:09Z", "", 0},
		{"2016-10-06T00:17:09.1234567891234567891234567891234567891234567891234567891234567Z", "2016-10-06T00:17:09.123456789Z", 0},
	} {
		got, err := ParseTimestamp([]byte(tc.in))
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseTimestamp(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTimestamp(%q): %v", tc.in, err)
			continue
		}
		if s := got.UTC().Format(time.RFC3339Nano); s != tc.want {
			t.Errorf("ParseTimestamp(%q) = %s, want %s", tc.in, s, tc.want)
		}
		if _, off := got.Zone(); off != tc.offset {
			t.Errorf("ParseTimestamp(%q) offset %d, want %d", tc.in, off, tc.offset)
		}
		if tc.offset == 0 && got.Location() != time.UTC {
			t.Errorf("ParseTimestamp(%q) location %v, want UTC", tc.in, got.Location())
		}
		checkAgainstTimeParse(t, []byte(tc.in))
	}
}

// checkAgainstTimeParse checks ParseTimestamp against the kubelet's time.Parse.
func checkAgainstTimeParse(t *testing.T, b []byte) {
	t.Helper()
	got, err := ParseTimestamp(b)
	want, werr := time.Parse(time.RFC3339Nano, string(b))
	if len(b) > maxSlowTimestamp && werr == nil && err != nil {
		if _, ok := parseTimestampFast(b); !ok {
			return // a long spelling only the general time.Parse path takes: refused by design
		}
	}
	if (err == nil) != (werr == nil) {
		t.Fatalf("ParseTimestamp(%q): err %v, time.Parse err %v", b, err, werr)
	}
	if err != nil {
		return
	}
	_, o1 := got.Zone()
	_, o2 := want.Zone()
	if !got.Equal(want) || o1 != o2 {
		t.Fatalf("ParseTimestamp(%q) = %v, time.Parse = %v", b, got, want)
	}
}

func TestParseTimestampNoAllocs(t *testing.T) {
	for _, s := range []string{"2016-10-06T00:17:09.669794202Z", "2016-10-06T02:17:09.669794202+02:00", "2016-10-06T00:17:09Z"} {
		b := []byte(s)
		ParseTimestamp(b) // fill the zone cache
		if n := testing.AllocsPerRun(100, func() { ParseTimestamp(b) }); n != 0 {
			t.Errorf("ParseTimestamp(%q): %v allocs", s, n)
		}
	}
}

// TestDaysSinceEpoch checks the civil-date arithmetic against package time over the
// whole supported range.
func TestDaysSinceEpoch(t *testing.T) {
	for y := 0; y <= 9999; y++ {
		for _, md := range [][2]int{{1, 1}, {2, 28}, {3, 1}, {12, 31}} {
			want := time.Date(y, time.Month(md[0]), md[1], 0, 0, 0, 0, time.UTC).Unix() / 86400 // exact: midnight
			if got := daysSinceEpoch(y, md[0], md[1]); got != want {
				t.Fatalf("daysSinceEpoch(%d-%02d-%02d) = %d, want %d", y, md[0], md[1], got, want)
			}
		}
	}
}

func FuzzParseTimestamp(f *testing.F) {
	for _, s := range []string{
		"2016-10-06T00:17:09.669794202Z", "2016-10-06T02:17:09.669794202+02:00", "2016-10-06T00:17:09Z",
		"2016-10-06T0:17:09Z", "2016-10-06T00:17:09,5Z", "2016-02-30T00:17:09Z", "2016-10-06T00:17:09+24:00",
		"2016-10-06T00:17:09.5-23:59",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkAgainstTimeParse(t, b) })
}
