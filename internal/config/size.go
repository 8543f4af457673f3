package config

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// Size is a number of bytes. In the file it is written as an integer with an
// optional unit: B; K or KB (1000), M or MB, G or GB; Ki or KiB (1024), Mi or
// MiB, Gi or GiB. Units are case-insensitive: 4096, 512KiB, 16Mi, 1GB.
type Size int64

// Byte multiples, for use in code: 16 * config.MiB.
const (
	KiB Size = 1 << 10 // 1024 bytes
	MiB Size = 1 << 20 // 1024 KiB
	GiB Size = 1 << 30 // 1024 MiB
)

// sizeUnits maps each lowercase unit to its multiplier.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "ki": 1 << 10, "kib": 1 << 10,
	"m": 1e6, "mb": 1e6, "mi": 1 << 20, "mib": 1 << 20,
	"g": 1e9, "gb": 1e9, "gi": 1 << 30, "gib": 1 << 30,
}

// ParseSize parses a size such as "16MiB", "10Mi", "512KiB", "1GB" or
// "4096". Spaces around the number and unit are allowed; fractions and
// negative numbers are not.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, errors.New("invalid size " + strconv.Quote(s))
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	mult, ok := sizeUnits[strings.ToLower(strings.TrimLeft(t[i:], " "))]
	if err != nil || !ok || n > math.MaxInt64/mult {
		return 0, errors.New("invalid size " + strconv.Quote(s))
	}
	return Size(n * mult), nil
}

// String renders the size with the largest unit that divides it exactly,
// preferring binary units: "16MiB", "1GB", "1500". ParseSize reads it back.
func (s Size) String() string {
	if s == 0 {
		return "0"
	}
	for _, u := range []struct {
		n    Size
		name string
	}{{GiB, "GiB"}, {1e9, "GB"}, {MiB, "MiB"}, {1e6, "MB"}, {KiB, "KiB"}, {1e3, "KB"}} {
		if s%u.n == 0 {
			return strconv.FormatInt(int64(s/u.n), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10)
}

// Set parses v into s, so that *Size can be a command-line flag value.
func (s *Size) Set(v string) error {
	n, err := ParseSize(v)
	if err != nil {
		return err
	}
	*s = n
	return nil
}

// Type names the value kind in flag help ("size").
func (s *Size) Type() string { return "size" }
