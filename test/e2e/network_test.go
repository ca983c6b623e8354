package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serveHello is a busybox shell line that serves "hello from NAME" on port 80.
func serveHello(name string) []string {
	return []string{"sh", "-c", "mkdir -p /www && echo hello from " + name + " > /www/index.html && exec httpd -f -p 80 -h /www"}
}

// fetchRetry is a busybox shell line that fetches url, retrying while the server starts.
func fetchRetry(url string) []string {
	return []string{"sh", "-c", "for i in $(seq 100); do timeout 3 wget -qO- " + url + " && exit 0; sleep 0.1; done; exit 1"}
}

func httpGet(t *testing.T, url string) (string, error) {
	t.Helper()
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestNetworkNamesAndIsolation(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb")
	e.must("network", "create", "--subnet", "10.231.0.0/24", "front")
	e.must("network", "create", "back")
	e.must(append([]string{"run", "-d", "--name", "web", "--network", "front", "--network-alias", "www", "--ip", "10.231.0.50", "bb"}, serveHello("web")...)...)
	if ip := e.inspect("web", "{{.NetworkSettings.IPAddress}}"); ip != "10.231.0.50" {
		t.Fatalf("web's address: got %q, want 10.231.0.50", ip)
	}

	// By name and by alias, through the embedded DNS.
	for _, host := range []string{"web", "www", "WEB"} {
		out := e.must(append([]string{"run", "--rm", "--network", "front", "bb"}, fetchRetry("http://"+host+"/")...)...)
		if !strings.Contains(out, "hello from web") {
			t.Errorf("fetch http://%s/: got %q", host, out)
		}
	}
	files := e.must("run", "--rm", "--network", "front", "--hostname", "probe", "--add-host", "db.local:10.9.9.9", "bb", "cat", "/etc/hosts", "/etc/resolv.conf", "/etc/hostname")
	for _, want := range []string{"127.0.0.1\tlocalhost", "10.9.9.9\tdb.local", "\tprobe\n", "nameserver 10.231.0.1", "probe\n"} {
		if !strings.Contains(files, want) {
			t.Errorf("container files lack %q:\n%s", want, files)
		}
	}
	// A name that is no container goes upstream; an unknown one fails to resolve, not hang.
	if _, _, code := e.drover("run", "--rm", "--network", "front", "bb", "nslookup", "nosuchcontainer"); code == 0 {
		t.Error("nslookup of an unknown name succeeded")
	}

	// Another network reaches neither the name nor the address.
	out, _, code := e.drover("run", "--rm", "--network", "back", "bb", "sh", "-c", "timeout 3 wget -qO- http://10.231.0.50/ || echo unreachable")
	if code != 0 || !strings.Contains(out, "unreachable") {
		t.Errorf("a container on another network reached web: %q (exit %d)", out, code)
	}
	// connect puts a running container on a second network, with DNS there too.
	e.must("run", "-d", "--name", "client", "--network", "back", "bb", "sleep", "1000")
	e.must("network", "connect", "front", "client")
	out = e.must(append([]string{"exec", "client"}, fetchRetry("http://web/")...)...)
	if !strings.Contains(out, "hello from web") {
		t.Errorf("after connect: %q", out)
	}
	if got := strings.TrimSpace(e.must("network", "inspect", "-f", "{{len .Containers}}", "front")); got != "2" {
		t.Errorf("network inspect front: %s containers, want 2", got)
	}
	e.must("network", "disconnect", "front", "client")
	out, _, _ = e.drover("exec", "client", "sh", "-c", "timeout 3 wget -qO- http://10.231.0.50/ || echo unreachable")
	if !strings.Contains(out, "unreachable") {
		t.Errorf("after disconnect: %q", out)
	}

	// --mac-address reaches the container; on a user network --dns keeps the embedded
	// server (names still resolve; it forwards the rest to 127.0.0.2: tests send nothing off the host), elsewhere it is the
	// nameserver itself.
	out = e.must("run", "--rm", "--network", "front", "--mac-address", "02:42:0a:e7:00:99", "--dns", "127.0.0.2", "--dns-search", "example.test", "bb", "sh", "-c", "cat /sys/class/net/eth0/address /etc/resolv.conf; timeout 5 wget -qO- http://web/")
	for _, want := range []string{"02:42:0a:e7:00:99", "nameserver 10.231.0.1", "search example.test", "hello from web"} {
		if !strings.Contains(out, want) {
			t.Errorf("--mac-address/--dns on a user network: %q lacks %q", out, want)
		}
	}
	if out := e.must("run", "--rm", "--dns", "10.1.2.3", "bb", "cat", "/etc/resolv.conf"); !strings.Contains(out, "nameserver 10.1.2.3") {
		t.Errorf("--dns on the default network: %q", out)
	}

	// The default network: an address, a way out, no names.
	out = e.must("run", "--rm", "bb", "sh", "-c", "ip -4 route; cat /etc/resolv.conf")
	if !strings.Contains(out, "default via") {
		t.Errorf("default network has no default route:\n%s", out)
	}
	// --network none: loopback only.
	out = e.must("run", "--rm", "--network", "none", "bb", "ip", "-o", "link")
	if strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, "lo:") {
		t.Errorf("--network none links:\n%s", out)
	}
	// container:NAME shares web's namespace: localhost is web's server.
	out = e.must(append([]string{"run", "--rm", "--network", "container:web", "bb"}, fetchRetry("http://127.0.0.1/")...)...)
	if !strings.Contains(out, "hello from web") {
		t.Errorf("--network container:web: %q", out)
	}
}

