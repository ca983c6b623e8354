package cri

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/drover/drover/api"
)

func TestCPURate(t *testing.T) {
	var r cpuRates
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at    time.Duration
		usage uint64
		want  uint64
	}{
		{0, 5e9, 0},                 // first reading: no rate yet
		{2 * time.Second, 6e9, 5e8}, // 1 s of CPU in 2 s: half a core
		{2*time.Second + 100*time.Millisecond, 6.2e9, 571428571}, // a moment later: measured from 0 s, not from 2 s
		{3 * time.Second, 6.5e9, 5e8},                            // the 2.1 s reading was not kept
		{4 * time.Second, 1e9, 0},                                // counter went back: restarted
		{6 * time.Second, 3e9, 1e9},
		{6 * time.Second, 3e9, 0}, // no time passed
	}
	for i, s := range steps {
		if got := r.rate("c", t0.Add(s.at), s.usage); got != s.want {
			t.Errorf("step %d: rate %d, want %d", i, got, s.want)
		}
	}
	r.keepOnly(map[string]bool{"other": true})
	if got := r.rate("c", t0.Add(10*time.Second), 9e9); got != 0 {
		t.Errorf("after forgetting: rate %d, want 0", got)
	}
}

func TestMatchContainer(t *testing.T) {
	c := api.Container{ID: "abc123", Config: api.ContainerConfig{Labels: map[string]string{labelSandbox: "pod99", labelName: "web", "app": "x"}}}
	for _, tc := range []struct {
		id, sandbox string
		sel         map[string]string
		want        bool
	}{
		{"", "", nil, true},
		{"abc", "", nil, true},
		{"abd", "", nil, false},
		{"", "pod9", nil, true},
		{"", "pod8", nil, false},
		{"", "", map[string]string{"app": "x"}, true},
		{"", "", map[string]string{"app": "y"}, false},
		{"", "", map[string]string{labelName: "web"}, false}, // drover's bookkeeping is no kube label
	} {
		if got := matchContainer(c, tc.id, tc.sandbox, tc.sel); got != tc.want {
			t.Errorf("id %q sandbox %q labels %v: %v, want %v", tc.id, tc.sandbox, tc.sel, got, tc.want)
		}
	}
}

func TestMemoryUsageAvailable(t *testing.T) {
	m := MemorySample{Usage: 30, WorkingSet: 20}
	if got := memoryUsage(1, m, 0); got.AvailableBytes != nil {
		t.Errorf("no limit: available %v, want none", got.AvailableBytes)
	}
	if got := memoryUsage(1, m, 100); got.GetAvailableBytes().GetValue() != 80 {
		t.Errorf("limit 100: available %v, want 80", got.AvailableBytes)
	}
	if got := memoryUsage(1, m, 10); got.GetAvailableBytes().GetValue() != 0 {
		t.Errorf("over the limit: available %v, want 0", got.AvailableBytes)
	}
}

// Every series must carry as many label values as its descriptor has keys: the kubelet
// pairs them by position.
func TestMetricLabelsMatchDescriptors(t *testing.T) {
	desc, _ := (&Server{}).ListMetricDescriptors(context.Background(), nil)
	keys := map[string]int{}
	for _, d := range desc.Descriptors {
		if d.Help == "" || len(d.LabelKeys) == 0 {
			t.Errorf("%s: no help or labels", d.Name)
		}
		if _, dup := keys[d.Name]; dup {
			t.Errorf("%s described twice", d.Name)
		}
		keys[d.Name] = len(d.LabelKeys)
	}
	smp := Sample{Time: time.Now(), Limits: Limits{CPUQuota: 20000}}
	got := containerSeries(make([]string, len(baseLabels)), smp)
	got = append(got, podSeries(make([]string, len(baseLabels)), 1, []Interface{{Name: "eth0", RxBytes: 7}})...)
	seen := map[string]bool{}
	for _, m := range got {
		seen[m.Name] = true
		if n, ok := keys[m.Name]; !ok || n != len(m.LabelValues) {
			t.Errorf("%s: %d label values, descriptor has %d keys (described: %v)", m.Name, len(m.LabelValues), n, ok)
		}
	}
	for name := range keys {
		if !seen[name] {
			t.Errorf("%s is described but never reported", name)
		}
	}
}

func TestUnsupportedResources(t *testing.T) {
	for name, tc := range map[string]struct {
		r  *runtimeapi.LinuxContainerResources
		ok bool
	}{
		"none":            {nil, true},
		"zero hugepages":  {&runtimeapi.LinuxContainerResources{HugepageLimits: []*runtimeapi.HugepageLimit{{PageSize: "2MB"}}}, true},
		"hugepage limit":  {&runtimeapi.LinuxContainerResources{HugepageLimits: []*runtimeapi.HugepageLimit{{PageSize: "2MB", Limit: 1 << 21}}}, false},
		"unified":         {&runtimeapi.LinuxContainerResources{Unified: map[string]string{"memory.high": "1M"}}, false},
		"ordinary limits": {&runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 1 << 26, CpuQuota: 20000, CpuPeriod: 100000}, true},
	} {
		err := unsupportedResources(tc.r)
		if (err == nil) != tc.ok || (err != nil && status.Code(err) != codes.InvalidArgument) {
			t.Errorf("%s: %v", name, err)
		}
	}
	u := resourceUpdate(&runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 1 << 26, CpuQuota: 20000, CpuPeriod: 100000, CpusetCpus: "0", OomScoreAdj: 5})
	if u.Memory != 1<<26 || u.CPUQuota != 20000 || u.CPUPeriod != 100000 || u.CpusetCpus != "0" || u.OomScoreAdj == nil || *u.OomScoreAdj != 5 {
		t.Errorf("resourceUpdate: %+v", u)
	}
}
