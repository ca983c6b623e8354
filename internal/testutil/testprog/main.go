// Command testprog is a small static program for drover's integration tests: exit codes,
// signals, stdin, HTTP, memory and process limits.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testprog exit N | sleep D | echo ARGS | env | stdin | signals | http ADDR | alloc MiB | spam N | forkbomb | pid")
		os.Exit(2)
	}
	args := os.Args[2:]
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	switch os.Args[1] {
	case "exit":
		n, _ := strconv.Atoi(arg(0))
		os.Exit(n)
	case "sleep":
		d, _ := time.ParseDuration(arg(0))
		time.Sleep(d)
	case "echo":
		for i, a := range args {
			if i > 0 {
				fmt.Print(" ")
			}
			fmt.Print(a)
		}
		fmt.Println()
	case "env":
		for _, kv := range os.Environ() {
			fmt.Println(kv)
		}
	case "stdin":
		_, _ = io.Copy(os.Stdout, os.Stdin)
	case "signals":
		ch := make(chan os.Signal, 8)
		signal.Notify(ch, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
		fmt.Println("ready")
		for s := range ch {
			fmt.Println(s.(syscall.Signal).String())
			if s == syscall.SIGTERM {
				os.Exit(0)
			}
		}
	case "http":
		addr := arg(0)
		if addr == "" {
			addr = ":8080"
		}
		http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello from testprog") })
		http.HandleFunc("/hostname", func(w http.ResponseWriter, r *http.Request) {
			h, _ := os.Hostname()
			fmt.Fprintln(w, h)
		})
		fmt.Println("listening on", addr)
		if err := http.ListenAndServe(addr, nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "alloc":
		mib, _ := strconv.Atoi(arg(0))
		var chunks [][]byte
		for i := 0; i < mib; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			chunks = append(chunks, b)
		}
		fmt.Println("allocated", len(chunks), "MiB")
	case "spam":
		n, _ := strconv.Atoi(arg(0))
		for i := 0; i < n; i++ {
			fmt.Println("spam line", i)
		}
	case "forkbomb":
		started, failed := 0, 0
		var procs []*exec.Cmd
		for i := 0; i < 2000; i++ {
			cmd := exec.Command("/proc/self/exe", "sleep", "30s")
			if err := cmd.Start(); err != nil {
				failed++
				if failed == 1 {
					fmt.Println("fork failed:", err)
				}
				if failed > 20 {
					break
				}
				continue
			}
			started++
			procs = append(procs, cmd)
		}
		fmt.Println("started", started, "failed", failed)
		for _, p := range procs {
			_ = p.Process.Kill()
			_ = p.Wait()
		}
	case "pid":
		fmt.Println(os.Getpid())
	default:
		fmt.Fprintln(os.Stderr, "unknown command", os.Args[1])
		os.Exit(2)
	}
}