func TestPublishedPorts(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb")
	e.must(append([]string{"run", "-d", "--name", "web", "-p", "127.0.0.1::80", "-p", "127.0.0.1::81/udp", "bb"}, serveHello("web")...)...)
	addr := strings.TrimSpace(e.must("port", "web", "80"))
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("drover port web 80: %q", addr)
	}
	var body string
	e.eventually(10*time.Second, "the published port to answer", func() bool {
		b, err := httpGet(t, "http://"+addr+"/")
		body = b
		return err == nil
	})
	if !strings.Contains(body, "hello from web") {
		t.Fatalf("GET http://%s/: %q", addr, body)
	}
	if ps := e.must("ps", "--format", "{{.Ports}}"); !strings.Contains(ps, "127.0.0.1:"+strings.TrimPrefix(addr, "127.0.0.1:")+"->80/tcp") || !strings.Contains(ps, "->81/udp") {
		t.Errorf("ps PORTS: %q", ps)
	}
	// Another container reaches the published port through the host's address (hairpin).
	gw := e.inspect("web", "{{.NetworkSettings.Gateway}}")
	port80 := strings.TrimPrefix(addr, "127.0.0.1:")
	e.must("run", "-d", "--name", "web2", "-p", "0.0.0.0::80", "bb", "sh", "-c", "mkdir /w && echo two > /w/index.html && exec httpd -f -p 80 -h /w")
	pub := strings.Split(hostPortOf(t, e, "web2", "80"), ":")[1]
	out := e.must(append([]string{"run", "--rm", "bb"}, fetchRetry("http://"+gw+":"+pub+"/")...)...)
	if out != "two\n" {
		t.Errorf("hairpin to %s:%s: %q", gw, pub, out)
	}

	// From another host: a namespace with a veth to this one, as a second machine on a
	// link. It reaches the port published on 0.0.0.0 through the host's address there.
	otherHost(t, "10.236.0", func(hostIP string, peer func(args ...string) (string, error)) {
		out, err := peer("wget", "-qO-", "http://"+hostIP+":"+pub+"/")
		if err != nil || out != "two\n" {
			t.Errorf("from another host to %s:%s: %q, %v", hostIP, pub, out, err)
		}
		// The port published on 127.0.0.1 only is not reachable from there.
		if out, err := peer("wget", "-qO-", "http://"+hostIP+":"+port80+"/"); err == nil {
			t.Errorf("the 127.0.0.1-only port answered another host: %q", out)
		}
	})

	// A port in use is an error before the container starts, and leaves nothing behind.
	ln, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	_, errOut, code := e.drover("run", "-d", "--name", "clash", "-p", strconv.Itoa(port)+":80", "bb", "sleep", "100")
	if code == 0 || !strings.Contains(errOut, "already in use") {
		t.Fatalf("run with a busy port: exit %d, %q", code, errOut)
	}
	if st := e.inspect("clash", "{{.State.Status}}"); st == "running" {
		t.Errorf("clash is running")
	}
	e.must("rm", "-f", "clash")

	// -P publishes the exposed ports on free host ports.
	e.must(append([]string{"run", "-d", "--name", "all", "-P", "--expose", "80", "bb"}, serveHello("all")...)...)
	all := hostPortOf(t, e, "all", "80")
	e.eventually(10*time.Second, "the -P port to answer", func() bool {
		b, _ := httpGet(t, "http://"+strings.Replace(all, "0.0.0.0", "127.0.0.1", 1)+"/")
		return strings.Contains(b, "hello from all")
	})
}

