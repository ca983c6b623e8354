// Command testprog is a small static program for drover's integration tests: exit codes,
// signals, stdin, environment, HTTP, terminals, memory and process limits. It uses only the
// standard library so that it runs in any rootfs. Run it without arguments for its usage.
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// command is one subcommand: it gets the arguments after its name and returns the exit code.
type command struct {
	args string
	help string
	run  func(args []string) int
}

var commands = map[string]command{
	"exit":     {"N", "exit with status N", exitCmd},
	"sleep":    {"DURATION", "sleep (10s, 1m or seconds); exit 128+n on SIGTERM or SIGINT", sleepCmd},
	"echo":     {"ARGS...", "print the arguments", echoCmd},
	"env":      {"", "print the environment", envCmd},
	"stdin":    {"", "copy stdin to stdout, then exit 0", stdinCmd},
	"signals":  {"", `print "ready", then the name of each signal received; exit 0 after SIGTERM`, signalsCmd},
	"http":     {"ADDR", "serve HTTP: / says hello, /hostname, /env", httpCmd},
	"alloc":    {"MiB", "allocate and touch MiB mebibytes, then exit 0", allocCmd},
	"spam":     {"N [stderr]", "print N numbered lines", spamCmd},
	"forkbomb": {"[N]", "start up to N (200) copies of itself, report the failures", forkbombCmd},
	"tty":      {"", "report whether stdin is a terminal, and its size", ttyCmd},
	"pid":      {"", "print the process id", pidCmd},
	"euid":     {"", `print "Effective uid: N" (installed setuid, it shows whether no_new_privs held)`, euidCmd},
	"cat":      {"FILE", "print a file", catCmd},
}

func main() {
	if len(os.Args) < 2 {
		os.Exit(usage())
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "testprog: unknown command %q\n", os.Args[1])
		os.Exit(usage())
	}
	os.Exit(cmd.run(os.Args[2:]))
}

func usage() int {
	fmt.Fprintln(os.Stderr, "usage: testprog COMMAND [ARGS]")
	for _, name := range []string{"exit", "sleep", "echo", "env", "stdin", "signals", "http", "alloc", "spam", "forkbomb", "tty", "pid", "euid", "cat"} {
		c := commands[name]
		fmt.Fprintf(os.Stderr, "  %-20s %s\n", strings.TrimSpace(name+" "+c.args), c.help)
	}
	return 2
}

// fail reports an error and returns exit status 1.
func fail(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "testprog: "+format+"\n", args...)
	return 1
}

// intArg parses args[i] as a non-negative number, or returns def if it is absent.
func intArg(args []string, i, def int) (int, error) {
	if i >= len(args) {
		return def, nil
	}
	n, err := strconv.Atoi(args[i])
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a non-negative number", args[i])
	}
	return n, nil
}

func exitCmd(args []string) int {
	n, err := intArg(args, 0, 0)
	if err != nil || len(args) != 1 {
		return fail("exit N: %v", err)
	}
	return n
}

func sleepCmd(args []string) int {
	if len(args) != 1 {
		return fail("sleep DURATION")
	}
	d, err := time.ParseDuration(args[0])
	if err != nil {
		secs, err2 := strconv.ParseFloat(args[0], 64)
		if err2 != nil {
			return fail("sleep: %v", err)
		}
		d = time.Duration(secs * float64(time.Second))
	}
	// Explicit handlers: as PID 1 in a container, default signal actions do not apply.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-time.After(d):
		return 0
	case s := <-sigs:
		return 128 + int(s.(syscall.Signal))
	}
}

func echoCmd(args []string) int {
	fmt.Println(strings.Join(args, " "))
	return 0
}

func envCmd([]string) int {
	for _, kv := range os.Environ() {
		fmt.Println(kv)
	}
	return 0
}

func stdinCmd([]string) int {
	if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
		return fail("stdin: %v", err)
	}
	return 0
}

// signalNames are the signals `signals` reports.
var signalNames = map[syscall.Signal]string{
	syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT",
	syscall.SIGUSR1: "SIGUSR1", syscall.SIGUSR2: "SIGUSR2", syscall.SIGTERM: "SIGTERM",
	syscall.SIGALRM: "SIGALRM", syscall.SIGWINCH: "SIGWINCH", syscall.SIGCONT: "SIGCONT",
}

