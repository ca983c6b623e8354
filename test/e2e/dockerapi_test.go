package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drover/drover/internal/testutil"
)

// dockerClients are the real docker CLIs the Docker API tests drive: Debian's docker.io
// (20.10, API 1.41) and a current one (API 1.50) where the machine has them.
func dockerClients(t *testing.T) map[string]string {
	out := map[string]string{}
	for name, p := range map[string]string{"docker20": "/usr/bin/docker", "docker-current": "/usr/local/bin/docker"} {
		if _, err := os.Stat(p); err == nil {
			out[name] = p
		}
	}
	if len(out) == 0 {
		t.Skip("no docker CLI installed (apt-get install docker.io)")
	}
	return out
}

// dockerSock is the Docker API socket of e's daemon (EXEC-ROOT/docker.sock by default).
func (e *env) dockerSock() string { return filepath.Join(e.exec, "docker.sock") }

// docker runs a docker CLI against e's Docker API socket, with a config directory of its
// own (no ~/.docker is read or written).
func (e *env) docker(bin string, stdin []byte, args ...string) (stdout, stderr string, code int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+e.dockerSock(), "DOCKER_CONFIG="+filepath.Join(e.dir, "docker-config"),
		"DROVER_HOST="+e.sock, "DOCKER_BUILDKIT=0", "COMPOSE_DOCKER_CLI_BUILD=0")
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var o, er bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &er
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		code = -1
		er.WriteString(err.Error())
	}
	return o.String(), er.String(), code
}

func (e *env) mustDocker(bin string, args ...string) string {
	e.t.Helper()
	out, errOut, code := e.docker(bin, nil, args...)
	if code != 0 {
		e.t.Fatalf("docker %s: exit %d\nstdout: %s\nstderr: %s\ndaemon log:\n%s", strings.Join(args, " "), code, out, errOut, e.logBuf)
	}
	return out
}

// dockerHTTP is a raw HTTP client of the Docker API socket, for what the CLI hides.
func (e *env) dockerHTTP() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", e.dockerSock())
	}}, Timeout: time.Minute}
}

