package status

import (
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// RenderOptions shapes the screen Render draws.
type RenderOptions struct {
	// Width is the most columns (runes) a line may take; 0 means no limit. Long cells are
	// shortened with "…" (paths from the left, messages from the right) so that every
	// line fits; as a last resort a line is cut at Width.
	Width int
	// MaxRows is the most file rows printed; 0 means all. When rows are left out, a
	// final line "… N more files" says how many.
	MaxRows int
	// Height, when > 0, is the most lines the whole screen should take: the file table
	// gets the lines the header and the sink table leave, keeping one for the
	// "… N more files" line. The tighter of Height and MaxRows wins. The header and the
	// sink table are always printed whole, so a very small Height can be exceeded.
	Height int
}

// ellipsis marks shortened text.
const ellipsis = "…"

// colGap separates table columns.
const colGap = "  "

// Render writes a plain-text screen describing s to w: a header (node, version, uptime
// from StartedAt to Now, readiness and the reasons it is not ready, buffer use,
// checkpoint and configuration state), a sink table and a file table with one row per
// file, largest lag first (ties broken by namespace, pod, container, path); a file's
// OFFSET is its read offset, LAG its unacknowledged bytes and LAG-AGE its container's
// LagSeconds (shown on files with a lag). Sizes are human (B, KiB, MiB, GiB),
// durations short (850ms, 12s, 3m04s, 2h05m, 3d04h). Every line ends in "\n" and
// carries no trailing spaces or control characters (message text is sanitised). The
// screen is written with a single Write; its error is returned. s is not modified.
func Render(w io.Writer, s *Status, o RenderOptions) error {
	if s == nil {
		return errors.New("status: Render: nil status")
	}
	if o.Width < 0 || o.MaxRows < 0 || o.Height < 0 {
		return fmt.Errorf("status: Render: negative option in %+v", o)
	}
	var lines []string
	lines = append(lines, headerLines(s)...)
	lines = append(lines, "")
	lines = append(lines, sinkTable(s, o.Width)...)
	lines = append(lines, "")

	rows := fileRows(s)
	limit := len(rows)
	if o.MaxRows > 0 && limit > o.MaxRows {
		limit = o.MaxRows
	}
	if o.Height > 0 {
		// Lines left for file rows after what is already there and the table's title row.
		left := o.Height - len(lines) - 1
		if left < len(rows) {
			left-- // room for "… N more files"
		}
		limit = min(limit, max(left, 0))
	}
	if len(rows) == 0 {
		lines = append(lines, "no files")
	} else {
		lines = append(lines, fileTable(rows[:limit], o.Width)...)
		if more := len(rows) - limit; more > 0 {
			noun := "files"
			if more == 1 {
				noun = "file"
			}
			lines = append(lines, fmt.Sprintf("%s %d more %s", ellipsis, more, noun))
		}
	}

	var b strings.Builder
	for _, l := range lines {
		l = strings.TrimRight(l, " ")
		if o.Width > 0 {
			l = cutRight(l, o.Width)
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// headerLines describes the agent as a whole.
func headerLines(s *Status) []string {
	first := "node " + orDash(clean(s.Node))
	if s.Version != "" {
		first += "  version " + clean(s.Version)
	}
	if !s.StartedAt.IsZero() && !s.Now.IsZero() {
		first += "  up " + FormatDuration(s.Now.Sub(s.StartedAt))
	}
	if !s.Now.IsZero() {
		first += "  at " + s.Now.Format("2006-01-02 15:04:05 MST")
	}

	ready := "ready:      yes"
	if !s.Ready {
		ready = "ready:      NO"
		if len(s.Reasons) > 0 {
			rs := make([]string, len(s.Reasons))
			for i, r := range s.Reasons {
				rs[i] = clean(r)
			}
			ready += ": " + strings.Join(rs, "; ")
		}
	}

	buf := fmt.Sprintf("buffer:     %s used of %s", FormatBytes(s.Buffer.UsedBytes), FormatBytes(s.Buffer.LimitBytes))
	if s.Buffer.LimitBytes > 0 {
		buf += fmt.Sprintf(" (%d%%)", s.Buffer.UsedBytes*100/s.Buffer.LimitBytes)
	}

	cp := fmt.Sprintf("checkpoint: %d entries", s.Checkpoint.Entries)
	if !s.Checkpoint.LastWriteAt.IsZero() {
		cp += ", last write " + ago(s.Now, s.Checkpoint.LastWriteAt)
	}
	if s.Checkpoint.LastError != "" {
		cp += ", last error: " + clean(s.Checkpoint.LastError)
	} else {
		cp += ", no errors"
	}
	if s.Checkpoint.Path != "" {
		cp += " (" + clean(s.Checkpoint.Path) + ")"
	}

	cfg := "config:     "
	if s.Config.Path != "" {
		cfg += clean(s.Config.Path)
	} else {
		cfg += "flags only"
	}
	if !s.Config.LoadedAt.IsZero() {
		cfg += ", loaded " + ago(s.Now, s.Config.LoadedAt)
	}
	cfg += fmt.Sprintf(", %d reloads", s.Config.Reloads)
	if s.Config.LastError != "" {
		cfg += ", last error"
		if !s.Config.LastErrorAt.IsZero() {
			cfg += " " + ago(s.Now, s.Config.LastErrorAt)
		}
		cfg += ": " + clean(s.Config.LastError)
	} else {
		cfg += ", no errors"
	}
	return []string{first, ready, buf, cp, cfg}
}

// sinkTable lists the sinks in the order given.
func sinkTable(s *Status, width int) []string {
	t := table{
		cols: []column{
			{title: "NAME", shrink: 1, min: 8},
			{title: "TYPE"},
			{title: "HEALTH"},
			{title: "IN-FLIGHT", right: true},
			{title: "RECORDS", right: true},
			{title: "RETRIES", right: true},
			{title: "FAILURES", right: true},
			{title: "LAST-ERROR", shrink: 2, min: 12},
		},
	}
	for _, k := range s.Sinks {
		health := "healthy"
		if !k.Healthy {
			health = "UNHEALTHY"
		}
		lastErr := "-"
		if k.LastError != "" {
			lastErr = clean(k.LastError)
			if !k.LastErrorAt.IsZero() {
				lastErr = ago(s.Now, k.LastErrorAt) + ": " + lastErr
			}
		}
		t.rows = append(t.rows, []cell{
			{text: clean(k.Name)},
			{text: orDash(clean(k.Type))},
			{text: health},
			{text: strconv.FormatInt(k.InFlight, 10)},
			{text: strconv.FormatUint(k.Records, 10)},
			{text: strconv.FormatUint(k.Retries, 10)},
			{text: strconv.FormatUint(k.Failures, 10)},
			{text: lastErr},
		})
	}
	if len(t.rows) == 0 {
		return []string{"no sinks"}
	}
	return t.render(width)
}

// fileRow is one file with its container.
type fileRow struct {
	c *Container
	f *File
}

// fileRows flattens the containers' files, largest lag first.
func fileRows(s *Status) []fileRow {
	var rows []fileRow
	for i := range s.Containers {
		c := &s.Containers[i]
		for j := range c.Files {
			rows = append(rows, fileRow{c: c, f: &c.Files[j]})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.f.LagBytes != b.f.LagBytes {
			return a.f.LagBytes > b.f.LagBytes
		}
		if a.c.Namespace != b.c.Namespace {
			return a.c.Namespace < b.c.Namespace
		}
		if a.c.Pod != b.c.Pod {
			return a.c.Pod < b.c.Pod
		}
		if a.c.Container != b.c.Container {
			return a.c.Container < b.c.Container
		}
		return a.f.Path < b.f.Path
	})
	return rows
}

// fileTable renders rows in the order given. LAG-AGE is the container's (the age of
// its oldest unacknowledged line), shown on its files that have a lag.
func fileTable(rows []fileRow, width int) []string {
	t := table{
		cols: []column{
			{title: "NAMESPACE", shrink: 3, min: 6},
			{title: "POD", shrink: 4, min: 10, cut: cutMiddle},
			{title: "CONTAINER", shrink: 2, min: 6},
			{title: "FILE", shrink: 1, min: 8, cut: cutPath},
			{title: "STATE"},
			{title: "OFFSET", right: true},
			{title: "SIZE", right: true},
			{title: "LAG", right: true},
			{title: "LAG-AGE", right: true},
		},
	}
	for _, r := range rows {
		lagAge := "-"
		if r.f.LagBytes > 0 && r.c.LagSeconds > 0 {
			lagAge = FormatDuration(time.Duration(r.c.LagSeconds * float64(time.Second)))
		}
		p := clean(r.f.Path)
		t.rows = append(t.rows, []cell{
			{text: orDash(clean(r.c.Namespace))},
			{text: orDash(clean(r.c.Pod))},
			{text: orDash(clean(r.c.Container))},
			{text: orDash(p), short: lastElems(p, 2)},
			{text: orDash(clean(r.f.State))},
			{text: FormatBytes(r.f.ReadOffset)},
			{text: FormatBytes(r.f.Size)},
			{text: FormatBytes(r.f.LagBytes)},
			{text: lagAge},
		})
	}
	return t.render(width)
}

// column describes one table column.
type column struct {
	title string
	right bool // right-aligned (numbers)
	// shrink is the order in which columns give up width when the table is too wide
	// (1 first); 0 means never. min is how narrow a shrinking column may get.
	shrink int
	min    int
	// cut shortens a cell to fit the column (cutRight if nil); titles are always cut
	// from the right.
	cut func(s string, w int) string
}

// cell is one table cell; short, if set, is used instead of text when the table is
// too wide for its natural layout.
type cell struct {
	text  string
	short string
}

// table is a list of rows under column titles.
type table struct {
	cols []column
	rows [][]cell
}

// render lays the table out in at most width columns (0 = no limit).
func (t *table) render(width int) []string {
	n := len(t.cols)
	widths := make([]int, n)
	natural := func(useShort bool) {
		for i, c := range t.cols {
			widths[i] = runeLen(c.title)
			for _, r := range t.rows {
				s := r[i].text
				if useShort && r[i].short != "" {
					s = r[i].short
				}
				widths[i] = max(widths[i], runeLen(s))
			}
		}
	}
	total := func() int {
		sum := len(colGap) * (n - 1)
		for _, w := range widths {
			sum += w
		}
		return sum
	}
	natural(false)
	shortForms := false
	if width > 0 && total() > width {
		shortForms = true
		natural(true)
		// Shrink the shrinkable columns, in order, down to their minimum.
		order := make([]int, 0, n)
		for i, c := range t.cols {
			if c.shrink > 0 {
				order = append(order, i)
			}
		}
		sort.SliceStable(order, func(a, b int) bool { return t.cols[order[a]].shrink < t.cols[order[b]].shrink })
		for _, i := range order {
			excess := total() - width
			if excess <= 0 {
				break
			}
			if floor := t.cols[i].min; widths[i] > floor {
				widths[i] -= min(excess, widths[i]-floor)
			}
		}
	}

	out := make([]string, 0, len(t.rows)+1)
	line := func(cells []string) string {
		var b strings.Builder
		for i, s := range cells {
			if i > 0 {
				b.WriteString(colGap)
			}
			pad := strings.Repeat(" ", max(widths[i]-runeLen(s), 0))
			if t.cols[i].right {
				b.WriteString(pad)
				b.WriteString(s)
			} else {
				b.WriteString(s)
				if i < n-1 {
					b.WriteString(pad)
				}
			}
		}
		return b.String()
	}
	titles := make([]string, n)
	for i, c := range t.cols {
		titles[i] = cutRight(c.title, widths[i])
	}
	out = append(out, line(titles))
	for _, r := range t.rows {
		cells := make([]string, n)
		for i, c := range r {
			s := c.text
			if shortForms && c.short != "" {
				s = c.short
			}
			cut := t.cols[i].cut
			if cut == nil {
				cut = cutRight
			}
			cells[i] = cut(s, widths[i])
		}
		out = append(out, line(cells))
	}
	return out
}

// FormatBytes formats n bytes for humans: "512B", "1.5KiB", "12.0MiB", "3.2GiB".
// Negative values keep their sign.
func FormatBytes(n int64) string {
	if n < 0 {
		return "-" + FormatBytes(-n)
	}
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + "B"
	}
	v := float64(n)
	for _, suffix := range []string{"KiB", "MiB", "GiB", "TiB"} {
		v /= unit
		if v < unit || suffix == "TiB" {
			return strconv.FormatFloat(v, 'f', 1, 64) + suffix
		}
	}
	panic("unreachable")
}

// FormatDuration formats d for humans with at most two units: "850ms", "4.2s", "12s",
// "3m04s", "2h05m", "3d04h". Negative durations count as 0.
func FormatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < 10*time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	case d < time.Minute:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", d/time.Minute, d%time.Minute/time.Second)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", d/time.Hour, d%time.Hour/time.Minute)
	default:
		day := 24 * time.Hour
		return fmt.Sprintf("%dd%02dh", d/day, d%day/time.Hour)
	}
}

