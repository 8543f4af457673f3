package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/logferry/logferry/internal/status"
)

// clearScreen homes the cursor and clears the terminal before each --watch frame.
const clearScreen = "\x1b[H\x1b[2J"

// maxStatusBytes bounds the status document read from the agent.
const maxStatusBytes = 64 << 20

type statusFlags struct {
	addr     string
	watch    bool
	interval time.Duration
	asJSON   bool
	timeout  time.Duration
}

func newStatusCmd() *cobra.Command {
	var f statusFlags
	cmd := &cobra.Command{
		Use:   "status [--addr HOST:PORT] [--watch]",
		Short: "Show a running agent's status: readiness, buffer, sinks and every file's lag",
		Long: `status fetches a running agent's status document (GET ` + status.Path + ` on the
address the agent serves with --http-addr) and prints it as a screen: the agent's
readiness, buffer and checkpoint state, each sink's health and backlog, and one row
per open log file, largest lag first.

With --watch it redraws every --interval until Ctrl-C, like top: on a terminal the
screen is cleared before each frame and the file table is cut to the window; otherwise
the frames are printed one after another, separated by a blank line. A failed fetch
is shown and retried. Without --watch, a failed fetch exits 1.

--json prints the document as the agent sent it instead.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runStatus(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:9733", "the agent's HTTP address (its --http-addr): HOST:PORT or an http:// URL")
	fl.BoolVarP(&f.watch, "watch", "w", false, "redraw every --interval until interrupted")
	fl.DurationVar(&f.interval, "interval", time.Second, "how often --watch fetches and redraws")
	fl.BoolVar(&f.asJSON, "json", false, "print the raw JSON document instead of the screen")
	fl.DurationVar(&f.timeout, "timeout", 5*time.Second, "how long one fetch may take")
	return cmd
}

func runStatus(cmd *cobra.Command, f *statusFlags) error {
	u, err := statusURL(f.addr)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if f.interval <= 0 {
		return &exitError{code: 2, err: fmt.Errorf("--interval %v: must be positive", f.interval)}
	}
	if f.timeout <= 0 {
		return &exitError{code: 2, err: fmt.Errorf("--timeout %v: must be positive", f.timeout)}
	}
	v := &statusView{
		addr:     f.addr,
		url:      u,
		client:   &http.Client{},
		timeout:  f.timeout,
		interval: f.interval,
		asJSON:   f.asJSON,
		out:      cmd.OutOrStdout(),
		errOut:   cmd.ErrOrStderr(),
	}
	if file, ok := v.out.(*os.File); ok && term.IsTerminal(int(file.Fd())) {
		fd := int(file.Fd())
		v.size = func() (int, int, error) { return term.GetSize(fd) }
	}
	if !f.watch {
		return v.once(cmd.Context())
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return v.watch(ctx)
}

// statusURL turns --addr into the status document's URL. addr is HOST:PORT (an empty
// host means 127.0.0.1) or an http:// or https:// URL; a URL's path is kept as a prefix
// unless it already ends in status.Path.
func statusURL(addr string) (string, error) {
	if strings.Contains(addr, "://") {
		u, err := url.Parse(addr)
		if err != nil {
			return "", fmt.Errorf("--addr %q: %v", addr, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return "", fmt.Errorf("--addr %q: scheme %q: want http:// or https://", addr, u.Scheme)
		}
		if u.Host == "" {
			return "", fmt.Errorf("--addr %q: no host", addr)
		}
		if !strings.HasSuffix(u.Path, status.Path) {
			u.Path = strings.TrimSuffix(u.Path, "/") + status.Path
			u.RawPath = ""
		}
		u.RawQuery, u.Fragment = "", ""
		return u.String(), nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--addr %q: want HOST:PORT or an http:// URL: %v", addr, err)
	}
	if port == "" {
		return "", fmt.Errorf("--addr %q: no port: want HOST:PORT or an http:// URL", addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + status.Path, nil
}

// statusView fetches the status document and draws it.
type statusView struct {
	addr     string // --addr as given, for messages
	url      string // the document's URL
	client   *http.Client
	timeout  time.Duration // per fetch
	interval time.Duration // between --watch frames
	asJSON   bool
	out      io.Writer // frames
	errOut   io.Writer // fetch errors that must not mix with JSON on out
	// size reports the terminal's width and height; nil when out is not a terminal.
	size func() (width, height int, err error)
}

// fetch gets and decodes one document; raw is the body as sent. Its errors name the
// address and say what to do.
func (v *statusView) fetch(ctx context.Context) (s *status.Status, raw []byte, err error) {
	ctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.url, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("--addr %q: %v", v.addr, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %v (--timeout)", v.timeout)
		}
		return nil, nil, fmt.Errorf("cannot reach the agent at %s (GET %s): %v; is the agent running there (logferry agent --http-addr %s)? Use --addr HOST:PORT to point at it", v.addr, v.url, err, hostPort(v.url))
	}
	defer resp.Body.Close()
	raw, err = io.ReadAll(io.LimitReader(resp.Body, maxStatusBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the status from the agent at %s (GET %s): %v", v.addr, v.url, err)
	}
	if resp.StatusCode != http.StatusOK {
		body := strings.TrimSpace(string(raw))
		if len(body) > 200 {
			body = body[:200] + "…"
		}
		hint := ""
		if resp.StatusCode == http.StatusNotFound {
			hint = " (is --addr a logferry agent's --http-addr?)"
		}
		return nil, nil, fmt.Errorf("the agent at %s answered GET %s with %s%s: %s", v.addr, v.url, resp.Status, hint, body)
	}
	if len(raw) > maxStatusBytes {
		return nil, nil, fmt.Errorf("the status from the agent at %s (GET %s) is larger than %d bytes", v.addr, v.url, maxStatusBytes)
	}
	s = new(status.Status)
	if err := json.Unmarshal(raw, s); err != nil {
		return nil, nil, fmt.Errorf("the status from the agent at %s (GET %s) is not a status document: %v", v.addr, v.url, err)
	}
	return s, raw, nil
}

// once fetches and prints one document. On a terminal the screen fits its width.
func (v *statusView) once(ctx context.Context) error {
	s, raw, err := v.fetch(ctx)
	if err != nil {
		return err
	}
	if v.asJSON {
		_, err = v.out.Write(withNewline(raw))
		return err
	}
	var o status.RenderOptions
	if v.size != nil {
		if w, _, err := v.size(); err == nil {
			o.Width = w
		}
	}
	return status.Render(v.out, s, o)
}

// watch fetches and draws a frame every interval until ctx ends, then returns nil. A
// failed fetch is shown in the frame (with the last good snapshot, if any) and retried.
// It returns an error only when out cannot be written.
func (v *statusView) watch(ctx context.Context) error {
	tick := time.NewTicker(v.interval)
	defer tick.Stop()
	var last *status.Status
	var lastAt time.Time
	frames := 0
	for {
		s, raw, err := v.fetch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			last, lastAt = s, time.Now()
		}
		var b bytes.Buffer
		if v.size != nil {
			b.WriteString(clearScreen)
		} else if frames > 0 {
			b.WriteByte('\n')
		}
		switch {
		case !v.asJSON:
			v.drawFrame(&b, err, last, lastAt)
		case err == nil:
			b.Write(withNewline(raw))
		case v.size != nil:
			fmt.Fprintf(&b, "%s: %v\nretrying every %v\n", time.Now().Format("15:04:05"), err, v.interval)
		default:
			// Keep stdout a stream of documents: the error goes to stderr.
			fmt.Fprintf(v.errOut, "logferry: %s: %v (retrying every %v)\n", time.Now().Format("15:04:05"), err, v.interval)
			b.Reset()
		}
		if b.Len() > 0 {
			if _, werr := v.out.Write(b.Bytes()); werr != nil {
				return fmt.Errorf("writing the status: %w", werr)
			}
			frames++
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// drawFrame writes one --watch screen: a title line, then the snapshot, or the fetch
// error and the last good snapshot, sized to the terminal when there is one.
func (v *statusView) drawFrame(b *bytes.Buffer, fetchErr error, last *status.Status, lastAt time.Time) {
	var o status.RenderOptions
	height := 0
	if v.size != nil {
		if w, h, err := v.size(); err == nil {
			o.Width, height = w, h
		}
	}
	var head []string
	title := fmt.Sprintf("logferry status %s  every %v  %s", v.url, v.interval, time.Now().Format("15:04:05"))
	if v.size != nil {
		title += "  (Ctrl-C to quit)"
	}
	head = append(head, title)
	if fetchErr != nil {
		head = append(head, "ERROR: "+oneLine(fetchErr.Error()))
		if last != nil {
			head = append(head, fmt.Sprintf("showing the last snapshot, fetched at %s", lastAt.Format("15:04:05")))
		} else {
			head = append(head, fmt.Sprintf("retrying every %v", v.interval))
		}
	}
	for _, l := range head {
		if o.Width > 0 {
			if r := []rune(l); len(r) > o.Width {
				l = string(r[:o.Width-1]) + "…"
			}
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	if last == nil {
		return
	}
	b.WriteByte('\n')
	if height > 0 {
		// One line fewer than the window, so the final newline does not scroll it.
		o.Height = max(height-1-len(head)-1, 1)
	}
	// Render only fails on a nil status or a failing writer; neither can happen here.
	_ = status.Render(b, last, o)
}

// hostPort returns the host:port of a URL, for messages.
func hostPort(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Host
	}
	return u
}

// oneLine joins a multi-line message.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func withNewline(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		return b
	}
	return append(b, '\n')
}
