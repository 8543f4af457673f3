package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/logferry/logferry/internal/agent"
	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/gen"
	"github.com/logferry/logferry/internal/httpapi"
	"github.com/logferry/logferry/internal/logging"
	"github.com/logferry/logferry/internal/metrics"
	"github.com/logferry/logferry/internal/status"
)

type agentFlags struct {
	configPath  string
	podsDir     string
	dockerDir   string
	dataDir     string
	sinks       []string
	checkConfig bool
	simulate    bool
	httpAddr    string
	pprofAddr   string
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
	fl.StringVar(&f.httpAddr, "http-addr", "", "serve /metrics, /healthz, /readyz and /api/v1/status on host:port (overrides http.addr; default 127.0.0.1:9733)")
	fl.StringVar(&f.pprofAddr, "pprof-addr", "", "serve Go's /debug/pprof/ on host:port, a separate listener (overrides http.pprof_addr; off by default)")
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
	if f.httpAddr != "" {
		cfg.HTTP.Addr = f.httpAddr
	}
	if f.pprofAddr != "" {
		cfg.HTTP.PprofAddr = f.pprofAddr
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
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
				RotateSize: 64 << 10, MaxFiles: 5, RotateInterval: time.Second, Seed: 1, Filler: gen.FillerText,
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
	var suppressed atomic.Pointer[metrics.Metrics]
	logger := logging.New(os.Stderr, logging.Options{
		Format:   cfg.Log.Format,
		KeyAttrs: []string{"path", "sink", "reason"},
		OnSuppressed: func(l slog.Level) {
			if m := suppressed.Load(); m != nil {
				m.Suppressed(strings.ToLower(l.String()))
			}
		},
	})
	defer logger.Flush()
	if err := logger.SetLevel(cfg.Log.Level); err != nil {
		return err
	}
	log := logger.Logger
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && cfg.Pipeline.MemoryLimit > 0 {
		debug.SetMemoryLimit(int64(cfg.Pipeline.MemoryLimit))
	}
	reg := prometheus.NewRegistry()
	a, err := agent.New(cfg, agent.Options{
		Logger: log, Registry: reg, Version: buildVersion(), ConfigPath: f.configPath,
		SetLogLevel: logger.SetLevel,
	})
	if err != nil {
		return err
	}
	suppressed.Store(a.Metrics())
	stopHTTP, err := serveHTTP(cfg.HTTP, reg, a, log)
	if err != nil {
		return err
	}
	defer stopHTTP()

	reload := func(why string) {
		log.Info("reloading configuration", "trigger", why, "path", f.configPath)
		_ = a.Reload(func() (*config.Config, error) { return loadAgentConfig(f) })
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	hups := make(chan os.Signal, 1)
	signal.Notify(hups, syscall.SIGHUP)
	defer signal.Stop(hups)
	go func() {
		for {
			select {
			case <-hups:
				if f.configPath == "" {
					log.Warn("SIGHUP ignored: the agent runs without --config")
					continue
				}
				reload("SIGHUP")
			case <-ctx.Done():
				return
			}
		}
	}()
	if f.configPath != "" {
		go func() {
			if err := config.Watch(ctx, f.configPath, 200*time.Millisecond, func() { reload("file changed") }); err != nil {
				log.Warn("cannot watch the configuration file; reload with SIGHUP", "path", f.configPath, "err", err)
			}
		}()
	}
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

// serveHTTP starts the operational endpoints and, when configured, pprof. The returned
// function stops them.
func serveHTTP(h config.HTTP, reg *prometheus.Registry, a *agent.Agent, log *slog.Logger) (func(), error) {
	var servers []*httpapi.Server
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, s := range servers {
			_ = s.Shutdown(ctx)
		}
	}
	version := buildVersion()
	listen := func(addr, what string, handler http.Handler) error {
		if addr == "" {
			return nil
		}
		s, err := httpapi.Listen(addr, handler)
		if err != nil {
			stop()
			return fmt.Errorf("%s: %w", what, err)
		}
		servers = append(servers, s)
		log.Info("serving "+what, "addr", s.Addr())
		go func() {
			if err := s.Serve(); err != nil {
				log.Error(what+" stopped", "err", err)
			}
		}()
		return nil
	}
	if err := listen(h.Addr, "http endpoints", httpapi.Handler(reg, httpapi.Probes{
		Alive:  a.Alive,
		Ready:  a.Ready,
		Status: func() *status.Status { return a.Status(version) },
	}, log)); err != nil {
		return nil, err
	}
	if err := listen(h.PprofAddr, "pprof", httpapi.PprofHandler()); err != nil {
		return nil, err
	}
	return stop, nil
}

// buildVersion is the module version the binary was built from ("(devel)" for a
// local build).
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "unknown"
}
