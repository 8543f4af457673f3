package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/logferry/logferry/internal/gen"
	"github.com/logferry/logferry/internal/verify"
)

// newGenCmd wires `logferry gen` (internal/gen) and `logferry gen verify` (internal/verify).
func newGenCmd() *cobra.Command {
	o := gen.DefaultOptions()
	var rotateSize, longSize string
	cmd := &cobra.Command{
		Use:   "gen",
		Short: "Simulate a busy node: pods writing CRI or docker logs, with kubelet-style rotation and restarts",
		Long: `gen writes container logs the way containerd, CRI-O and dockerd write them, rotated the way the
kubelet (CRI) or dockerd (json-file) rotates them, with restarts, long lines the runtimes split, and
garbage lines. Every logical line carries a unique key ("lf <ns>/<pod>/<container> seq=<n> len=<L> ..."),
and a manifest records what was written, so that "logferry gen verify" can prove an agent delivered
every line.

Layout under --out:
  pods/<ns>_<pod>_<uid>/<container>/<restart>.log   (--format cri, crio)
  docker/<id>/<id>-json.log                         (--format docker; a restart is a new id)
  manifest.json

The simulated kubelet names rotated files <n>.log.YYYYMMDD-HHMMSS from a clock that advances at
least one second per rotation of a container, so fast rotations never collide (names may run ahead
of the wall clock). Stop with Ctrl-C at any time: the manifest is still written.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if o.RotateSize, err = gen.ParseSize(rotateSize); err != nil {
				return fmt.Errorf("--rotate-size: %w", err)
			}
			ls, err := gen.ParseSize(longSize)
			if err != nil {
				return fmt.Errorf("--long-size: %w", err)
			}
			o.LongSize = int(ls)
			if o.Out == "" {
				return errors.New("--out is required")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			start := time.Now()
			m, err := gen.Run(ctx, o)
			if m != nil {
				el := time.Since(start)
				t := m.Totals
				fmt.Fprintf(cmd.OutOrStdout(),
					"gen: %d lines (%d long, %d malformed), %d records, %.1f MB in %d containers, %d rotations, %d restarts, in %s (%.0f lines/s, %.1f MB/s); stopped: %s\ngen: manifest %s\n",
					t.Lines, t.LongLines, t.Malformed, t.Records, float64(t.Bytes)/1e6, t.Containers, t.Rotations, t.Restarts,
					el.Round(time.Millisecond), float64(t.Lines)/el.Seconds(), float64(t.Bytes)/1e6/el.Seconds(), m.Stopped,
					m.Options.Manifest)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Out, "out", "", "root directory of the simulated node (required); must not already hold generated logs")
	f.StringVar(&o.Format, "format", o.Format, "log format: cri (containerd: RFC3339Nano, variable fraction, Z), crio (conmon: 9 digits, numeric offset) or docker (json-file)")
	f.StringVar(&o.Filler, "filler", o.Filler, "what follows each message's key: random (printable ASCII with rare escapes, nearly incompressible) or text (log-like key=value text that compresses like real logs)")
	f.StringVar(&o.TZOffset, "tz-offset", "", `zone of CRI timestamps, e.g. "+08:00" (default UTC: "Z" for cri, "+00:00" for crio); docker always writes UTC`)
	f.IntVar(&o.Namespaces, "namespaces", o.Namespaces, "number of namespaces; pods are spread over them round-robin")
	f.IntVar(&o.Pods, "pods", o.Pods, "number of pods on the node (in total)")
	f.IntVar(&o.Containers, "containers", o.Containers, "containers per pod")
	f.Int64Var(&o.Lines, "lines", o.Lines, "logical lines per container; 0 = until --duration passes or Ctrl-C")
	f.DurationVar(&o.Duration, "duration", 0, "stop after this long (0 = no limit)")
	f.Float64Var(&o.Rate, "rate", 0, "logical lines per second across the whole node (0 = as fast as possible)")
	f.IntVar(&o.LineSize, "line-size", o.LineSize, "average message size in bytes (sizes vary uniformly from half to 1.5 times this)")
	f.IntVar(&o.LongEvery, "long-every", 0, "every Nth line of a container is long (--long-size), so the runtime splits it (0 = none); with cri/crio every other long line is interleaved with a long line on the other stream")
	f.StringVar(&longSize, "long-size", "40Ki", "size of a long line's message (bytes, or with a unit: 40Ki, 1Mi)")
	f.StringVar(&rotateSize, "rotate-size", "10Mi", "rotate the live file once it reaches this size: kubelet containerLogMaxSize (cri, crio) or docker max-size; 0 = no rotation")
	f.IntVar(&o.MaxFiles, "max-files", o.MaxFiles, "kubelet containerLogMaxFiles (>= 2; live + newest rotated + up to N-2 .gz) or docker max-file (>= 1)")
	f.BoolVar(&o.Compress, "compress", false, "docker only: gzip rotated files (<id>-json.log.N.gz) like the json-file compress option; the kubelet always compresses")
	f.DurationVar(&o.RotateInterval, "rotate-interval", o.RotateInterval, "how often the simulated kubelet checks log sizes (kubelet containerLogMonitorInterval; tests use e.g. 50ms)")
	f.IntVar(&o.LateWrites, "late-writes", 0, "cri/crio: after the kubelet renames N.log, the runtime writes this many more lines to the renamed file before it reopens N.log")
	f.Int64Var(&o.RestartEvery, "restart-every", 0, "a container restarts after this many lines (cri/crio: next <restart>.log and <restart-2>.log* removed; docker: new container id) (0 = never)")
	f.BoolVar(&o.KeepRestarts, "keep-restarts", false, "keep the logs of every container instance, not only the previous one")
	f.Int64Var(&o.MalformedEvery, "malformed-every", 0, "write a garbage line (bad stream, bad timestamp, broken JSON, binary, ...) after every N lines; never counted as a line (0 = never)")
	f.StringVar(&o.Manifest, "manifest", "", "where to write the manifest (default <out>/manifest.json)")
	f.Int64Var(&o.Seed, "seed", o.Seed, "seed of every name, uid, container id, line length and filler")

	cmd.AddCommand(newGenVerifyCmd())
	return cmd
}

func newGenVerifyCmd() *cobra.Command {
	var manifest string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify --manifest PATH [--json] FILE...",
		Short: "Prove that an agent's JSON-lines output holds every line gen wrote",
		Long: `verify reads the agent's output (JSON lines, one record per line) and the manifest of a gen run, and
reports per container the lines missing, duplicated, out of order or corrupt. FILE may be a glob
(quote it); the files a glob matches are read oldest first (by modification time), other arguments in
the order given. "-" is standard input; gzip files are decompressed. Exits 1 if lines are missing,
corrupt or out of order (duplicates are reported but allowed).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if manifest == "" {
				return errors.New("--manifest is required")
			}
			m, err := gen.ReadManifest(manifest)
			if err != nil {
				return err
			}
			files, err := expandInputs(args)
			if err != nil {
				return err
			}
			var readers []io.Reader
			for _, name := range files {
				r, closeFn, err := openInput(name, cmd.InOrStdin())
				if err != nil {
					return err
				}
				defer closeFn()
				readers = append(readers, r)
			}
			rep, err := verify.Check(m, readers...)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				b, err := rep.JSON()
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "%s\n", b)
			} else {
				fmt.Fprint(out, rep.String())
			}
			if !rep.OK() {
				return &exitError{code: 1, err: errors.New("verify: delivery check failed")}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&manifest, "manifest", "", "manifest written by logferry gen (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// expandInputs expands glob arguments (matches oldest first by mtime, then by
// name) and keeps literal arguments in order.
func expandInputs(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		if a == "-" || !strings.ContainsAny(a, "*?[") {
			out = append(out, a)
			continue
		}
		matches, err := filepath.Glob(a)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("%s: no file matches", a)
		}
		type fileAge struct {
			name string
			mod  time.Time
		}
		fs := make([]fileAge, 0, len(matches))
		for _, m := range matches {
			st, err := os.Stat(m)
			if err != nil {
				return nil, err
			}
			if st.IsDir() {
				continue
			}
			fs = append(fs, fileAge{m, st.ModTime()})
		}
		sort.SliceStable(fs, func(i, j int) bool {
			if !fs[i].mod.Equal(fs[j].mod) {
				return fs[i].mod.Before(fs[j].mod)
			}
			return fs[i].name < fs[j].name
		})
		for _, f := range fs {
			out = append(out, f.name)
		}
	}
	return out, nil
}

// openInput opens a file (or stdin for "-"), decompressing gzip transparently.
func openInput(name string, stdin io.Reader) (io.Reader, func(), error) {
	var r io.Reader
	closeFn := func() {}
	if name == "-" {
		r = stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, nil, err
		}
		r, closeFn = f, func() { f.Close() }
	}
	br := bufio.NewReaderSize(r, 1<<16)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			closeFn()
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		return zr, closeFn, nil
	}
	return br, closeFn, nil
}
