package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"

	"github.com/drover/drover/internal/errdefs"
)

// resolvedUser is the identity the container's process runs as.
type resolvedUser struct {
	UID, GID       uint32
	AdditionalGIDs []uint32
	Home           string
}

// maxUserFile bounds how much of /etc/passwd or /etc/group is read: the image is untrusted.
const maxUserFile = 16 << 20

// resolveUser resolves spec ("", "uid", "uid:gid", "name", "name:group") against the
// rootfs's /etc/passwd and /etc/group. The files are opened inside the rootfs with symlinks
// resolved as if rootfs were "/", so a hostile image cannot point them at host files.
// Missing files are fine for numeric IDs; names then fail with "no matching entries".
func resolveUser(rootfs, spec string) (resolvedUser, error) {
	passwd, err := openInRootfs(rootfs, "/etc/passwd")
	if err != nil {
		return resolvedUser{}, err
	}
	group, err := openInRootfs(rootfs, "/etc/group")
	if err != nil {
		return resolvedUser{}, err
	}
	defaults := &user.ExecUser{Uid: 0, Gid: 0, Home: "/"}
	eu, err := user.GetExecUser(spec, defaults, passwd, group)
	if err != nil {
		return resolvedUser{}, fmt.Errorf("%w: %w", err, errdefs.ErrInvalidArgument)
	}
	if eu.Home == "" {
		eu.Home = "/"
	}
	ru := resolvedUser{UID: uint32(eu.Uid), GID: uint32(eu.Gid), Home: eu.Home}
	for _, g := range eu.Sgids {
		ru.AdditionalGIDs = append(ru.AdditionalGIDs, uint32(g))
	}
	return ru, nil
}

// openInRootfs reads a regular file at a path inside rootfs, never leaving rootfs while
// resolving it. It returns a nil reader (not an error) when the file does not exist, and
// an io.Reader over the contents otherwise.
func openInRootfs(rootfs, name string) (io.Reader, error) {
	h, err := pathrs.OpenInRoot(rootfs, name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
			return nil, nil
		}
		return nil, fmt.Errorf("open %s in rootfs: %w", name, err)
	}
	defer h.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &st); err != nil {
		return nil, fmt.Errorf("stat %s in rootfs: %w", name, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		// A FIFO or device here would hang or misbehave on read; treat it as absent.
		return nil, nil
	}
	f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("open %s in rootfs: %w", name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxUserFile))
	if err != nil {
		return nil, fmt.Errorf("read %s in rootfs: %w", name, err)
	}
	return bytes.NewReader(data), nil
}

// addGroups appends the groups of groupAdd (numbers, or names in the rootfs's /etc/group)
// to gids, without duplicates.
func addGroups(rootfs string, gids []uint32, groupAdd []string) ([]uint32, error) {
	if len(groupAdd) == 0 {
		return gids, nil
	}
	group, err := openInRootfs(rootfs, "/etc/group")
	if err != nil {
		return nil, err
	}
	var groupFile io.Reader = bytes.NewReader(nil)
	if group != nil {
		groupFile = group
	}
	ids, err := user.GetAdditionalGroups(groupAdd, groupFile)
	if err != nil {
		return nil, fmt.Errorf("additional groups %v: %w: %w", groupAdd, err, errdefs.ErrInvalidArgument)
	}
	for _, g := range ids {
		if !slices.Contains(gids, uint32(g)) {
			gids = append(gids, uint32(g))
		}
	}
	return gids, nil
}
