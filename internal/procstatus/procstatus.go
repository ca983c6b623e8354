// Package procstatus reads a process's /proc/PID/status: its name, state, parent, identity
// and signal masks, as the kernel reports them.
package procstatus

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// Read returns the fields of /proc/PID/status, keyed by name ("Name", "Uid", "SigCgt"...),
// values trimmed.
func Read(pid int) (map[string]string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out, sc.Err()
}
