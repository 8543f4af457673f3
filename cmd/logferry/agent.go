package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/logferry/logferry/internal/agent"
	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/gen"
)

type agentFlags struct {
	configPath  string
	podsDir     string
	dockerDir   string
	dataDir     string
	sinks       []string
	checkConfig bool
	simulate    bool
}

func newAgentCmd() *cobra.Command {
	var f agentFlags
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Collect every container log file on this node and ship it",
		Long: `The node agent: discovers kubelet and docker container log files, tails them through
rotation, decodes CRI and docker json-file, and ships the records with end-to-end
acknowledgement (a file's checkpoint only covers what every sink accepted).

With --simulate it runs on an embedded default instead: a simulated busy node is
generated in a temporary directory and its records are printed to stdout.`,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAgent(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.configPath, "config", "", "YAML configuration file (environment variables are expanded)")
	fl.StringVar(&f.podsDir, "pods-dir", "", "kubelet pod log directory (overrides sources.pods_dir)")
	fl.StringVar(&f.dockerDir, "docker-dir", "", "docker containers directory (overrides sources.docker_dir)")
	fl.StringVar(&f.dataDir, "data-dir", "", "directory for checkpoints (overrides data_dir)")
	fl.StringArrayVar(&f.sinks, "sink", nil, "sink: stdout, discard or file:PATH (repeatable; replaces the configured sinks)")
	fl.BoolVar(&f.checkConfig, "check-config", false, "validate the configuration and exit")
	fl.BoolVar(&f.simulate, "simulate", false, "run on a simulated node in a temporary directory, printing records to stdout")
	return cmd
}

// loadAgentConfig reads the file (if any), then applies the flags, then validates.
func loadAgentConfig(f *agentFlags) (*config.Config, error) {
	cfg := config.Default()
	if f.configPath != "" {
		c, err := config.Load(f.configPath)
		if err != nil {
			return nil, err
		}
		cfg = c
	}
	if f.podsDir != "" {
		cfg.Sources.PodsDir = f.podsDir
	}
	if f.dockerDir != "" {
		cfg.Sources.DockerDir = f.dockerDir
	}
	if f.dataDir != "" {
		cfg.DataDir = f.dataDir
	}
	if len(f.sinks) > 0 {
		cfg.Sinks = nil
		for i, s := range f.sinks {
			var typ, path string
			switch {
			case s == "stdout" || s == "discard":
				typ = s
			case strings.HasPrefix(s, "file:") && len(s) > 5:
				typ, path = "file", s[5:]
			default:
				return nil, fmt.Errorf("flag --sink %q: want stdout, discard or file:PATH", s)
			}
			cfg.Sinks = append(cfg.Sinks, config.NewSink(fmt.Sprintf("%s-%d", typ, i), typ, path))
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func newLogger(c config.Log) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

func runAgent(cmd *cobra.Command, f *agentFlags) error {
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	var simDone chan error
	if f.simulate {
		dir, err := os.MkdirTemp("", "logferry-simulate-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		f.podsDir = filepath.Join(dir, "pods")
		f.dataDir = filepath.Join(dir, "data")
		if len(f.sinks) == 0 {
			f.sinks = []string{"stdout"}
		}
		simDone = make(chan error, 1)
		go func() {
			_, err := gen.Run(ctx, gen.Options{
				Out: dir, Format: "cri", Namespaces: 2, Pods: 3, Containers: 2,
				Rate: 20, LineSize: 120, LongEvery: 50, LongSize: 40 << 10,
				RotateSize: 64 << 10, MaxFiles: 5, RotateInterval: time.Second, Seed: 1,
			})
			simDone <- err
		}()
	}
	cfg, err := loadAgentConfig(f)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("invalid configuration:\n%w", err)}
	}
	if f.checkConfig {
		fmt.Fprintln(cmd.OutOrStdout(), "configuration is valid")
		return nil
	}
	log := newLogger(cfg.Log)
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && cfg.Pipeline.MemoryLimit > 0 {
		debug.SetMemoryLimit(int64(cfg.Pipeline.MemoryLimit))
	}
	a, err := agent.New(cfg, agent.Options{Logger: log})
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	go func() {
		s := <-sigs
		log.Info("signal received: draining", "signal", s.String())
		cancel()
		s = <-sigs
		log.Warn("second signal: exiting without draining", "signal", s.String())
		a.Abort()
	}()
	err = a.Run(ctx)
	if simDone != nil {
		if serr := <-simDone; serr != nil && !errors.Is(serr, context.Canceled) {
			log.Warn("simulator stopped", "err", serr)
		}
	}
	return err
}
