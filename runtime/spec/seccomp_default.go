package spec

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// drover's built-in seccomp profile. It is an allowlist: anything not named here fails with
// EPERM. runc additionally answers ENOSYS for syscalls newer than any it knows of in the
// profile, so programs probing a brand-new syscall fall back as they would on an older
// kernel. The lists are grouped by what the calls are for; a call that only makes sense with
// a capability the container may lack is in a group that applies only when it holds it,
// which keeps the filter a second line of defence behind the capability checks.

// allowAlways are the calls ordinary programs (shells, busybox, glibc, musl and Go binaries,
// interpreters, servers) make. The kernel still applies its own permission checks.
var allowAlways = [][]string{
	// File descriptors and I/O.
	{"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
		"pwritev2", "open", "openat", "openat2", "creat", "close", "close_range", "lseek",
		"_llseek", "dup", "dup2", "dup3", "fcntl", "fcntl64", "flock", "fsync", "fdatasync",
		"sync", "syncfs", "sync_file_range", "sync_file_range2", "arm_sync_file_range",
		"truncate", "truncate64", "ftruncate", "ftruncate64", "fallocate", "fadvise64",
		"fadvise64_64", "arm_fadvise64_64", "readahead", "sendfile", "sendfile64", "splice",
		"tee", "vmsplice", "copy_file_range", "ioctl", "pipe", "pipe2", "cachestat"},
	// Files, directories and their metadata.
	{"stat", "stat64", "lstat", "lstat64", "fstat", "fstat64", "newfstatat", "fstatat64",
		"statx", "statfs", "statfs64", "fstatfs", "fstatfs64", "access", "faccessat",
		"faccessat2", "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "chown32", "fchown",
		"fchown32", "fchownat", "lchown", "lchown32", "utime", "utimes", "utimensat",
		"utimensat_time64", "futimesat", "getdents", "getdents64", "readlink", "readlinkat",
		"link", "linkat", "symlink", "symlinkat", "unlink", "unlinkat", "rename", "renameat",
		"renameat2", "mkdir", "mkdirat", "rmdir", "mknod", "mknodat", "getcwd", "chdir",
		"fchdir", "umask", "file_getattr", "file_setattr"},
	// Extended attributes.
	{"getxattr", "lgetxattr", "fgetxattr", "getxattrat", "setxattr", "lsetxattr", "fsetxattr",
		"setxattrat", "listxattr", "llistxattr", "flistxattr", "listxattrat", "removexattr",
		"lremovexattr", "fremovexattr", "removexattrat"},
	// Waiting for events.
	{"select", "_newselect", "pselect6", "pselect6_time64", "poll", "ppoll", "ppoll_time64",
		"epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_wait",
		"epoll_wait_old", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "signalfd",
		"signalfd4", "timerfd_create", "timerfd_settime", "timerfd_settime64",
		"timerfd_gettime", "timerfd_gettime64", "inotify_init", "inotify_init1",
		"inotify_add_watch", "inotify_rm_watch", "fanotify_mark", "io_setup", "io_destroy",
		"io_submit", "io_cancel", "io_getevents", "io_pgetevents", "io_pgetevents_time64"},
	// Memory.
	{"brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "pkey_mprotect", "pkey_alloc",
		"pkey_free", "madvise", "mincore", "mlock", "mlock2", "munlock", "mlockall",
		"munlockall", "msync", "membarrier", "memfd_create", "memfd_secret",
		"remap_file_pages", "map_shadow_stack", "mseal"},
	// Processes and threads (clone and unshare are filtered below).
	{"fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid",
		"waitpid", "kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
		"getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid",
		"getpriority", "setpriority", "sched_yield", "sched_getaffinity", "sched_setaffinity",
		"sched_getparam", "sched_setparam", "sched_getscheduler", "sched_setscheduler",
		"sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval",
		"sched_rr_get_interval_time64", "sched_getattr", "sched_setattr", "set_tid_address",
		"set_robust_list", "get_robust_list", "futex", "futex_time64", "futex_waitv",
		"futex_wake", "futex_wait", "futex_requeue", "rseq", "prctl", "arch_prctl",
		"set_thread_area", "get_thread_area", "set_tls", "cacheflush", "breakpoint",
		"pidfd_open", "pidfd_send_signal", "process_mrelease", "capget", "capset",
		"getrusage", "getrlimit", "ugetrlimit", "setrlimit", "prlimit64", "times", "uname",
		"sysinfo", "getrandom", "getcpu", "ioprio_get", "ioprio_set", "restart_syscall",
		"seccomp", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
		"lsm_get_self_attr", "lsm_set_self_attr", "lsm_list_modules", "uretprobe"},
	// Signals.
	{"rt_sigaction", "sigaction", "rt_sigprocmask", "sigprocmask", "rt_sigreturn",
		"sigreturn", "rt_sigpending", "sigpending", "rt_sigsuspend", "sigsuspend",
		"rt_sigtimedwait", "rt_sigtimedwait_time64", "sigaltstack", "signal", "pause", "alarm"},
	// Clocks and timers (setting the clock is in the CAP_SYS_TIME group).
	{"nanosleep", "clock_nanosleep", "clock_nanosleep_time64", "clock_gettime",
		"clock_gettime64", "clock_getres", "clock_getres_time64", "gettimeofday", "time",
		"getitimer", "setitimer", "timer_create", "timer_delete", "timer_settime",
		"timer_settime64", "timer_gettime", "timer_gettime64", "timer_getoverrun", "adjtimex"},
	// User and group IDs.
	{"getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32", "getegid",
		"getegid32", "setuid", "setuid32", "setgid", "setgid32", "setreuid", "setreuid32",
		"setregid", "setregid32", "setresuid", "setresuid32", "setresgid", "setresgid32",
		"getresuid", "getresuid32", "getresgid", "getresgid32", "getgroups", "getgroups32",
		"setgroups", "setgroups32", "setfsuid", "setfsuid32", "setfsgid", "setfsgid32"},
	// System V and POSIX IPC (private to the container's IPC namespace).
	{"msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop", "semtimedop",
		"semtimedop_time64", "semctl", "shmget", "shmat", "shmdt", "shmctl", "ipc", "mq_open",
		"mq_unlink", "mq_timedsend", "mq_timedsend_time64", "mq_timedreceive",
		"mq_timedreceive_time64", "mq_notify", "mq_getsetattr"},
	// Sockets (socket itself is filtered below).
	{"socketpair", "bind", "listen", "accept", "accept4", "connect", "getsockname",
		"getpeername", "sendto", "send", "recvfrom", "recv", "sendmsg", "sendmmsg", "recvmsg",
		"recvmmsg", "recvmmsg_time64", "shutdown", "setsockopt", "getsockopt", "socketcall"},
	// Mount information of the container's own mount namespace.
	{"statmount", "listmount"},
}

