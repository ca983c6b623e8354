package daemon

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/drover/drover/api"
)

func write(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNetDevStats(t *testing.T) {
	p := write(t, `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     140       2    0    0    0     0          0         0      140       2    0    0    0     0       0          0
  eth0:    1296      14    1    2    0     0          0         0      980      10    3    4    0     0       0          0
`)
	got := netDevStats(p)
	want := map[string]api.NetworkStats{"eth0": {RxBytes: 1296, RxPackets: 14, RxErrors: 1, RxDropped: 2, TxBytes: 980, TxPackets: 10, TxErrors: 3, TxDropped: 4}}
	if len(got) != 1 || got["eth0"] != want["eth0"] {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := netDevStats(filepath.Join(t.TempDir(), "gone")); got != nil {
		t.Errorf("a missing file: %v", got)
	}
}

func TestBlockIOStats(t *testing.T) {
	r, w := blkioV1(write(t, "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Total 12288\n8:16 Read 100\n8:16 Write 0\nTotal 12388\n"))
	if r != 4196 || w != 8192 {
		t.Errorf("cgroup v1: read %d write %d, want 4196 8192", r, w)
	}
	r, w = ioStatV2(write(t, "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n8:16 rbytes=100 wbytes=1 rios=1 wios=1\n"))
	if r != 4196 || w != 8193 {
		t.Errorf("cgroup v2: read %d write %d, want 4196 8193", r, w)
	}
}
