package dockerapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
)

func decodeCreate(t *testing.T, body string) container.CreateRequest {
	t.Helper()
	var req container.CreateRequest
	if err := json.Unmarshal([]byte(body), &req); err != nil {
		t.Fatal(err)
	}
	return req
}

func TestToCreateConfig(t *testing.T) {
	// What docker run -d --name web -p 127.0.0.1:8080:80 -v data:/data -v /srv:/srv:ro
	// --restart on-failure:3 --network app --network-alias www -e A=1 sends (abridged).
	req := decodeCreate(t, `{"Image":"busybox","Cmd":["sh"],"Env":["A=1"],"Labels":{"l":"v"},
		"ExposedPorts":{"80/tcp":{}},"Volumes":{"/data":{},"/anon":{}},
		"Healthcheck":{"Test":["CMD","true"],"Interval":1000000000,"Retries":2},
		"HostConfig":{"Binds":["data:/data","/srv:/srv:ro"],"NetworkMode":"app",
			"PortBindings":{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8080"}],"53/udp":[{"HostIp":"","HostPort":""}]},
			"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":3},"Memory":67108864,"PidsLimit":100,
			"Dns":["1.1.1.1"],"Init":true,"Runtime":"runc","LogConfig":{"Type":"json-file","Config":{}}},
		"NetworkingConfig":{"EndpointsConfig":{"app":{"Aliases":["www"],"IPAMConfig":{"IPv4Address":"10.9.0.5"}}}}}`)
	cfg, err := toCreateConfig("/web", req)
	if err != nil {
		t.Fatal(err)
	}
	h := cfg.Host
	if cfg.Name != "web" || cfg.Image != "busybox" || cfg.Labels["l"] != "v" || cfg.Healthcheck == nil || cfg.Healthcheck.Retries != 2 {
		t.Fatalf("config: %+v", cfg)
	}
	if h.NetworkMode != "app" || cfg.Networks["app"].IPAddress != "10.9.0.5" || cfg.Networks["app"].Aliases[0] != "www" {
		t.Fatalf("network: %+v %+v", h.NetworkMode, cfg.Networks)
	}
	want := []api.PortBinding{{ContainerPort: 53, Proto: "udp"}, {HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Proto: "tcp"}}
	if len(h.PortBindings) != 2 || h.PortBindings[0] != want[0] || h.PortBindings[1] != want[1] {
		t.Fatalf("ports: %+v", h.PortBindings)
	}
	if len(h.Binds) != 1 || h.Binds[0] != "/srv:/srv:ro" {
		t.Fatalf("binds: %v", h.Binds)
	}
	// The named volume from -v and the anonymous /anon; /data is not doubled.
	if len(h.Mounts) != 2 || h.Mounts[0].Source != "data" || h.Mounts[1].Target != "/anon" || h.Mounts[1].Source != "" {
		t.Fatalf("mounts: %+v", h.Mounts)
	}
	if h.RestartPolicy.Name != "on-failure" || h.RestartPolicy.MaximumRetryCount != 3 || h.Memory != 64<<20 || h.PidsLimit != 100 || !h.Init || h.Runtime != "" || h.DNS[0] != "1.1.1.1" {
		t.Fatalf("host config: %+v", h)
	}
}

