package format

import (
	"errors"
	"strings"
	"testing"
)

func TestStrings(t *testing.T) {
	for s, want := range map[Stream]string{StreamUnknown: "", Stdout: "stdout", Stderr: "stderr", 9: ""} {
		if got := s.String(); got != want {
			t.Errorf("Stream(%d).String() = %q, want %q", s, got, want)
		}
	}
	for k, want := range map[Kind]string{KindUnknown: "unknown", KindCRI: "cri", KindDocker: "docker", KindRaw: "raw", 9: "unknown"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Kind
	}{
		{cri(tsA, "stdout", "F", "hello"), KindCRI},
		{cri(tsC, "stderr", "P", "cri-o"), KindCRI},
		{cri(tsA, "stdout", "F:x", ""), KindCRI},
		{tsA + " stdout F", KindCRI},
		{dj(`"hello\n"`, "stdout"), KindDocker},
		{dj(`"piece"`, "stderr"), KindDocker},
		{`{"log":"a\n","stream":"stdout","attrs":{"tag":"x"},"time":"` + dockerTS + `"}`, KindDocker},
		{` {"time":"` + dockerTS + `","stream":"stdout"}`, KindDocker},
		{`{"level":"info","msg":"app json log"}`, KindRaw},
		{`{"log":"x\n","stream":"stdout"}`, KindRaw},
		{cri(tsA, "stdxx", "F", "hello"), KindRaw},
		{"2016-10-06 00:17:09 INFO started", KindRaw},
		{"plain text", KindRaw},
		{"", KindRaw},
	} {
		if got := Detect([]byte(tc.line)); got != tc.want {
			t.Errorf("Detect(%q) = %v, want %v", tc.line, got, tc.want)
		}
	}
}

func TestError(t *testing.T) {
	d := New(KindCRI, Options{})
	err := d.Line([]byte(cri(tsA, "stdxx", "F", "x")), 1234, 1300, false, func(*Entry) { t.Fatal("emitted") })
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v is not *Error", err, err)
	}
	if got, want := err.Error(), `malformed cri line at offset 1234: bad_stream: "stdxx"`; got != want {
		t.Errorf("Error() = %s, want %s", got, want)
	}

	long := strings.Repeat("é", 100)
	err = d.Line([]byte(long), 0, 1, false, nil)
	if !errors.As(err, &e) || e.Reason != ReasonShortLine || len(e.Detail) > maxDetail+8 ||
		!strings.HasSuffix(e.Detail, `"...`) || strings.Contains(e.Detail, `\x`) {
		t.Errorf("long line error: %v", err)
	}

	e = &Error{Reason: ReasonBadJSON, Offset: 7}
	if got, want := e.Error(), "malformed line at offset 7: bad_json"; got != want {
		t.Errorf("Error() = %s, want %s", got, want)
	}
	err = New(KindDocker, Options{}).Line([]byte(`{"log":`), 5, 13, true, nil)
	if got := err.Error(); !strings.HasPrefix(got, "malformed docker line at offset 5: bad_json: line cut by the reader: ") {
		t.Errorf("Error() = %s", got)
	}
}