// ago says how long before now t was ("3s ago"); without now it gives t's clock time.
func ago(now, t time.Time) string {
	if now.IsZero() {
		return "at " + t.Format("15:04:05")
	}
	return FormatDuration(now.Sub(t)) + " ago"
}

// lastElems returns the last n elements of a slash-separated path, or "" if p has no
// more than that.
func lastElems(p string, n int) string {
	parts := strings.Split(strings.Trim(path.Clean(p), "/"), "/")
	if len(parts) <= n {
		return ""
	}
	return strings.Join(parts[len(parts)-n:], "/")
}

// clean replaces control characters (newlines, tabs, escapes) with spaces so text
// cannot break the layout or drive the terminal.
func clean(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runeLen(s string) int { return utf8.RuneCountInString(s) }

// cutRight shortens s to at most w runes, ending it with "…" when cut.
func cutRight(s string, w int) string {
	if runeLen(s) <= w {
		return s
	}
	if w <= 0 {
		return ""
	}
	r := []rune(s)
	return strings.TrimRight(string(r[:w-1]), " ") + ellipsis
}

// cutLeft shortens s to at most w runes, starting it with "…" when cut.
func cutLeft(s string, w int) string {
	if runeLen(s) <= w {
		return s
	}
	if w <= 0 {
		return ""
	}
	r := []rune(s)
	return ellipsis + strings.TrimLeft(string(r[len(r)-(w-1):]), " ")
}

// cutPath shortens a slash-separated path to at most w runes by dropping whole leading
// elements ("…/app/0.log", "…/0.log"); when even the last element does not fit, it is
// cut from the left.
func cutPath(s string, w int) string {
	if runeLen(s) <= w {
		return s
	}
	best := ""
	for i := len(s) - 1; i > 0; i-- {
		if s[i] != '/' {
			continue
		}
		c := ellipsis + s[i:]
		if runeLen(c) > w {
			break
		}
		best = c
	}
	if best != "" {
		return best
	}
	if i := strings.LastIndexByte(s, '/'); i >= 0 && i < len(s)-1 {
		s = s[i+1:]
	}
	return cutLeft(s, w)
}

// cutMiddle shortens s to at most w runes, replacing its middle with "…" when cut, so
// that both ends (a pod's workload name and its unique suffix) stay visible.
func cutMiddle(s string, w int) string {
	if runeLen(s) <= w {
		return s
	}
	if w <= 0 {
		return ""
	}
	r := []rune(s)
	tail := (w - 1) / 2
	head := w - 1 - tail
	return string(r[:head]) + ellipsis + string(r[len(r)-tail:])
}