func TestToCreateConfigRefuses(t *testing.T) {
	cases := map[string]string{
		`{"Image":"b","HostConfig":{"Privileged":false,"Devices":[{"PathOnHost":"/dev/kvm"}]}}`: "HostConfig.Devices",
		`{"Image":"b","HostConfig":{"UTSMode":"host"}}`:                                         "HostConfig.UTSMode",
		`{"Image":"b","HostConfig":{"VolumesFrom":["x"]}}`:                                      "HostConfig.VolumesFrom",
		`{"Image":"b","HostConfig":{"CpuQuota":5000}}`:                                          "HostConfig.CpuQuota",
		`{"Image":"b","Domainname":"example.org"}`:                                              "Domainname",
		`{"Image":"b","HostConfig":{"Binds":["relative"]}}`:                                     "invalid volume specification",
		`{"Image":"b","HostConfig":{"Binds":["/a:b"]}}`:                                         "absolute path",
		`{"Image":"b","HostConfig":{"Binds":["/a:/b:weird"]}}`:                                  `unknown option "weird"`,
		`{"Image":"b","HostConfig":{"PortBindings":{"80/sctp":[{}]}}}`:                          "protocol sctp",
		`{"Image":"b","HostConfig":{"Mounts":[{"Type":"npipe","Target":"/x"}]}}`:                `mount type "npipe"`,
	}
	for body, want := range cases {
		_, err := toCreateConfig("", decodeCreate(t, body))
		if err == nil || !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an invalid-argument error naming %q", body, err, want)
		}
	}
	// Zero values that clients always send are no options.
	if _, err := toCreateConfig("", decodeCreate(t, `{"Image":"b","HostConfig":{"IpcMode":"private","CgroupnsMode":"private","Isolation":"","OomKillDisable":false,"PidsLimit":0,"ConsoleSize":[0,0]}}`)); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	if _, err := toCreateConfig("", container.CreateRequest{}); err == nil {
		t.Fatal("a request without Config was accepted")
	}
}

func TestParseFilters(t *testing.T) {
	for _, raw := range []string{`{"label":{"a=b":true},"status":{"running":true}}`, `{"label":["a=b"],"status":["running"]}`} {
		f, err := parseFilters(raw)
		if err != nil || len(f["label"]) != 1 || f["label"][0] != "a=b" || f["status"][0] != "running" {
			t.Fatalf("%s: %v %v", raw, f, err)
		}
		if !f.matchLabels(map[string]string{"a": "b"}) || f.matchLabels(map[string]string{"a": "c"}) {
			t.Fatalf("%s: label matching wrong", raw)
		}
	}
	if _, err := parseFilters(`{"x":`); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("bad JSON: %v", err)
	}
	f, _ := parseFilters(`{"nope":{"1":true}}`)
	if err := f.validate("label"); err == nil || !strings.Contains(err.Error(), "invalid filter 'nope'") {
		t.Fatalf("validate: %v", err)
	}
}

func TestVersionPrefix(t *testing.T) {
	s := New(nil, Options{Version: "test"})
	for path, code := range map[string]int{"/_ping": 200, "/v1.41/_ping": 200, "/v1.57/_ping": 200, "/v1.40/_ping": 400, "/v1.58/_ping": 400, "/v1.41/nowhere": 404} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != code {
			t.Errorf("%s: %d, want %d (%s)", path, rec.Code, code, rec.Body)
		}
		if rec.Header().Get("Api-Version") != MaxAPIVersion && code == 200 {
			t.Errorf("%s: no Api-Version header", path)
		}
	}
}

func TestMuxWriter(t *testing.T) {
	var b strings.Builder
	if err := newMuxWriter(&b, false).write(true, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "\x02\x00\x00\x00\x00\x00\x00\x02hi" {
		t.Fatalf("frame %q", got)
	}
}

// FuzzCreateRequest feeds hostile create bodies through decoding and translation: no
// panic, and every refusal is an invalid-argument error.
func FuzzCreateRequest(f *testing.F) {
	f.Add(`{"Image":"busybox","HostConfig":{"Binds":["a:/b:ro"],"PortBindings":{"80/tcp":[{"HostPort":"1-2"}]}}}`)
	f.Add(`{"Image":"x","Volumes":{"../..":{}},"HostConfig":{"Mounts":[{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":-1}}]}}`)
	f.Add(`{"Image":"x","NetworkingConfig":{"EndpointsConfig":{"n":null}}}`)
	f.Fuzz(func(t *testing.T, body string) {
		var req container.CreateRequest
		if json.Unmarshal([]byte(body), &req) != nil {
			return
		}
		if _, err := toCreateConfig("n", req); err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Fatalf("refusal without ErrInvalidArgument: %v", err)
		}
	})
}