func TestPods(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb")
	e.must("pod", "create", "--name", "p1", "-p", "127.0.0.1::80")
	e.must(append([]string{"run", "-d", "--pod", "p1", "--name", "server", "bb"}, serveHello("pod")...)...)
	out := e.must(append([]string{"run", "--rm", "--pod", "p1", "bb"}, fetchRetry("http://localhost/")...)...)
	if !strings.Contains(out, "hello from pod") {
		t.Fatalf("pod member over localhost: %q", out)
	}
	if h := strings.TrimSpace(e.must("run", "--rm", "--pod", "p1", "bb", "hostname")); h != "p1" {
		t.Errorf("hostname in pod: %q, want p1", h)
	}
	// IPC is shared too: the same IPC namespace as the server.
	srvPid := e.inspect("server", "{{.State.Pid}}")
	ipc := e.must("run", "--rm", "--pod", "p1", "bb", "readlink", "/proc/self/ns/ipc")
	if want, _ := readlinkProc(srvPid, "ipc"); strings.TrimSpace(ipc) != want {
		t.Errorf("IPC namespace in pod: %q, server's %q", strings.TrimSpace(ipc), want)
	}
	infra := strings.TrimSpace(e.must("pod", "inspect", "-f", "{{.InfraContainerId}}", "p1"))
	addr := hostPortOf(t, e, infra, "80/tcp")
	var body string
	e.eventually(10*time.Second, "the pod's published port", func() bool {
		body, _ = httpGet(t, "http://"+addr+"/")
		return strings.Contains(body, "hello from pod")
	})
	// The pod outlives its containers.
	e.must("kill", "server")
	e.must("wait", "server")
	if st := strings.TrimSpace(e.must("pod", "inspect", "-f", "{{.Status}}", "p1")); st != "Degraded" {
		t.Errorf("pod status after its member exited: %q", st)
	}
	if _, errOut, code := e.drover("rm", "-f", infra); code == 0 || !strings.Contains(errOut, "pod rm") {
		t.Errorf("rm of the infra container: exit %d, %q", code, errOut)
	}
	e.must("pod", "stop", "p1")
	e.must("pod", "start", "p1")
	if _, _, code := e.drover("pod", "rm", "p1"); code == 0 {
		t.Error("pod rm of a running pod succeeded without -f")
	}
	e.must("pod", "rm", "-f", "p1")
	if out := e.must("ps", "-aq"); strings.TrimSpace(out) != "" {
		t.Errorf("containers left after pod rm: %q", out)
	}
}

