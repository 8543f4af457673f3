package config

import "testing"

var sizeCases = []struct {
	in   string
	want Size
	ok   bool
}{
	{"0", 0, true},
	{"4096", 4096, true},
	{"4096B", 4096, true},
	{"4096b", 4096, true},
	{"1K", 1000, true},
	{"1KB", 1000, true},
	{"1kb", 1000, true},
	{"1Ki", 1024, true},
	{"512KiB", 512 * KiB, true},
	{"512kib", 512 * KiB, true},
	{"2M", 2e6, true},
	{"2MB", 2e6, true},
	{"10Mi", 10 * MiB, true},
	{"16MiB", 16 * MiB, true},
	{"16MIB", 16 * MiB, true},
	{"1G", 1e9, true},
	{"1GB", 1e9, true},
	{"1Gi", GiB, true},
	{"3GiB", 3 * GiB, true},
	{" 16 MiB ", 16 * MiB, true},
	{"8589934591GiB", 8589934591 * GiB, true},
	{"", 0, false},
	{"MiB", 0, false},
	{"10XB", 0, false},
	{"1.5GiB", 0, false},
	{"-1", 0, false},
	{"+1", 0, false},
	{"1TiB", 0, false},
	{"1 2", 0, false},
	{"0x10", 0, false},
	{"8589934592GiB", 0, false},
	{"99999999999999999999", 0, false},
	{"1MiBs", 0, false},
}

func TestParseSize(t *testing.T) {
	for _, tc := range sizeCases {
		got, err := ParseSize(tc.in)
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
		if !tc.ok && err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", tc.in, got)
		}
	}
}

func TestSizeString(t *testing.T) {
	for _, tc := range []struct {
		in   Size
		want string
	}{
		{0, "0"}, {1, "1"}, {512, "512"}, {1000, "1KB"}, {1024, "1KiB"}, {1500, "1500"},
		{16 * MiB, "16MiB"}, {1536 * KiB, "1536KiB"}, {2e6, "2MB"}, {GiB, "1GiB"}, {1e9, "1GB"}, {4 * GiB, "4GiB"},
	} {
		if got := tc.in.String(); got != tc.want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(tc.in), got, tc.want)
		}
		if back, err := ParseSize(tc.in.String()); err != nil || back != tc.in {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in.String(), back, err, int64(tc.in))
		}
	}
}

func TestSizeFlag(t *testing.T) {
	var s Size
	if err := s.Set("2MiB"); err != nil || s != 2*MiB {
		t.Fatalf("Set: %v, %v", s, err)
	}
	if err := s.Set("lots"); err == nil || err.Error() != `invalid size "lots"` || s != 2*MiB {
		t.Fatalf("Set(lots): %v, %v", s, err)
	}
	if s.Type() != "size" {
		t.Fatal(s.Type())
	}
}
