package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"syscall"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/drover/drover/internal/errdefs"
)

// ErrNotFoundInPath is the cause of an ExecError when a command name matched no
// executable in any PATH directory.
var ErrNotFoundInPath = errors.New("executable file not found in $PATH")

// ExecError explains why a container's command cannot run, in the words runc and Docker
// use (`exec: "foo": executable file not found in $PATH`). It matches errdefs.ErrNotFound
// when nothing is there (Docker's exit code 127) and errdefs.ErrInvalidArgument when
// something is there but cannot be executed (exit code 126).
type ExecError struct {
	Name string
	Err  error
}

func (e *ExecError) Error() string { return fmt.Sprintf("exec: %q: %v", e.Name, e.Err) }

// Unwrap exposes both the cause and the errdefs class.
func (e *ExecError) Unwrap() []error {
	class := errdefs.ErrInvalidArgument
	if errors.Is(e.Err, ErrNotFoundInPath) || errors.Is(e.Err, fs.ErrNotExist) || errors.Is(e.Err, unix.ENOTDIR) {
		class = errdefs.ErrNotFound
	}
	return []error{e.Err, class}
}

// LookPath finds the executable a container would run for file, looking inside rootfs:
// a name with a slash is taken as a path (relative ones from the container's "/"), any
// other name is searched in the PATH of env (DefaultPath when env has none). Symlinks are
// resolved as if rootfs were "/", so an image cannot make drover inspect host files. The
// result is the path inside the container. Executability is judged by the mode bits only.
func LookPath(rootfs, file string, env []string) (string, error) {
	if file == "" {
		return "", &ExecError{Name: file, Err: ErrNotFoundInPath}
	}
	if strings.Contains(file, "/") {
		p := file
		if !path.IsAbs(p) {
			p = "/" + p
		}
		if err := checkExecutable(rootfs, path.Clean(p)); err != nil {
			return "", &ExecError{Name: file, Err: err}
		}
		return file, nil
	}
	pathEnv, ok := lookupEnv(env, "PATH")
	if !ok {
		pathEnv = DefaultPath
	}
	for _, dir := range strings.Split(pathEnv, ":") {
		// Relative entries (including the empty one, meaning ".") depend on a working
		// directory; like Go's exec, drover does not search them.
		if !path.IsAbs(dir) {
			continue
		}
		p := path.Join(dir, file)
		if checkExecutable(rootfs, p) == nil {
			return p, nil
		}
	}
	return "", &ExecError{Name: file, Err: ErrNotFoundInPath}
}

// checkExecutable reports whether p (inside rootfs) is a regular file with an execute bit,
// with the errors exec(3) would give: a *fs.PathError for a missing path, EISDIR for a
// directory, fs.ErrPermission otherwise.
func checkExecutable(rootfs, p string) error {
	h, err := pathrs.OpenInRoot(rootfs, p)
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) && (errno == unix.ENOENT || errno == unix.ENOTDIR || errno == unix.ELOOP) {
			return &fs.PathError{Op: "stat", Path: p, Err: errno}
		}
		return &fs.PathError{Op: "stat", Path: p, Err: err}
	}
	defer h.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &st); err != nil {
		return &fs.PathError{Op: "stat", Path: p, Err: err}
	}
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFDIR:
		return syscall.EISDIR
	case st.Mode&unix.S_IFMT != unix.S_IFREG, st.Mode&0o111 == 0:
		return fs.ErrPermission
	}
	return nil
}
