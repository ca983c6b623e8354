package snapshot

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/drover/drover/internal/errdefs"
)

// TestStageOutOfOrder: layers staged in any order commit only on top of their parent,
// and a staged layer whose content does not give the chain is refused.
func TestStageOutOfOrder(t *testing.T) {
	s := openSnapshotter(t)
	ctx := context.Background()
	base, top := layerTar(t, file("a", "1")), layerTar(t, file("b", "2"))
	stTop, err := s.Stage(ctx, bytes.NewReader(top))
	if err != nil {
		t.Fatal(err)
	}
	defer stTop.Discard()
	stBase, err := s.Stage(ctx, bytes.NewReader(base))
	if err != nil {
		t.Fatal(err)
	}
	defer stBase.Discard()
	baseChain := ChainID("", digest.FromBytes(base))
	topChain := ChainID(baseChain, digest.FromBytes(top))
	if err := stTop.Commit(topChain, baseChain); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("commit before the parent: %v", err)
	}
	if err := stBase.Commit(topChain, ""); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("commit under the wrong chain: %v", err)
	}
	if err := stBase.Commit(baseChain, ""); err != nil {
		t.Fatal(err)
	}
	if err := stTop.Commit(topChain, baseChain); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(fsDir(s, topChain), "b")); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(topChain); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(filepath.Join(s.Root(), "tmp")); len(left) != 0 {
		t.Fatalf("tmp not empty: %v", left)
	}
}