func readlinkProc(pid, ns string) (string, error) {
	buf := make([]byte, 128)
	n, err := syscall.Readlink("/proc/"+pid+"/ns/"+ns, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

func hostPortOf(t *testing.T, e *env, container, port string) string {
	t.Helper()
	out := strings.TrimSpace(e.must("port", container, port))
	if out == "" {
		t.Fatalf("no host port for %s %s", container, port)
	}
	return strings.Split(out, "\n")[0]
}

func TestVolumes(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb")
	e.must("volume", "create", "data")
	e.must("run", "--rm", "-v", "data:/data", "bb", "sh", "-c", "echo kept > /data/f")
	if out := e.must("run", "--rm", "--mount", "type=volume,source=data,target=/x,readonly", "bb", "cat", "/x/f"); out != "kept\n" {
		t.Errorf("volume content in a new container: %q", out)
	}
	if _, _, code := e.drover("run", "--rm", "-v", "data:/x:ro", "bb", "touch", "/x/g"); code == 0 {
		t.Error("wrote to a read-only volume")
	}
	// A new named volume is seeded from the image: /etc/passwd of busybox lives in /etc.
	out := e.must("run", "--rm", "-v", "etcvol:/etc", "bb", "ls", "/etc")
	if !strings.Contains(out, "passwd") {
		t.Errorf("new volume at /etc was not seeded: %q", out)
	}
	// Anonymous volumes go with rm -v; named ones stay.
	e.must("run", "--name", "anon", "-v", "/scratch", "-v", "data:/data", "bb", "true")
	anon := e.inspect("anon", `{{range .Mounts}}{{if eq .Destination "/scratch"}}{{.Name}}{{end}}{{end}}`)
	if anon == "" {
		t.Fatal("no anonymous volume mounted at /scratch")
	}
	if _, errOut, code := e.drover("volume", "rm", "data"); code == 0 || !strings.Contains(errOut, "in use") {
		t.Errorf("volume rm of a used volume: exit %d, %q", code, errOut)
	}
	e.must("rm", "-v", "anon")
	vols := e.must("volume", "ls", "-q")
	if strings.Contains(vols, anon) || !strings.Contains(vols, "data") {
		t.Errorf("volumes after rm -v: %q", vols)
	}
	e.must("volume", "rm", "data", "etcvol")
	if _, errOut, code := e.drover("volume", "inspect", "data"); code == 0 || !strings.Contains(errOut, "no such volume") {
		t.Errorf("inspect of a removed volume: exit %d, %q", code, errOut)
	}
	// An image VOLUME gets an anonymous volume, seeded from the image, unless the user
	// mounts something there.
	e.must("import", "--change", "VOLUME /etc", busyboxTar(t), "withvol")
	out = e.must("run", "--name", "iv", "withvol", "ls", "/etc")
	iv := e.inspect("iv", `{{range .Mounts}}{{if eq .Destination "/etc"}}{{.Type}} {{.Name}}{{end}}{{end}}`)
	if !strings.Contains(out, "passwd") || !strings.HasPrefix(iv, "volume ") {
		t.Errorf("image VOLUME /etc: ls %q, mount %q", out, iv)
	}
	if out := e.must("run", "--rm", "--tmpfs", "/etc", "withvol", "ls", "/etc"); strings.Contains(out, "passwd") {
		t.Errorf("--tmpfs over an image VOLUME still got a volume: %q", out)
	}
	e.must("rm", "-v", "iv")
	if vols := strings.TrimSpace(e.must("volume", "ls", "-q")); vols != "" {
		t.Errorf("volumes left after rm -v of an image VOLUME container: %q", vols)
	}

	// tmpfs mounts with a size.
	if out := e.must("run", "--rm", "--mount", "type=tmpfs,target=/t,tmpfs-size=1m", "bb", "sh", "-c", "grep ' /t ' /proc/mounts"); !strings.Contains(out, "size=1024k") {
		t.Errorf("tmpfs mount: %q", out)
	}
}

func TestNetworkBadInput(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb")
	e.must("network", "create", "--subnet", "10.232.0.0/24", "n1")
	// A host route that a new network must not shadow.
	if out, err := exec.Command("sh", "-c", "ip link add dvclash0 type veth peer name dvclash1 && ip addr add 10.237.0.1/24 dev dvclash0 && ip link set dvclash0 up && ip link set dvclash1 up").CombinedOutput(); err != nil {
		t.Fatalf("make a host route: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", "dvclash0").Run() })
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"network", "create", "--subnet", "10.232.0.128/25", "n2"}, "overlaps"},
		{[]string{"network", "create", "--subnet", "10.233.0.0/24", "--gateway", "10.9.0.1", "n3"}, "10.9.0.1"},
		{[]string{"network", "create", "n1"}, "already exists"},
		{[]string{"run", "--rm", "--network", "nosuchnet", "bb", "true"}, "not found"},
		{[]string{"run", "--rm", "--network", "n1", "--ip", "10.99.0.5", "bb", "true"}, "not an IPv4 address in the subnet"},
		{[]string{"run", "--rm", "--ip", "172.17.0.5", "bb", "true"}, "user-defined networks only"},
		{[]string{"run", "--rm", "-p", "70000:80", "bb", "true"}, "publish"},
		{[]string{"run", "--rm", "--network", "none", "-p", "80", "bb", "true"}, "conflicting options"},
		{[]string{"run", "--rm", "--add-host", "nocolon", "bb", "true"}, "add-host"},
		{[]string{"run", "--rm", "--add-host", "a\nb:1.2.3.4", "bb", "true"}, "add-host"},
		{[]string{"run", "--rm", "--dns-search", "a b", "bb", "true"}, "dns-search"},
		{[]string{"network", "rm", "bridge"}, "default network"},
		{[]string{"run", "--rm", "--mount", "type=bind,source=/nonexistent-dir,target=/x", "bb", "true"}, "bind source path does not exist"},
		{[]string{"run", "--rm", "--mount", "type=volume,target=relative", "bb", "true"}, "absolute"},
		{[]string{"run", "--rm", "-v", "bad name!:/x", "bb", "true"}, "volume"},
		{[]string{"run", "--rm", "--pod", "nosuchpod", "bb", "true"}, "no such pod"},
		{[]string{"volume", "create", "-o", "type=nfs", "v1"}, "type"},
		{[]string{"network", "create", "--subnet", "10.237.0.0/24", "clash"}, "10.237.0.0/24"},
	} {
		_, errOut, code := e.drover(tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("drover %s: exit %d, stderr %q, want an error with %q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
	}
	// A network with a container attached cannot go; once it is gone, it can.
	e.must("run", "-d", "--name", "c1", "--network", "n1", "bb", "sleep", "100")
	if _, errOut, code := e.drover("network", "rm", "n1"); code == 0 || !strings.Contains(errOut, "active endpoints") {
		t.Errorf("network rm with a container: exit %d, %q", code, errOut)
	}
	e.must("rm", "-f", "c1")
	e.must("network", "rm", "n1")
	if out := e.must("network", "ls", "--format", "{{.Name}}"); strings.TrimSpace(out) != "bridge" {
		t.Errorf("networks left: %q", out)
	}
}

// TestNetworkSurvivesDaemonRestart kills the daemon under a published, named container
// and checks that everything still works after the restart, then that rm cleans it up.
func TestNetworkSurvivesDaemonRestart(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb")
	e.must("network", "create", "net1")
	e.must("volume", "create", "v1")
	e.must(append([]string{"run", "-d", "--name", "web", "--network", "net1", "-v", "v1:/v", "-p", "127.0.0.1::80", "bb"}, serveHello("web")...)...)
	addr := hostPortOf(t, e, "web", "80")
	e.eventually(10*time.Second, "web to answer", func() bool { _, err := httpGet(t, "http://"+addr+"/"); return err == nil })
	e.stopDaemon(syscall.SIGKILL)
	e.startDaemon()
	if body, err := httpGet(t, "http://"+addr+"/"); err != nil || !strings.Contains(body, "hello from web") {
		t.Errorf("after the restart, GET %s: %q, %v", addr, body, err)
	}
	out := e.must(append([]string{"run", "--rm", "--network", "net1", "bb"}, fetchRetry("http://web/")...)...)
	if !strings.Contains(out, "hello from web") {
		t.Errorf("DNS after the restart: %q", out)
	}
	// The port stays reserved: another container cannot take it.
	_, errOut, code := e.drover("run", "--rm", "-p", addr+":80", "bb", "true")
	if code == 0 || !strings.Contains(errOut, "already in use") {
		t.Errorf("taking a published port after the restart: exit %d, %q", code, errOut)
	}
	e.must("rm", "-f", "web")
	if _, err := httpGet(t, "http://"+addr+"/"); err == nil {
		t.Error("the port still answers after rm -f")
	}
}

// TestNetworkLeaks runs many short containers with networks and ports; the env's
// teardown then finds no veth, namespace, endpoint or mount left.
func TestNetworkLeaks(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb")
	e.must("network", "create", "leaknet")
	e.must("pod", "create", "--name", "lp")
	for i := 0; i < 30; i++ {
		args := []string{"run", "--rm", "--network", "leaknet", "-p", "127.0.0.1::80", "bb", "true"}
		switch i % 3 {
		case 1:
			args = []string{"run", "--rm", "-v", "/anon", "bb", "true"}
		case 2:
			args = []string{"run", "--rm", "--pod", "lp", "bb", "true"}
		}
		e.must(args...)
	}
	for i := 0; i < 5; i++ {
		name := fmt.Sprintf("f%d", i)
		e.must("run", "-d", "--name", name, "--network", "leaknet", "-p", "127.0.0.1::80", "bb", "sleep", "100")
		e.must("rm", "-f", name)
	}
	// A restart policy re-makes the network of every run; each run's is released.
	e.must("run", "-d", "--name", "flappy", "--network", "leaknet", "-p", "127.0.0.1::80", "--restart", "on-failure:3", "bb", "sh", "-c", "exit 3")
	e.eventually(30*time.Second, "flappy to give up restarting", func() bool {
		return e.inspect("flappy", "{{.State.Status}} {{.RestartCount}}") == "exited 3"
	})
	if got := strings.TrimSpace(e.must("network", "inspect", "-f", "{{len .Containers}}", "leaknet")); got != "0" {
		t.Errorf("endpoints of an exited container left on leaknet: %s", got)
	}
	e.must("rm", "flappy")
	if out := e.must("volume", "ls", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("anonymous volumes of --rm containers left: %q", out)
	}
	if got := strings.TrimSpace(e.must("network", "inspect", "-f", "{{len .Containers}}", "leaknet")); got != "0" {
		t.Errorf("endpoints left on leaknet: %s", got)
	}
}

// otherHost makes a network namespace linked to this host by a veth pair (PREFIX.1 on the
// host, PREFIX.2 inside), as another machine on the LAN, and runs fn with a way to run
// busybox commands there. Everything is removed afterwards.
func otherHost(t *testing.T, prefix string, fn func(hostIP string, peer func(args ...string) (string, error))) {
	t.Helper()
	ns := fmt.Sprintf("dvpeer%d", time.Now().UnixNano()%1e6)
	hostIf, peerIf := ns+"a", ns+"b"
	run := func(args ...string) error {
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	t.Cleanup(func() {
		_ = run("ip", "link", "del", hostIf)
		_ = run("ip", "netns", "del", ns)
	})
	for _, cmd := range [][]string{
		{"ip", "netns", "add", ns},
		{"ip", "link", "add", hostIf, "type", "veth", "peer", "name", peerIf},
		{"ip", "link", "set", peerIf, "netns", ns},
		{"ip", "addr", "add", prefix + ".1/24", "dev", hostIf},
		{"ip", "link", "set", hostIf, "up"},
		{"ip", "-n", ns, "addr", "add", prefix + ".2/24", "dev", peerIf},
		{"ip", "-n", ns, "link", "set", peerIf, "up"},
		{"ip", "-n", ns, "link", "set", "lo", "up"},
	} {
		if err := run(cmd...); err != nil {
			t.Fatal(err)
		}
	}
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox not installed")
	}
	fn(prefix+".1", func(args ...string) (string, error) {
		full := append([]string{"netns", "exec", ns, "timeout", "5", busybox}, args...)
		out, err := exec.Command("ip", full...).Output()
		return string(out), err
	})
}
