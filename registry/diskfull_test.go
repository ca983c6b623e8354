package registry

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/drover/drover/internal/testutil"
)

// TestDiskFull: on a filesystem that fills up, an upload fails with 507, leaves no blob
// and no ingest behind, and the registry keeps working for what fits.
func TestDiskFull(t *testing.T) {
	testutil.RequiresRoot(t)
	root := t.TempDir()
	if err := unix.Mount("tmpfs", root, "tmpfs", 0, "size=2m"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(root, unix.MNT_DETACH) })
	reg, err := Open(filepath.Join(root, "reg"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	t.Cleanup(func() { srv.Close(); reg.Close() })
	s := &testServer{t: t, reg: reg, srv: srv, root: root}

	big := bytes.Repeat([]byte("x"), 3<<20)
	d := digest.FromBytes(big)
	s.expect(s.do("POST", "/v2/r/blobs/uploads/?digest="+d.String(), big), http.StatusInsufficientStorage, "")
	resp := s.do("POST", "/v2/r/blobs/uploads/", nil)
	loc := resp.Header.Get("Location")
	s.expect(resp, http.StatusAccepted, "")
	s.expect(s.do("PATCH", loc, big), http.StatusInsufficientStorage, "")
	s.expect(s.do("GET", loc, nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
	if reg.store.Has(d) {
		t.Fatal("a blob of a failed upload is visible")
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "reg", "content", "ingest")); len(entries) != 0 {
		t.Fatalf("%d ingests left", len(entries))
	}
	small := []byte("fits")
	s.pushBlob("r", small)
	if got := s.expect(s.do("GET", "/v2/r/blobs/"+digest.FromBytes(small).String(), nil), http.StatusOK, ""); !bytes.Equal(got, small) {
		t.Fatalf("blob after a full disk: %q", got)
	}
}
