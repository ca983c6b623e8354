// Package progress renders the JSON-lines progress stream of pull and push for people:
// on a terminal one line per layer, redrawn in place with a bar as Docker draws them;
// elsewhere a line per change of a layer's status, so logs stay readable.
package progress

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	units "github.com/docker/go-units"

	"github.com/drover/drover/api"
)

// maxLine bounds one JSON line of the stream.
const maxLine = 1 << 20

// Render reads api.Progress lines from r and writes them to w; tty selects the redrawn
// display. A line with Error ends the stream: its text is returned as the error.
func Render(w io.Writer, r io.Reader, tty bool) error {
	d := &display{w: w, tty: tty, index: map[string]int{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var p api.Progress
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			return fmt.Errorf("bad progress line from the daemon: %q", truncate(line, 80))
		}
		if p.Error != "" {
			return errors.New(p.Error)
		}
		d.show(p)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("progress stream: %w", err)
	}
	return nil
}

// Quiet consumes the stream and returns its last message (a line without ID), or the
// error a line carries.
func Quiet(r io.Reader) (string, error) {
	var last string
	err := Render(io.Discard, io.TeeReader(r, lastMessage{&last}), false)
	return last, err
}

// lastMessage remembers the last whole-operation message that passes through.
type lastMessage struct{ s *string }

func (l lastMessage) Write(b []byte) (int, error) {
	for _, line := range strings.Split(string(b), "\n") {
		var p api.Progress
		if json.Unmarshal([]byte(line), &p) == nil && p.ID == "" && p.Status != "" {
			*l.s = p.Status
		}
	}
	return len(b), nil
}

// display keeps one line per layer ID.
type display struct {
	w     io.Writer
	tty   bool
	ids   []string
	index map[string]int
	last  map[string]string
	lines []string
}

func (d *display) show(p api.Progress) {
	if p.ID == "" {
		fmt.Fprintln(d.w, p.Status)
		if d.tty { // a message starts a new block of layer lines
			d.ids, d.index, d.lines = nil, map[string]int{}, nil
		}
		return
	}
	text := p.ID + ": " + p.Status
	if p.Total > 0 && (p.Status == "Downloading" || p.Status == "Pushing" || p.Status == "Extracting") {
		text += " " + bar(p.Current, p.Total)
	}
	if !d.tty {
		if d.last == nil {
			d.last = map[string]string{}
		}
		if d.last[p.ID] != p.Status {
			d.last[p.ID] = p.Status
			fmt.Fprintln(d.w, p.ID+": "+p.Status)
		}
		return
	}
	i, ok := d.index[p.ID]
	if !ok {
		d.index[p.ID] = len(d.ids)
		d.ids = append(d.ids, p.ID)
		d.lines = append(d.lines, text)
		fmt.Fprintln(d.w, text)
		return
	}
	d.lines[i] = text
	up := len(d.ids) - i
	// Move up to the layer's line, rewrite it, come back down.
	fmt.Fprintf(d.w, "\x1b[%dA\r\x1b[2K%s\r\x1b[%dB", up, text, up)
}

// bar draws Docker's "[=====>     ]  12.3MB/45.6MB".
func bar(cur, total int64) string {
	const width = 50
	if cur > total {
		cur = total
	}
	filled := int(float64(width) * float64(cur) / float64(total))
	b := strings.Repeat("=", filled)
	if filled < width {
		b += ">" + strings.Repeat(" ", width-filled-1)
	}
	return fmt.Sprintf("[%s] %8s/%s", b, units.HumanSizeWithPrecision(float64(cur), 3), units.HumanSizeWithPrecision(float64(total), 3))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