// allowWithPtrace are process-inspection calls. Since Linux 4.8 seccomp runs after ptrace
// hooks, so a tracer can no longer use ptrace to skip a tracee's filter; on such kernels they
// are as safe as the kernel's own ptrace access checks, and debuggers and strace need them.
var allowWithPtrace = []string{"ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
	"pidfd_getfd", "process_madvise"}

// capRules are calls allowed only when the container holds the capability.
var capRules = []struct {
	cap   string
	names []string
}{
	{"CAP_SYS_ADMIN", []string{"mount", "umount", "umount2", "mount_setattr", "move_mount",
		"open_tree", "open_tree_attr", "fsopen", "fsconfig", "fsmount", "fspick", "pivot_root",
		"sethostname", "setdomainname", "setns", "unshare", "clone", "clone3", "quotactl",
		"quotactl_fd", "fanotify_init", "name_to_handle_at", "lookup_dcookie", "bpf",
		"perf_event_open"}},
	{"CAP_SYS_BOOT", []string{"reboot"}},
	{"CAP_SYS_CHROOT", []string{"chroot"}},
	{"CAP_SYS_MODULE", []string{"init_module", "finit_module", "delete_module"}},
	{"CAP_SYS_PACCT", []string{"acct"}},
	{"CAP_SYS_PTRACE", []string{"userfaultfd"}},
	{"CAP_SYS_RAWIO", []string{"iopl", "ioperm"}},
	{"CAP_SYS_TIME", []string{"settimeofday", "stime", "clock_settime", "clock_settime64",
		"clock_adjtime", "clock_adjtime64"}},
	{"CAP_SYS_TTY_CONFIG", []string{"vhangup"}},
	{"CAP_SYS_NICE", []string{"get_mempolicy", "set_mempolicy", "set_mempolicy_home_node",
		"mbind", "move_pages", "migrate_pages"}},
	{"CAP_DAC_READ_SEARCH", []string{"open_by_handle_at"}},
	{"CAP_SYSLOG", []string{"syslog"}},
	{"CAP_BPF", []string{"bpf"}},
	{"CAP_PERFMON", []string{"perf_event_open"}},
}