func signalsCmd([]string) int {
	ch := make(chan os.Signal, 16)
	for s := range signalNames {
		signal.Notify(ch, s)
	}
	fmt.Println("ready")
	for s := range ch {
		fmt.Println(signalNames[s.(syscall.Signal)])
		if s == syscall.SIGTERM {
			return 0
		}
	}
	return 0
}

func httpCmd(args []string) int {
	addr := ":8080"
	if len(args) > 0 {
		addr = args[0]
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello from testprog")
	})
	mux.HandleFunc("/hostname", func(w http.ResponseWriter, r *http.Request) {
		h, _ := os.Hostname()
		fmt.Fprintln(w, h)
	})
	mux.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		for _, kv := range os.Environ() {
			fmt.Fprintln(w, kv)
		}
	})
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fail("http: %v", err)
	}
	// Printed once the port is open, so a test can wait for it.
	fmt.Println("listening on", l.Addr())
	return fail("http: %v", http.Serve(l, mux))
}

func allocCmd(args []string) int {
	mib, err := intArg(args, 0, 0)
	if err != nil || len(args) != 1 {
		return fail("alloc MiB: %v", err)
	}
	chunks := make([][]byte, 0, mib)
	for i := 0; i < mib; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1 // fresh pages are not resident until written
		}
		chunks = append(chunks, b)
	}
	fmt.Println("allocated", len(chunks), "MiB")
	runtime.KeepAlive(chunks)
	return 0
}

func spamCmd(args []string) int {
	n, err := intArg(args, 0, 0)
	if err != nil || len(args) < 1 {
		return fail("spam N [stderr]: %v", err)
	}
	out := os.Stdout
	if len(args) > 1 && args[1] == "stderr" {
		out = os.Stderr
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(out, "spam line %d\n", i)
	}
	return 0
}

// forkbombCmd starts copies of itself until the pids limit stops it. It keeps its own
// thread count down (one P, no GC) so that the runtime itself does not need a new thread
// after the limit is reached.
func forkbombCmd(args []string) int {
	n, err := intArg(args, 0, 200)
	if err != nil {
		return fail("forkbomb [N]: %v", err)
	}
	runtime.GOMAXPROCS(1)
	debug.SetGCPercent(-1)
	self, err := os.Executable()
	if err != nil {
		self = "/proc/self/exe"
	}
	var children []*os.Process
	var firstErr error
	failed := 0
	for len(children) < n && failed < 10 {
		p, err := os.StartProcess(self, []string{"testprog", "sleep", "1h"}, &os.ProcAttr{})
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			failed++
			continue
		}
		children = append(children, p)
	}
	if firstErr != nil {
		fmt.Println("fork failed:", firstErr)
	}
	fmt.Printf("forkbomb: started %d, failed %d\n", len(children), failed)
	for _, p := range children {
		_ = p.Kill()
		_, _ = p.Wait()
	}
	return 0
}

func ttyCmd([]string) int {
	var ws struct{ Rows, Cols, X, Y uint16 }
	var t syscall.Termios
	if ioctl(0, syscall.TCGETS, unsafe.Pointer(&t)) != nil {
		fmt.Println("tty=false")
		return 0
	}
	if err := ioctl(0, syscall.TIOCGWINSZ, unsafe.Pointer(&ws)); err != nil {
		return fail("tty: window size: %v", err)
	}
	fmt.Printf("tty=true rows=%d cols=%d\n", ws.Rows, ws.Cols)
	return 0
}

func ioctl(fd, req uintptr, arg unsafe.Pointer) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}

func pidCmd([]string) int {
	fmt.Println(os.Getpid())
	return 0
}

func euidCmd([]string) int {
	fmt.Printf("Effective uid: %d\n", os.Geteuid())
	return 0
}

func catCmd(args []string) int {
	if len(args) != 1 {
		return fail("cat FILE")
	}
	f, err := os.Open(args[0])
	if err != nil {
		return fail("cat: %v", err)
	}
	defer f.Close()
	if _, err := io.Copy(os.Stdout, f); err != nil && !errors.Is(err, syscall.EPIPE) {
		return fail("cat: %v", err)
	}
	return 0
}