func TestDockerAPIClients(t *testing.T) {
	clients := dockerClients(t)
	e := newEnv(t)
	e.importBusybox("busybox")
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{})
	authReg := testutil.StartRegistry(t, testutil.RegistryOptions{Username: "bob", Password: "pw123"})
	for name, bin := range clients {
		t.Run(name, func(t *testing.T) {
			e := e.with(t)
			if v := strings.TrimSpace(e.mustDocker(bin, "version", "--format", "{{.Server.APIVersion}}")); v != "1.57" {
				t.Fatalf("server API version %q, want 1.57", v)
			}
			if out := e.mustDocker(bin, "info", "--format", "{{.OSType}} {{.Images}}"); !strings.HasPrefix(out, "linux ") {
				t.Fatalf("docker info: %q", out)
			}

			// run -d with a published port, env and a label; the same container is seen
			// and managed by drover's own CLI.
			since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
			port := testutil.FreePort(t)
			name := "web-" + name
			e.mustDocker(bin, "run", "-d", "--name", name, "-p", "127.0.0.1:"+strconv.Itoa(port)+":8080", "-e", "GREETING=hi",
				"--label", "suite=dockerapi", "busybox", "sh", "-c", "echo started; echo oops >&2; exec nc -ll -p 8080 -e echo pong")
			e.eventually(10*time.Second, "log line", func() bool {
				out, _, _ := e.docker(bin, nil, "logs", name)
				return strings.Contains(out, "started")
			})
			if out := e.mustDocker(bin, "ps", "--filter", "label=suite=dockerapi", "--format", "{{.Names}} {{.Status}}"); !strings.HasPrefix(out, name+" Up") {
				t.Fatalf("docker ps: %q", out)
			}
			if out := e.must("ps", "--format", "{{.Names}}"); !strings.Contains(out, name) {
				t.Fatalf("drover ps does not show the container made through docker: %q", out)
			}
			var reply []byte
			e.eventually(10*time.Second, "an answer on the published port", func() bool {
				conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second)
				if err != nil {
					return false
				}
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
				reply, _ = io.ReadAll(conn)
				return strings.Contains(string(reply), "pong")
			})
			out, errOut, code := e.docker(bin, nil, "logs", name)
			if code != 0 || !strings.Contains(out, "started") || !strings.Contains(errOut, "oops") {
				t.Fatalf("docker logs split the streams wrong: code %d stdout %q stderr %q", code, out, errOut)
			}
			if out := e.mustDocker(bin, "exec", name, "sh", "-c", "echo $GREETING $HOSTNAME; test -f /.dockerenv && echo dockerenv; echo $PATH"); !strings.Contains(out, "hi ") || !strings.Contains(out, "dockerenv") || !strings.Contains(out, "/usr/bin") {
				t.Fatalf("docker exec: %q", out)
			}
			if _, _, code := e.docker(bin, nil, "exec", name, "sh", "-c", "exit 4"); code != 4 {
				t.Fatalf("docker exec exit code %d, want 4", code)
			}
			if out := strings.TrimSpace(e.mustDocker(bin, "inspect", "-f", "{{.State.Running}} {{.Config.Image}} {{index .Config.Labels \"suite\"}}", name)); out != "true busybox dockerapi" {
				t.Fatalf("docker inspect: %q", out)
			}
			if got := e.inspect(name, "{{.State.Status}}"); got != "running" {
				t.Fatalf("drover inspect: %q", got)
			}
			e.mustDocker(bin, "stop", "-t", "1", name)
			if got := e.inspect(name, "{{.State.Status}}"); got != "exited" {
				t.Fatalf("after docker stop, drover sees %q", got)
			}
			e.mustDocker(bin, "rm", name)
			if _, _, code := e.drover("inspect", name); code == 0 {
				t.Fatal("container still there after docker rm")
			}
			if out := e.mustDocker(bin, "events", "--since", since, "--until", strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10), "--filter", "container="+name, "--format", "{{.Action}}"); !strings.Contains(out, "create\nstart\n") || !strings.Contains(out, "die\nstop\ndestroy\n") {
				t.Fatalf("docker events: %q", out)
			}

			// And the other way: made by drover, managed by docker.
			other := "drv-" + name
			e.must("run", "-d", "--name", other, "busybox", "sleep", "100")
			if out := e.mustDocker(bin, "ps", "--format", "{{.Names}}"); !strings.Contains(out, other) {
				t.Fatalf("docker ps does not show the drover container: %q", out)
			}
			e.mustDocker(bin, "rm", "-f", other)
			if _, _, code := e.drover("inspect", other); code == 0 {
				t.Fatal("drover container still there after docker rm -f")
			}

			// Foreground run: stdin, exit code, --rm.
			out, _, code = e.docker(bin, []byte("from stdin\n"), "run", "-i", "--rm", "--label", "rmtest="+name, "busybox", "sh", "-c", "cat; exit 3")
			if code != 3 || out != "from stdin\n" {
				t.Fatalf("docker run -i: code %d out %q", code, out)
			}
			if out := e.mustDocker(bin, "ps", "-a", "-q", "--filter", "label=rmtest="+name); strings.TrimSpace(out) != "" {
				t.Fatalf("--rm left containers: %q", out)
			}

			// Create options reach drover's config: what docker inspect and drover inspect show.
			optName := "opts-" + name
			e.mustDocker(bin, "create", "--name", optName, "--read-only", "-m", "64m", "--restart", "on-failure:2",
				"--cap-drop", "NET_RAW", "--init", "-u", "1000", "-w", "/tmp", "--hostname", "hh", "--tmpfs", "/scratch",
				"--health-cmd", "true", "--health-interval", "2s", "--add-host", "db:10.1.2.3", "busybox", "true")
			want := "true 67108864 on-failure:2 true 1000 /tmp hh [CMD-SHELL true]"
			if out := strings.TrimSpace(e.mustDocker(bin, "inspect", "-f", "{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}} {{.HostConfig.Init}} {{.Config.User}} {{.Config.WorkingDir}} {{.Config.Hostname}} {{.Config.Healthcheck.Test}}", optName)); out != want {
				t.Fatalf("docker inspect of create options:\n got %q\nwant %q", out, want)
			}
			// (Newer docker CLIs send capabilities with their CAP_ prefix.)
			if out := strings.TrimSpace(e.mustDocker(bin, "inspect", "-f", "{{.HostConfig.CapDrop}}", optName)); out != "[NET_RAW]" && out != "[CAP_NET_RAW]" {
				t.Fatalf("CapDrop: %q", out)
			}
			if got := e.inspect(optName, "{{.Config.HostConfig.ReadonlyRootfs}} {{.Config.HostConfig.RestartPolicy.Name}} {{index .Config.HostConfig.ExtraHosts 0}}"); got != "true on-failure db:10.1.2.3" {
				t.Fatalf("drover inspect of create options: %q", got)
			}
			e.mustDocker(bin, "update", "--restart", "always", optName)
			if got := e.inspect(optName, "{{.Config.HostConfig.RestartPolicy.Name}}"); got != "always" {
				t.Fatalf("after docker update --restart always: %q", got)
			}
			if _, errOut, code := e.docker(bin, nil, "update", "-m", "128m", optName); code == 0 || !strings.Contains(errOut, "resource limits") {
				t.Fatalf("docker update -m: code %d %q", code, errOut)
			}
			e.mustDocker(bin, "rm", optName)

			// Docker's defaults: its capability set, a seccomp filter, PATH, HOSTNAME = the short ID.
			out = e.mustDocker(bin, "run", "--rm", "busybox", "sh", "-c", "grep -E '^(CapEff|Seccomp):' /proc/self/status; echo $PATH; echo $HOSTNAME; hostname")
			if lines := strings.Fields(out); len(lines) != 7 || lines[1] != "00000000a80425fb" || lines[3] != "2" || lines[4] != "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" || len(lines[5]) != 12 || lines[5] != lines[6] {
				t.Fatalf("container defaults: %q", out)
			}

			// Namespaces, sysctls and groups as docker run sets them.
			out = e.mustDocker(bin, "run", "--rm", "--pid", "host", "--sysctl", "net.ipv4.ip_forward=1", "--group-add", "4321",
				"busybox", "sh", "-c", "cat /proc/1/comm /proc/sys/net/ipv4/ip_forward; grep ^Groups: /proc/self/status")
			if lines := strings.Fields(out); len(lines) < 4 || lines[0] == "sh" || lines[1] != "1" || !strings.Contains(out, "4321") {
				t.Fatalf("--pid host --sysctl --group-add: %q", out)
			}

			// Volumes and networks.
			vol, nw := "vol-"+name, "net-"+name
			e.mustDocker(bin, "volume", "create", vol)
			e.mustDocker(bin, "network", "create", nw)
			if out := e.mustDocker(bin, "volume", "ls", "-q"); !strings.Contains(out, vol) {
				t.Fatalf("volume ls: %q", out)
			}
			if out := e.mustDocker(bin, "network", "ls", "--format", "{{.Name}}"); !strings.Contains(out, nw) || !strings.Contains(out, "bridge\n") || !strings.Contains(out, "host\n") || !strings.Contains(out, "none\n") {
				t.Fatalf("network ls: %q", out)
			}
			e.mustDocker(bin, "run", "--rm", "--network", nw, "-v", vol+":/data", "busybox", "sh", "-c", "echo kept > /data/f")
			if out := e.mustDocker(bin, "run", "--rm", "-v", vol+":/data:ro", "busybox", "cat", "/data/f"); out != "kept\n" {
				t.Fatalf("volume content: %q", out)
			}
			e.mustDocker(bin, "network", "rm", nw)
			e.mustDocker(bin, "volume", "rm", vol)
			// Networks and volumes made with drover's own CLI show in docker events too.
			e.must("network", "create", "drv-"+nw)
			e.must("network", "rm", "drv-"+nw)
			e.must("volume", "create", "drv-"+vol)
			e.must("volume", "rm", "drv-"+vol)
			if out := e.mustDocker(bin, "events", "--since", since, "--until", strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10),
				"--filter", "type=network", "--filter", "type=volume", "--format", "{{.Type}} {{.Action}} {{if .Actor.Attributes.name}}{{.Actor.Attributes.name}}{{else}}{{.Actor.ID}}{{end}}"); !strings.Contains(out, "network create drv-"+nw) || !strings.Contains(out, "network destroy drv-"+nw) || !strings.Contains(out, "volume create drv-"+vol) || !strings.Contains(out, "volume destroy drv-"+vol) {
				t.Fatalf("docker events of drover's networks and volumes: %q", out)
			}

			// docker cp both ways, stats, top, system df.
			cpName := "cp-" + name
			e.mustDocker(bin, "run", "-d", "--name", cpName, "busybox", "sleep", "100")
			src := filepath.Join(t.TempDir(), "in.txt")
			if err := os.WriteFile(src, []byte("copied in\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			e.mustDocker(bin, "cp", src, cpName+":/tmp/")
			if out := e.mustDocker(bin, "exec", cpName, "cat", "/tmp/in.txt"); out != "copied in\n" {
				t.Fatalf("cp in: %q", out)
			}
			dst := t.TempDir()
			e.mustDocker(bin, "cp", cpName+":/etc/passwd", dst)
			if data, err := os.ReadFile(filepath.Join(dst, "passwd")); err != nil || !strings.Contains(string(data), "root:") {
				t.Fatalf("cp out: %v %q", err, data)
			}
			if out := e.mustDocker(bin, "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", cpName); !strings.HasPrefix(out, cpName+" 1") {
				t.Fatalf("stats: %q", out)
			}
			// Network counters: traffic to the gateway shows both ways.
			e.mustDocker(bin, "exec", cpName, "sh", "-c", `ping -c 2 -W 2 $(ip route | awk '/default/ {print $3}')`)
			if out := e.mustDocker(bin, "stats", "--no-stream", "--format", "{{.NetIO}}|{{.BlockIO}}", cpName); strings.HasPrefix(out, "0B / ") || strings.Contains(out, " / 0B|") || !strings.Contains(out, "B|") {
				t.Fatalf("stats NET I/O after two pings, then BLOCK I/O: %q", out)
			}
			// docker diff and commit: the copied file is a change, and in the image.
			if out := e.mustDocker(bin, "diff", cpName); !strings.Contains(out, "A /tmp/in.txt") || strings.Contains(out, "/etc/hosts") {
				t.Fatalf("diff: %q", out)
			}
			e.mustDocker(bin, "commit", "-m", "with in.txt", "-c", "ENV COMMITTED=1", cpName, "committed-"+name+":v1")
			if out := e.mustDocker(bin, "run", "--rm", "committed-"+name+":v1", "sh", "-c", "cat /tmp/in.txt; echo $COMMITTED"); out != "copied in\n1\n" {
				t.Fatalf("run of the committed image: %q", out)
			}
			if out := e.mustDocker(bin, "image", "inspect", "-f", "{{.Comment}}", "committed-"+name+":v1"); out != "with in.txt\n" {
				t.Fatalf("image inspect of the committed image: Comment %q", out)
			}
			e.mustDocker(bin, "rmi", "committed-"+name+":v1")
			// GraphDriver: where the container's root filesystem is, as tools look for it.
			gd := strings.Fields(e.mustDocker(bin, "inspect", "-f", `{{.GraphDriver.Name}} {{index .GraphDriver.Data "MergedDir"}} {{index .GraphDriver.Data "UpperDir"}}`, cpName))
			if len(gd) != 3 || gd[0] != "overlay2" {
				t.Fatalf("inspect GraphDriver: %q", gd)
			}
			if data, err := os.ReadFile(filepath.Join(gd[1], "tmp", "in.txt")); err != nil || string(data) != "copied in\n" {
				t.Fatalf("GraphDriver MergedDir %s: %v %q", gd[1], err, data)
			}
			if _, err := os.Stat(filepath.Join(gd[2], "tmp", "in.txt")); err != nil {
				t.Fatalf("GraphDriver UpperDir %s lacks the copied file: %v", gd[2], err)
			}
			// inspect -s: the writable layer's size, and with the image's the whole.
			sizes := strings.Fields(e.mustDocker(bin, "inspect", "-s", "-f", "{{.SizeRw}} {{.SizeRootFs}}", cpName))
			if len(sizes) != 2 {
				t.Fatalf("inspect -s: %q", sizes)
			}
			if rw, err := strconv.ParseInt(sizes[0], 10, 64); err != nil || rw <= 0 {
				t.Fatalf("inspect -s SizeRw: %q", sizes)
			} else if root, err := strconv.ParseInt(sizes[1], 10, 64); err != nil || root <= rw {
				t.Fatalf("inspect -s SizeRootFs: %q", sizes)
			}
			if out := e.mustDocker(bin, "top", cpName); !strings.Contains(out, "sleep 100") {
				t.Fatalf("top: %q", out)
			}
			if out := e.mustDocker(bin, "system", "df"); !strings.Contains(out, "Images") || !strings.Contains(out, "Containers") {
				t.Fatalf("system df: %q", out)
			}
			// Lifecycle verbs, legacy inspect fields, connect and disconnect.
			if ip := strings.TrimSpace(e.mustDocker(bin, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", cpName)); !strings.HasPrefix(ip, "172.") && !strings.HasPrefix(ip, "10.") && !strings.HasPrefix(ip, "192.168.") {
				t.Fatalf("NetworkSettings.IPAddress: %q", ip)
			}
			e.mustDocker(bin, "pause", cpName)
			if got := e.inspect(cpName, "{{.State.Status}}"); got != "paused" {
				t.Fatalf("after docker pause: %q", got)
			}
			e.mustDocker(bin, "unpause", cpName)
			e.mustDocker(bin, "rename", cpName, cpName+"-2")
			cpName += "-2"
			e.mustDocker(bin, "restart", "-t", "0", cpName)
			if got := e.inspect(cpName, "{{.State.Status}}"); got != "running" {
				t.Fatalf("after docker restart: %q", got)
			}
			e.mustDocker(bin, "network", "create", nw)
			e.mustDocker(bin, "network", "connect", "--alias", "cpalias", nw, cpName)
			if out := e.mustDocker(bin, "inspect", "-f", "{{json .NetworkSettings.Networks}}", cpName); !strings.Contains(out, "cpalias") {
				t.Fatalf("after connect: %q", out)
			}
			e.mustDocker(bin, "network", "disconnect", nw, cpName)
			e.mustDocker(bin, "network", "rm", nw)

			// docker attach to a running container until it exits.
			attachName := "att-" + name
			e.mustDocker(bin, "run", "-d", "--name", attachName, "busybox", "sh", "-c", "while true; do echo tick; [ -f /tmp/stop ] && exit 2; sleep 0.1; done")
			att := exec.Command(bin, "attach", "--no-stdin", attachName)
			att.Env = append(os.Environ(), "DOCKER_HOST=unix://"+e.dockerSock(), "DOCKER_CONFIG="+filepath.Join(e.dir, "docker-config"))
			pipe, err := att.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := att.Start(); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 64)
			if n, err := pipe.Read(buf); err != nil || !strings.Contains(string(buf[:n]), "tick") {
				t.Fatalf("docker attach output: %q %v", buf[:n], err)
			}
			e.mustDocker(bin, "exec", attachName, "touch", "/tmp/stop")
			_, _ = io.Copy(io.Discard, pipe)
			var ee *exec.ExitError
			if err := att.Wait(); !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("docker attach ended with %v, want exit code 2", err)
			}
			// logs -f follows until the container exits; --tail and -t.
			lf := exec.Command(bin, "logs", "-f", "--tail", "1", "-t", attachName)
			lf.Env = att.Env
			lfOut, err := lf.Output()
			if err != nil {
				t.Fatalf("docker logs -f of an exited container: %v", err)
			}
			if lines := strings.Split(strings.TrimSpace(string(lfOut)), "\n"); len(lines) != 1 || !strings.HasSuffix(lines[0], " tick") || !strings.Contains(lines[0], "T") {
				t.Fatalf("docker logs --tail 1 -t: %q", lfOut)
			}
			e.mustDocker(bin, "rm", attachName)
			followName := "follow-" + name
			e.mustDocker(bin, "run", "-d", "--name", followName, "busybox", "sh", "-c", "while [ ! -f /tmp/stop ]; do sleep 0.1; done; echo last line")
			lf = exec.Command(bin, "logs", "-f", followName)
			lf.Env = att.Env
			lfPipe, err := lf.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := lf.Start(); err != nil {
				t.Fatal(err)
			}
			e.mustDocker(bin, "exec", followName, "touch", "/tmp/stop")
			followed, _ := io.ReadAll(lfPipe)
			if err := lf.Wait(); err != nil || string(followed) != "last line\n" {
				t.Fatalf("docker logs -f: %v %q", err, followed)
			}
			e.mustDocker(bin, "rm", followName)
			e.mustDocker(bin, "kill", cpName)
			if _, errOut, code := e.docker(bin, nil, "kill", cpName); code == 0 || !strings.Contains(errOut, "is not running") {
				t.Fatalf("kill of a stopped container: code %d %q", code, errOut)
			}
			e.mustDocker(bin, "rm", cpName)
			// Prune filters: only the stopped container with the label goes.
			e.mustDocker(bin, "create", "--name", "pruned-"+name, "--label", "prune=me", "busybox", "true")
			e.mustDocker(bin, "create", "--name", "kept-"+name, "busybox", "true")
			e.mustDocker(bin, "container", "prune", "-f", "--filter", "label=prune=me", "--filter", "until=1h")
			if out := e.mustDocker(bin, "ps", "-a", "--format", "{{.Names}}"); !strings.Contains(out, "pruned-"+name) || !strings.Contains(out, "kept-"+name) {
				t.Fatalf("container prune --filter label=prune=me --filter until=1h should keep everything: it is newer than an hour:\n%s", out)
			}
			e.mustDocker(bin, "container", "prune", "-f", "--filter", "label=prune=me")
			if out := e.mustDocker(bin, "ps", "-a", "--format", "{{.Names}}"); strings.Contains(out, "pruned-"+name) || !strings.Contains(out, "kept-"+name) {
				t.Fatalf("container prune --filter label=prune=me:\n%s", out)
			}
			if _, errOut, code := e.docker(bin, nil, "container", "prune", "-f", "--filter", "color=red"); code == 0 || !strings.Contains(errOut, "invalid filter 'color'") {
				t.Fatalf("container prune with an unknown filter: code %d %q", code, errOut)
			}
			if out := e.mustDocker(bin, "system", "prune", "-f"); !strings.Contains(out, "reclaimed") {
				t.Fatalf("system prune: %q", out)
			}
			if out := e.mustDocker(bin, "ps", "-a", "--format", "{{.Names}}"); strings.Contains(out, "kept-"+name) {
				t.Fatalf("system prune kept a stopped container:\n%s", out)
			}

			// Images: tag, push to and pull from a local registry, rmi.
			ref := reg.Addr + "/dockerapi/" + name + ":v1"
			e.mustDocker(bin, "tag", "busybox", ref)
			if out := e.mustDocker(bin, "push", ref); !strings.Contains(out, "digest: sha256:") {
				t.Fatalf("push: %q", out)
			}
			e.mustDocker(bin, "rmi", ref)
			if _, _, code := e.docker(bin, nil, "image", "inspect", ref); code == 0 {
				t.Fatal("image still there after rmi")
			}
			if out := e.mustDocker(bin, "pull", ref); !strings.Contains(out, "Digest: sha256:") {
				t.Fatalf("pull: %q", out)
			}
			if out := e.mustDocker(bin, "images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(out, ref) {
				t.Fatalf("images: %q", out)
			}
			if out := e.mustDocker(bin, "history", "-q", ref); strings.TrimSpace(out) == "" {
				t.Fatal("history is empty")
			}
			e.mustDocker(bin, "rmi", ref)

			// save, load and import.
			saved := filepath.Join(t.TempDir(), "busybox.tar")
			e.mustDocker(bin, "save", "-o", saved, "busybox")
			if out := e.mustDocker(bin, "load", "-i", saved); !strings.Contains(out, "Loaded image: busybox:latest") {
				t.Fatalf("load: %q", out)
			}
			rootfs, err := os.ReadFile(testutil.BusyboxTar(t))
			if err != nil {
				t.Fatal(err)
			}
			out, errOut, code = e.docker(bin, rootfs, "import", "-", "imported-"+name+":1")
			if code != 0 || !strings.HasPrefix(out, "sha256:") {
				t.Fatalf("import: code %d %q %q", code, out, errOut)
			}
			if out := e.mustDocker(bin, "run", "--rm", "imported-"+name+":1", "echo", "imported"); out != "imported\n" {
				t.Fatalf("run imported image: %q", out)
			}
			e.mustDocker(bin, "rmi", "imported-"+name+":1")
			exportName := "export-" + name
			e.mustDocker(bin, "create", "--name", exportName, "busybox", "true")
			exported := filepath.Join(t.TempDir(), "export.tar")
			e.mustDocker(bin, "export", "-o", exported, exportName)
			if fi, err := os.Stat(exported); err != nil || fi.Size() < 1<<20 {
				t.Fatalf("docker export: %v", err)
			}
			e.mustDocker(bin, "rm", exportName)

			// login to a registry that wants credentials; push with them.
			out, errOut, code = e.docker(bin, []byte("pw123"), "login", "-u", "bob", "--password-stdin", authReg.Addr)
			if code != 0 || !strings.Contains(out, "Login Succeeded") {
				t.Fatalf("login: code %d %q %q", code, out, errOut)
			}
			if _, errOut, code := e.docker(bin, []byte("wrong"), "login", "-u", "bob", "--password-stdin", authReg.Addr); code == 0 || !strings.Contains(errOut, "refused the username or password") {
				t.Fatalf("login with a wrong password: code %d %q", code, errOut)
			}
			private := authReg.Addr + "/private/" + name + ":1"
			e.mustDocker(bin, "tag", "busybox", private)
			e.mustDocker(bin, "push", private)
			e.mustDocker(bin, "rmi", private)
			e.mustDocker(bin, "logout", authReg.Addr)
		})
	}
}

