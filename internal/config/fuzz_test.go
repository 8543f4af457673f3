package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics and either returns a valid
// Config or an error every line of which starts with the source name.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, table := range allParseCases() {
		for _, tc := range table {
			f.Add([]byte(tc.in))
		}
	}
	for _, tc := range sizeCases {
		f.Add([]byte("sources:\n  max_line_bytes: " + tc.in + "\n" + okSink))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "f.yaml", lookupTestEnv)
		if err != nil {
			if cfg != nil {
				t.Fatal("both a config and an error")
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "f.yaml:") {
					t.Fatalf("error line without source: %q", line)
				}
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse accepted an invalid config: %v", err)
		}
	})
}