// FuzzFilters: any filters parameter parses or is refused as invalid, without panic.
func FuzzFilters(f *testing.F) {
	f.Add(`{"label":{"a=b":true}}`)
	f.Add(`{"label":["a"]}`)
	f.Fuzz(func(t *testing.T, raw string) {
		fl, err := parseFilters(raw)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("error without ErrInvalidArgument: %v", err)
			}
			return
		}
		_ = fl.matchLabels(map[string]string{"a": "b"})
		_ = fl.validate("label")
	})
}

func TestMatchEvent(t *testing.T) {
	ev := Event{Type: "container", Action: "die", ID: "abc123", Attributes: map[string]string{"name": "web", "image": "busybox", "tier": "front"}}
	for raw, want := range map[string]bool{
		``:                                    true,
		`{"type":{"container":true}}`:         true,
		`{"type":{"image":true}}`:             false,
		`{"event":{"start":true,"die":true}}`: true,
		`{"container":{"web":true}}`:          true,
		`{"container":{"abc":true}}`:          true,
		`{"container":{"db":true}}`:           false,
		`{"image":{"busybox":true}}`:          true,
		`{"label":{"tier=front":true}}`:       true,
		`{"label":{"tier=back":true}}`:        false,
	} {
		f, err := parseFilters(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := matchEvent(f, ev); got != want {
			t.Errorf("%s: %v, want %v", raw, got, want)
		}
	}
}

func TestEventMatches(t *testing.T) {
	for _, c := range []struct {
		filter, action string
		want           bool
	}{
		{"die", "die", true},
		{"die", "destroy", false},
		{"exec_create", "exec_create: sh -c exit 3", true},
		{"exec_start", "exec_start: ls", true},
		{"exec_create", "exec_start: ls", false},
		{"health_status", "health_status: healthy", true},
		{"health_status: healthy", "health_status: healthy", true},
		{"health_status: healthy", "health_status: unhealthy", false},
		{"exec_die", "exec_die", true},
		{"exec", "exec_die", false},
	} {
		if got := eventMatches(c.filter, c.action); got != c.want {
			t.Errorf("event=%q on %q: %v, want %v", c.filter, c.action, got, c.want)
		}
	}
}

func TestReferenceMatch(t *testing.T) {
	for _, c := range []struct {
		filter, tag string
		want        bool
	}{
		{"busybox", "docker.io/library/busybox:latest", true},
		{"busybox:latest", "docker.io/library/busybox:latest", true},
		{"busybox:1", "docker.io/library/busybox:latest", false},
		{"localhost:5000/app*", "localhost:5000/app/x:1", true},
		{"other", "docker.io/library/busybox:latest", false},
	} {
		if got := referenceMatch(c.filter, c.tag); got != c.want {
			t.Errorf("referenceMatch(%q, %q) = %v", c.filter, c.tag, got)
		}
	}
}

func TestStatusText(t *testing.T) {
	for _, c := range []struct {
		st   api.ContainerState
		want string
	}{
		{api.ContainerState{Status: api.StatusCreated}, "Created"},
		{api.ContainerState{Status: api.StatusRunning, Running: true, StartedAt: time.Now().Add(-3 * time.Minute)}, "Up 3 minutes"},
		{api.ContainerState{Status: api.StatusExited, ExitCode: 2, FinishedAt: time.Now().Add(-2 * time.Second)}, "Exited (2) 2 seconds ago"},
		{api.ContainerState{Status: api.StatusRunning, Running: true, StartedAt: time.Now().Add(-time.Hour), Health: &api.Health{Status: api.HealthHealthy}}, "Up About an hour (healthy)"},
	} {
		if got := statusText(c.st); got != c.want {
			t.Errorf("statusText: %q, want %q", got, c.want)
		}
	}
}