// TestDockerAPITerminal drives docker run -it and exec -it through a pseudo-terminal
// (util-linux script), as a user at a shell would.
func TestDockerAPITerminal(t *testing.T) {
	clients := dockerClients(t)
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script (util-linux) is not installed")
	}
	e := newEnv(t)
	e.importBusybox("busybox")
	env := append(os.Environ(), "DOCKER_HOST=unix://"+e.dockerSock(), "DOCKER_CONFIG="+filepath.Join(e.dir, "docker-config"))
	for name, bin := range clients {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(script, "-eqc", bin+" run -it --rm busybox sh -c 'tty; exit 5'", "/dev/null")
			cmd.Env = env
			cmd.Stdin = bytes.NewReader(nil)
			out, err := cmd.Output()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 5 || !strings.Contains(string(out), "/dev/pts/") {
				t.Fatalf("docker run -it: err %v out %q", err, out)
			}
			e := e.with(t)
			cname := "tty-" + name
			e.mustDocker(bin, "run", "-d", "--name", cname, "busybox", "sleep", "100")
			cmd = exec.Command(script, "-eqc", bin+" exec -it "+cname+" sh -c 'tty; exit 6'", "/dev/null")
			cmd.Env = env
			cmd.Stdin = bytes.NewReader(nil)
			out, err = cmd.Output()
			if !errors.As(err, &ee) || ee.ExitCode() != 6 || !strings.Contains(string(out), "/dev/pts/") {
				t.Fatalf("docker exec -it: err %v out %q", err, out)
			}
			// ctrl-p ctrl-q detaches and leaves the container running; attach finds it again.
			detached := "detach-" + name
			cmd = exec.Command(script, "-eqc", bin+" run -it --name "+detached+" busybox sh", "/dev/null")
			cmd.Env = env
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, stdout, "# ") // the shell's prompt: the session is up
			_, _ = stdin.Write([]byte{16, 17})
			_, _ = io.Copy(io.Discard, stdout)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("docker run -it after ctrl-p ctrl-q: %v", err)
			}
			if got := e.inspect(detached, "{{.State.Status}}"); got != "running" {
				t.Fatalf("after detaching the container is %q", got)
			}
			cmd = exec.Command(script, "-eqc", bin+" attach "+detached, "/dev/null")
			cmd.Env = env
			cmd.Stdin = strings.NewReader("exit 7\n")
			if err := cmd.Run(); !errors.As(err, &ee) || ee.ExitCode() != 7 {
				t.Fatalf("docker attach after a detach: %v", err)
			}
			e.mustDocker(bin, "rm", "-f", detached)
		})
	}
}