// nsCloneFlags are the clone flags that create namespaces. clone(2) may not use them
// without CAP_SYS_ADMIN; in particular an unprivileged user namespace would hand the
// container a fresh set of capabilities to attack the kernel with.
const nsCloneFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET

// personalities are the personality(2) values programs legitimately set: the Linux
// default, UNAME26, ADDR_NO_RANDOMIZE (used by setarch -R and debuggers), both, and the
// query value 0xffffffff.
var personalities = []uint64{0x0, 0x8, 0x20000, 0x20008, 0xffffffff}

// DefaultSeccompProfile returns drover's built-in profile.
func DefaultSeccompProfile() *SeccompProfile {
	p := &SeccompProfile{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: ptr(uint(unix.EPERM)),
		// x32 is left out on purpose: its syscalls are then refused outright, and
		// compiling the filter for a third ABI costs every container ~20 ms of start-up.
		// The sub-architectures are kept only for images built for them (Options.CompatABI).
		ArchMap: []SeccompArchMap{
			{Arch: specs.ArchX86_64, SubArchitectures: []specs.Arch{specs.ArchX86}},
			{Arch: specs.ArchAARCH64, SubArchitectures: []specs.Arch{specs.ArchARM}},
		},
	}
	allow := func(r SeccompRule) {
		r.Action = specs.ActAllow
		p.Syscalls = append(p.Syscalls, r)
	}
	for _, group := range allowAlways {
		allow(SeccompRule{Names: group})
	}
	allow(SeccompRule{Names: allowWithPtrace, Includes: SeccompFilter{MinKernel: "4.8"},
		Comment: "seccomp cannot be bypassed with ptrace since 4.8"})
	for _, v := range personalities {
		allow(SeccompRule{Names: []string{"personality"},
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: v, Op: specs.OpEqualTo}}})
	}
	// AF_VSOCK (40) reaches the hypervisor, not the container's network.
	allow(SeccompRule{Names: []string{"socket"},
		Args: []specs.LinuxSeccompArg{{Index: 0, Value: unix.AF_VSOCK, Op: specs.OpNotEqual}}})
	// Without CAP_SYS_ADMIN: threads and processes yes, namespaces no. unshare also may not
	// make a time namespace (CLONE_NEWTIME shares clone's exit-signal bits, so only unshare
	// can test it).
	noSysAdmin := SeccompFilter{Caps: []string{"CAP_SYS_ADMIN"}}
	allow(SeccompRule{Names: []string{"clone"}, Excludes: noSysAdmin,
		Args: []specs.LinuxSeccompArg{{Index: 0, Value: nsCloneFlags, ValueTwo: 0, Op: specs.OpMaskedEqual}}})
	allow(SeccompRule{Names: []string{"unshare"}, Excludes: noSysAdmin,
		Args: []specs.LinuxSeccompArg{{Index: 0, Value: nsCloneFlags | unix.CLONE_NEWTIME, ValueTwo: 0, Op: specs.OpMaskedEqual}}})
	// clone3 passes its flags in memory, out of seccomp's reach: answer ENOSYS, which makes
	// glibc and others fall back to clone, where the flags are checked.
	p.Syscalls = append(p.Syscalls, SeccompRule{Names: []string{"clone3"}, Action: specs.ActErrno,
		ErrnoRet: ptr(uint(unix.ENOSYS)), Excludes: noSysAdmin})
	for _, r := range capRules {
		allow(SeccompRule{Names: r.names, Includes: SeccompFilter{Caps: []string{r.cap}}})
	}
	return p
}
