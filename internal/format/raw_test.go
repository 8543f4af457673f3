package format

import "testing"

var rawCases = []decodeCase{
	{
		name:  "every line is an entry",
		lines: []string{"plain", "", cri(tsA, "stdout", "P", "looks like cri"), dj(`"looks like docker"`, "stdout"), "dos\r"},
		want: []want{
			{msg: "plain"},
			{msg: "", first: 1, last: 1},
			{msg: cri(tsA, "stdout", "P", "looks like cri"), first: 2, last: 2},
			{msg: dj(`"looks like docker"`, "stdout"), first: 3, last: 3},
			{msg: "dos\r", first: 4, last: 4},
		},
		pending: []int{-1, -1, -1, -1, -1},
	},
	{
		name:      "cap and caller truncation",
		limit:     3,
		lines:     []string{"abcdef", "ab", "xy"},
		truncated: []bool{false, true},
		want: []want{
			{msg: "abc", truncated: true},
			{msg: "ab", first: 1, last: 1, truncated: true},
			{msg: "xy", first: 2, last: 2},
		},
		dropped: 3,
	},
}

func TestRaw(t *testing.T) {
	for _, k := range []Kind{KindRaw, KindUnknown, Kind(200)} {
		for _, tc := range rawCases {
			t.Run(k.String()+"/"+tc.name, func(t *testing.T) { runDecodeCase(t, k, tc) })
		}
	}
}

func TestRawNoAllocs(t *testing.T) {
	d := New(KindRaw, Options{})
	b := []byte("some raw line")
	emit := func(*Entry) {}
	if n := testing.AllocsPerRun(100, func() { _ = d.Line(b, 0, 14, false, emit) }); n != 0 {
		t.Fatalf("%v allocs per line", n)
	}
}