// waitFor reads r until it has seen s.
func waitFor(t *testing.T, r io.Reader, s string) {
	t.Helper()
	var seen []byte
	buf := make([]byte, 256)
	for !strings.Contains(string(seen), s) {
		n, err := r.Read(buf)
		seen = append(seen, buf[:n]...)
		if err != nil {
			t.Fatalf("waiting for %q: %v (read %q)", s, err, seen)
		}
	}
}

// TestDockerAPIBadInput checks status codes and Docker's error body for bad requests, and
// that a refused create leaves nothing behind.
func TestDockerAPIBadInput(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	hc := e.dockerHTTP()
	do := func(method, path, body string) (int, string, http.Header) {
		t.Helper()
		req, err := http.NewRequest(method, "http://docker"+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var msg struct {
			Message string `json:"message"`
		}
		if resp.StatusCode >= 400 {
			if err := json.Unmarshal(data, &msg); err != nil {
				t.Fatalf("%s %s: error body %q is not Docker's {\"message\": ...}", method, path, data)
			}
			return resp.StatusCode, msg.Message, resp.Header
		}
		return resp.StatusCode, string(data), resp.Header
	}
	code, body, hdr := do("GET", "/_ping", "")
	if code != 200 || body != "OK" || hdr.Get("Api-Version") != "1.57" || hdr.Get("Ostype") != "linux" {
		t.Fatalf("_ping: %d %q %v", code, body, hdr)
	}
	if code, _, hdr := do("HEAD", "/v1.41/_ping", ""); code != 200 || hdr.Get("Api-Version") == "" {
		t.Fatalf("HEAD _ping: %d %v", code, hdr)
	}
	cases := []struct {
		method, path, body string
		code               int
		msg                string
	}{
		{"GET", "/v1.41/containers/nope/json", "", 404, "No such container: nope"},
		{"POST", "/containers/nope/start", "", 404, "No such container: nope"},
		{"DELETE", "/containers/nope", "", 404, "No such container: nope"},
		{"GET", "/images/nope:1/json", "", 404, "No such image: nope:1"},
		{"GET", "/networks/nope", "", 404, "network nope not found"},
		{"GET", "/volumes/nope", "", 404, "no such volume"},
		{"GET", "/exec/nope/json", "", 404, "No such exec instance: nope"},
		{"POST", "/containers/create", "{bad json", 400, "invalid JSON"},
		{"POST", "/containers/create", `{"Image":"busybox","Cmd":["true"],"HostConfig":{"Devices":[{"PathOnHost":"/dev/null","PathInContainer":"/dev/x"}]}}`, 400, "HostConfig.Devices"},
		{"POST", "/containers/create?name=bad-ports", `{"Image":"busybox","Cmd":["true"],"HostConfig":{"PortBindings":{"80/tcp":[{"HostPort":"8000-8010"}]}}}`, 400, "host port range"},
		{"POST", "/containers/create", `{"Image":"nosuchimage:9","Cmd":["true"]}`, 404, "No such image: nosuchimage:9"},
		{"POST", "/networks/create", `{"Name":"x","Driver":"overlay"}`, 400, `network driver "overlay"`},
		{"POST", "/build?version=2", "", 501, "BuildKit builds"},
		{"GET", "/v1.40/version", "", 400, "client version 1.40 is too old"},
		{"GET", "/v1.99/version", "", 400, "client version 1.99 is too new"},
		{"GET", "/nowhere", "", 404, "page not found"},
		{"GET", "/containers/json?filters=%7B%22bogus%22%3A%7B%22x%22%3Atrue%7D%7D", "", 400, "invalid filter 'bogus'"},
	}
	for _, c := range cases {
		code, msg, _ := do(c.method, c.path, c.body)
		if code != c.code || !strings.Contains(msg, c.msg) {
			t.Errorf("%s %s: got %d %q, want %d with %q", c.method, c.path, code, msg, c.code, c.msg)
		}
	}
	if out := e.must("ps", "-a", "-q"); strings.TrimSpace(out) != "" {
		t.Fatalf("refused creates left containers: %q", out)
	}
	if out := e.must("network", "ls", "--format", "{{.Name}}"); strings.Contains(out, "x\n") {
		t.Fatalf("refused network create left a network: %q", out)
	}
	// The socket is for root (and a group only when one is given).
	fi, err := os.Stat(e.dockerSock())
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o660 || st.Uid != 0 || st.Gid != 0 {
		t.Fatalf("docker socket mode %v owner %d:%d, want 0660 root:root", fi.Mode().Perm(), st.Uid, st.Gid)
	}
}

// TestDockerAPICompose runs Debian's docker-compose 1.29 on a project of two services on
// a network, with a named volume, a published port and a health check.
func TestDockerAPICompose(t *testing.T) {
	compose, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Skip("docker-compose is not installed (apt-get install docker-compose)")
	}
	e := newEnv(t)
	e.importBusybox("busybox")
	port := testutil.FreePort(t)
	dir := t.TempDir()
	project := "dapi" + strconv.Itoa(port)
	file := `version: "3.8"
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo web up; echo kept > /data/f; exec nc -ll -p 8080 -e echo pong"]
    ports:
      - "127.0.0.1:` + strconv.Itoa(port) + `:8080"
    volumes:
      - data:/data
    networks: [back]
    healthcheck:
      test: ["CMD", "test", "-f", "/data/f"]
      interval: 1s
      retries: 3
  client:
    image: busybox
    command: ["sh", "-c", "echo client up; exec sleep 1000"]
    networks: [back]
    depends_on: [web]
volumes:
  data:
networks:
  back:
`
	if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		all := append([]string{"-p", project, "-f", filepath.Join(dir, "docker-compose.yml")}, args...)
		out, errOut, code := e.docker(compose, nil, all...)
		if code != 0 {
			t.Fatalf("docker-compose %s: exit %d\nstdout: %s\nstderr: %s\ndaemon log:\n%s", strings.Join(args, " "), code, out, errOut, e.logBuf)
		}
		return out
	}
	t.Cleanup(func() {
		_, _, _ = e.docker(compose, nil, "-p", project, "-f", filepath.Join(dir, "docker-compose.yml"), "down", "-v", "-t", "1")
	})
	run("up", "-d")
	e.eventually(30*time.Second, "web healthy", func() bool {
		out, _, _ := e.docker(compose, nil, "-p", project, "-f", filepath.Join(dir, "docker-compose.yml"), "ps")
		return strings.Contains(out, "(healthy)")
	})
	if out := run("ps"); !strings.Contains(out, project+"_client_1") || !strings.Contains(out, "127.0.0.1:"+strconv.Itoa(port)+"->8080/tcp") {
		t.Fatalf("compose ps: %q", out)
	}
	if out := run("logs", "--no-color"); !strings.Contains(out, "web up") || !strings.Contains(out, "client up") {
		t.Fatalf("compose logs: %q", out)
	}
	// The client reaches web by its service name on the project network.
	if out := run("exec", "-T", "client", "nc", "web", "8080"); !strings.Contains(out, "pong") {
		t.Fatalf("compose exec: %q", out)
	}
	if out := e.must("ps", "--format", "{{.Names}}"); !strings.Contains(out, project+"_web_1") {
		t.Fatalf("drover ps does not show compose's containers: %q", out)
	}
	run("down", "-v", "-t", "1")
	if out := e.must("ps", "-a", "-q"); strings.TrimSpace(out) != "" {
		t.Fatalf("containers left after down: %q", out)
	}
	if out := e.must("volume", "ls", "-q"); strings.Contains(out, project) {
		t.Fatalf("volume left after down -v: %q", out)
	}
	if out := e.must("network", "ls", "--format", "{{.Name}}"); strings.Contains(out, project) {
		t.Fatalf("network left after down: %q", out)
	}

	// up in the foreground: attach with the logs so far, and the exit code of a service.
	oneshot := filepath.Join(dir, "oneshot.yml")
	if err := os.WriteFile(oneshot, []byte(`version: "3.8"
services:
  one:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; echo one says hi; sleep 1000 & wait"]
  two:
    image: busybox
    command: ["sh", "-c", "echo two says hi; exit 3"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	fg := []string{"-p", project + "fg", "-f", oneshot}
	t.Cleanup(func() { _, _, _ = e.docker(compose, nil, append(fg, "down", "-t", "1")...) })
	out, errOut, code := e.docker(compose, nil, append(fg, "up", "--no-color", "--exit-code-from", "two")...)
	// Compose stops at the first exit, so only the service that exits is sure to have
	// printed before: two.
	if code != 3 || !strings.Contains(out, "two says hi") {
		t.Fatalf("compose up --exit-code-from two: code %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if _, errOut, code := e.docker(compose, nil, append(fg, "down", "-t", "1")...); code != 0 {
		t.Fatalf("compose down: %s", errOut)
	}
}

// TestDockerAPISocketOptions: --docker-socket-group opens the socket to a group, and an
// empty --docker-socket turns the Docker API off.
func TestDockerAPISocketOptions(t *testing.T) {
	e := newEnv(t, "--docker-socket-group", "1")
	fi, err := os.Stat(e.dockerSock())
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o660 || st.Uid != 0 || st.Gid != 1 {
		t.Fatalf("docker socket mode %v owner %d:%d, want 0660 root:1", fi.Mode().Perm(), st.Uid, st.Gid)
	}
	// A user of that group reaches the API; a user of another group does not.
	if setpriv, err := exec.LookPath("setpriv"); err == nil {
		clients := dockerClients(t)
		var bin string
		for _, b := range clients {
			bin = b
		}
		// The test's own state directory is root's (0700); let others through to the
		// exec root, whose access is what is tested.
		if err := os.Chmod(e.dir, 0o711); err != nil {
			t.Fatal(err)
		}
		cfgDir := filepath.Join(e.dir, "docker-config-nobody")
		if err := os.MkdirAll(cfgDir, 0o777); err != nil {
			t.Fatal(err)
		}
		asUser := func(gid string) (string, string, error) {
			cmd := exec.Command(setpriv, "--reuid=65534", "--regid="+gid, "--clear-groups", bin, "version", "--format", "{{.Server.APIVersion}}")
			cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+e.dockerSock(), "DOCKER_CONFIG="+cfgDir, "HOME=/tmp")
			var o, er bytes.Buffer
			cmd.Stdout, cmd.Stderr = &o, &er
			err := cmd.Run()
			return o.String(), er.String(), err
		}
		if out, errOut, err := asUser("1"); err != nil || strings.TrimSpace(out) != "1.57" {
			t.Fatalf("a member of the socket's group: %v %q %q", err, out, errOut)
		}
		if out, errOut, err := asUser("2"); err == nil || !strings.Contains(errOut, "permission denied") {
			t.Fatalf("a user outside the socket's group: %v %q %q", err, out, errOut)
		}
	}
	other := filepath.Join(e.dir, "elsewhere.sock")
	e.stopDaemon(syscall.SIGTERM)
	e.startDaemon("--docker-socket", other)
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("--docker-socket PATH: %v", err)
	}
	e.stopDaemon(syscall.SIGTERM)
	_ = os.Remove(e.dockerSock())
	e.startDaemon("--docker-socket", "")
	if _, err := os.Stat(e.dockerSock()); !os.IsNotExist(err) {
		t.Fatalf("--docker-socket \"\" still made %s: %v", e.dockerSock(), err)
	}
}

// TestDockerAPIStartFailure: a command that cannot start gives the docker CLI's exit codes
// (127 not found, 126 not executable), and run --rm removes the container, as Docker does.
func TestDockerAPIStartFailure(t *testing.T) {
	clients := dockerClients(t)
	e := newEnv(t)
	e.importBusybox("busybox")
	for name, bin := range clients {
		t.Run(name, func(t *testing.T) {
			e := e.with(t)
			for cmd, want := range map[string]int{"nosuchcmd": 127, "/etc/passwd": 126} {
				_, errOut, code := e.docker(bin, nil, "run", "--rm", "--label", "fail="+name, "busybox", cmd)
				if code != want || !strings.Contains(errOut, cmd) {
					t.Fatalf("docker run --rm busybox %s: code %d, want %d: %q", cmd, code, want, errOut)
				}
			}
			if out := e.mustDocker(bin, "ps", "-aq", "--filter", "label=fail="+name); strings.TrimSpace(out) != "" {
				t.Fatalf("run --rm left containers after failed starts: %q", out)
			}
			if _, _, code := e.docker(bin, nil, "run", "--name", "kept-"+name, "busybox", "nosuchcmd"); code != 127 {
				t.Fatalf("docker run without --rm: code %d", code)
			}
			if got := e.inspect("kept-"+name, "{{.State.Status}}"); got != "created" && got != "exited" {
				t.Fatalf("a failed start without --rm leaves the container %q", got)
			}
			e.mustDocker(bin, "rm", "kept-"+name)
		})
	}
}

// TestDockerAPIBuild: docker build (the classic builder's protocol) through drover's
// Docker API builds with drover's builder: the image runs under drover and docker, a
// second build comes from the cache, and a failing RUN fails the build.
func TestDockerAPIBuild(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	ctxDir := t.TempDir()
	os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM busybox\nARG GREETING=none\nRUN echo $GREETING > /greeting\nCOPY file.txt /file.txt\nCMD [\"cat\", \"/greeting\", \"/file.txt\"]\n"), 0o644)
	os.WriteFile(filepath.Join(ctxDir, "file.txt"), []byte("from the context\n"), 0o644)
	for name, bin := range dockerClients(t) {
		t.Run(name, func(t *testing.T) {
			tag := "built-" + name + ":1"
			out := e.with(t).mustDocker(bin, "build", "-t", tag, "--build-arg", "GREETING=hello", ctxDir)
			if !strings.Contains(out, "Successfully tagged "+tag) {
				t.Fatalf("docker build: %q", out)
			}
			if got := e.must("run", "--rm", tag); got != "hello\nfrom the context\n" {
				t.Fatalf("drover run of the built image: %q", got)
			}
			if got := e.mustDocker(bin, "run", "--rm", tag); got != "hello\nfrom the context\n" {
				t.Fatalf("docker run of the built image: %q", got)
			}
			if out := e.mustDocker(bin, "build", "-t", tag, "--build-arg", "GREETING=hello", ctxDir); !strings.Contains(strings.ToLower(out), "cache") {
				t.Fatalf("second build did not use the cache: %q", out)
			}
		})
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "Dockerfile"), []byte("FROM busybox\nRUN exit 3\n"), 0o644)
	for _, bin := range dockerClients(t) {
		if _, errOut, code := e.docker(bin, nil, "build", "-t", "bad:1", bad); code == 0 || !strings.Contains(errOut, "exit 3") {
			t.Fatalf("failing RUN: exit %d %q", code, errOut)
		}
		break
	}
	if out := e.must("images", "--format", "{{.Repository}}"); strings.Contains(out, "bad") {
		t.Fatalf("a failed build tagged an image: %q", out)
	}
}

// TestDockerAPIDetachedExec: a detached exec is running until its process exits, exec
// inspect then reports its exit code, and docker events shows exec_create, exec_start and
// exec_die (with the code) for it, filtered by event name as Docker filters them.
func TestDockerAPIDetachedExec(t *testing.T) {
	var bin string
	for _, b := range dockerClients(t) {
		bin = b
	}
	e := newEnv(t)
	e.importBusybox("busybox")
	e.mustDocker(bin, "run", "-d", "--name", "execd", "busybox", "sleep", "600")
	since := time.Now().Add(-time.Second).Unix()
	hc := e.dockerHTTP()
	post := func(path, body string) []byte {
		t.Helper()
		resp, err := hc.Post("http://docker"+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, data)
		}
		return data
	}
	inspect := func(id string) (running bool, code *int) {
		t.Helper()
		resp, err := hc.Get("http://docker/exec/" + id + "/json")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Running  bool
			ExitCode *int
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out.Running, out.ExitCode
	}
	var created struct{ ID string }
	if err := json.Unmarshal(post("/containers/execd/exec", `{"Cmd":["sh","-c","sleep 1; exit 3"]}`), &created); err != nil || created.ID == "" {
		t.Fatalf("exec create: %q, %v", created.ID, err)
	}
	post("/exec/"+created.ID+"/start", `{"Detach":true}`)
	if running, _ := inspect(created.ID); !running {
		t.Fatal("a detached exec whose process sleeps is not running right after its start")
	}
	e.eventually(20*time.Second, "the detached exec's exit", func() bool {
		running, code := inspect(created.ID)
		return !running && code != nil
	})
	if _, code := inspect(created.ID); *code != 3 {
		t.Fatalf("detached exec's exit code %d, want 3", *code)
	}
	out := e.mustDocker(bin, "events", "--since", strconv.FormatInt(since, 10), "--until", strconv.FormatInt(time.Now().Unix()+1, 10),
		"--filter", "container=execd", "--filter", "event=exec_create", "--filter", "event=exec_start", "--filter", "event=exec_die",
		"--format", `{{.Action}} {{index .Actor.Attributes "exitCode"}} {{index .Actor.Attributes "execID"}}`)
	want := []string{
		"exec_create: sh -c sleep 1; exit 3  " + created.ID,
		"exec_start: sh -c sleep 1; exit 3  " + created.ID,
		"exec_die 3 " + created.ID,
	}
	if got := strings.Split(strings.TrimSpace(out), "\n"); !slices.Equal(got, want) {
		t.Fatalf("docker events:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
}
