package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover/drover/api"
)

// haCluster is a local cluster of three servers (n1-n3) and one agent (n4), with the
// means to find the leader, cut a machine off and talk to each server with client-go.
type haCluster struct {
	*localCluster
	net     string // the machines' /24, "10.X.Y"
	name    string // CLUSTER_NAME: prefix of the namespaces
	servers []string
	agent   string
}

const haNamespace = "ha"

func newHACluster(t *testing.T) *haCluster {
	c := startLocalCluster(t, 4, 3)
	h := &haCluster{localCluster: c, servers: []string{"n1", "n2", "n3"}, agent: "n4"}
	for _, kv := range c.env {
		if v, ok := strings.CutPrefix(kv, "CLUSTER_NET="); ok {
			h.net = v
		}
		if v, ok := strings.CutPrefix(kv, "CLUSTER_NAME="); ok {
			h.name = v
		}
	}
	return h
}

// on returns a copy for a subtest: failures go to that subtest.
func (h *haCluster) on(t *testing.T) *haCluster {
	lc := *h.localCluster
	lc.t = t
	cp := *h
	cp.localCluster = &lc
	return &cp
}

func (h *haCluster) ip(n string) string {
	i, _ := strconv.Atoi(strings.TrimPrefix(n, "n"))
	return fmt.Sprintf("%s.%d", h.net, 10+i)
}

func (h *haCluster) apiURL(n string) string { return "https://" + net.JoinHostPort(h.ip(n), "6443") }

func (h *haCluster) status(n string) (api.ClusterStatus, error) {
	var st api.ClusterStatus
	out, err := h.drover(n, "cluster", "status", "--format", "json")
	if err != nil {
		return st, fmt.Errorf("drover cluster status on %s: %v: %s", n, err, out)
	}
	return st, json.Unmarshal([]byte(out), &st)
}

// agreedLeader is the leader every one of among names, "" while they disagree or name
// none.
func (h *haCluster) agreedLeader(among []string) (string, string) {
	var seen []string
	leader := ""
	for i, n := range among {
		st, err := h.status(n)
		if err != nil {
			return "", err.Error()
		}
		seen = append(seen, n+" says "+strconv.Quote(st.Leader))
		if i == 0 {
			leader = st.Leader
		} else if st.Leader != leader {
			leader = ""
		}
	}
	return leader, strings.Join(seen, ", ")
}

// waitLeader waits until the servers among agree on a leader that is one of them.
func (h *haCluster) waitLeader(among []string) string {
	h.t.Helper()
	var leader string
	h.eventually(60*time.Second, "servers "+strings.Join(among, ",")+" agreeing on a leader among them", func() (bool, string) {
		l, state := h.agreedLeader(among)
		leader = l
		return l != "" && contains(among, l), state
	})
	return leader
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func without(list []string, s string) []string {
	var out []string
	for _, v := range list {
		if v != s {
			out = append(out, v)
		}
	}
	return out
}

// client is client-go against server n only, as the kubeconfig's administrator.
func (h *haCluster) client(n string) *kubernetes.Clientset {
	h.t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", h.kubeconfig)
	if err != nil {
		h.t.Fatal(err)
	}
	cfg.Host = h.apiURL(n)
	cfg.QPS, cfg.Burst = -1, 0 // no client-side throttling
	// A transport of its own, so a client's connections are not shared with others'.
	cfg.Proxy = http.ProxyFromEnvironment
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	return cs
}

// isolate cuts machine n off from the other machines, both ways, with nftables rules in
// its network namespace; the host (the test's clients, on the bridge's address) still
// reaches it, so what the isolated server answers can be checked.
func (h *haCluster) isolate(n string) {
	h.t.Helper()
	rules := fmt.Sprintf(`table inet drover_ha_cut {
	chain in { type filter hook input priority -300; policy accept; iifname "lo" accept; ip saddr %[1]s.0/24 ip saddr != %[1]s.1 drop; }
	chain out { type filter hook output priority -300; policy accept; oifname "lo" accept; ip daddr %[1]s.0/24 ip daddr != %[1]s.1 drop; }
}
`, h.net)
	cmd := exec.Command("nsenter", "--net=/run/netns/"+h.name+"-"+n, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		h.t.Fatalf("isolate %s: %v\n%s", n, err, out)
	}
	// Healed before the cluster is taken down, should the test stop half-way.
	h.t.Cleanup(func() {
		_ = exec.Command("nsenter", "--net=/run/netns/"+h.name+"-"+n, "nft", "delete", "table", "inet", "drover_ha_cut").Run()
	})
}

func (h *haCluster) heal(n string) {
	h.t.Helper()
	if out, err := exec.Command("nsenter", "--net=/run/netns/"+h.name+"-"+n, "nft", "delete", "table", "inet", "drover_ha_cut").CombinedOutput(); err != nil {
		h.t.Fatalf("heal %s: %v\n%s", n, err, out)
	}
}

func (h *haCluster) mustScript(args ...string) {
	h.t.Helper()
	if out, err := h.script(args...); err != nil {
		h.t.Fatalf("cluster-local.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// must retries a setup step that a leader election in progress may refuse.
func (h *haCluster) must(what string, fn func(ctx context.Context) error) {
	h.t.Helper()
	h.eventually(60*time.Second, what, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := fn(ctx)
		if apierrors.IsAlreadyExists(err) {
			err = nil // an earlier attempt's, whose answer was lost
		}
		return err == nil, fmt.Sprint(err)
	})
}

func newLease(name, holder string) *coordinationv1.Lease {
	return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: haNamespace},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder}}
}

func holder(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

func parseRev(s string) uint64 {
	v, _ := strconv.ParseUint(s, 10, 64)
	return v
}

// notSent says the request never left the client: its connection could not be made.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// TestClusterHA is the cluster's fault test, on three servers and an agent: kubectl
// through every server, a leader killed during writes, a linearizable history of
// reads and compare-and-sets across a leader kill and a partition (checked with
// porcupine), an isolated server refusing writes and stale reads, bad join tokens, and
// a removed node's certificate refused.
func TestClusterHA(t *testing.T) {
	h := newHACluster(t)
	h.eventually(60*time.Second, "four Ready nodes", func() (bool, string) {
		out, _ := h.kubectl("get", "nodes", "--no-headers")
		return strings.Count(out, " Ready ") == 4, out
	})
	steps := []struct {
		name string
		run  func(h *haCluster)
	}{
		{"EveryServerServes", testEveryServerServes},
		{"LeaderKilledDuringWrites", testLeaderKilledDuringWrites},
		{"LinearizableAcrossKillAndPartition", testLinearizable},
		{"RemovedNodeAndBadTokens", testRemovedNodeAndBadTokens},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) { s.run(h.on(t)) }) {
			return // the later steps build on the cluster this one left
		}
	}
}

// testEveryServerServes: kubectl works against each server (followers forward writes
// and consistent reads to the leader), and every server names the same leader.
func testEveryServerServes(h *haCluster) {
	leader := h.waitLeader(h.servers)
	h.t.Logf("leader: %s", leader)
	for _, n := range h.servers {
		h.must("kubectl create namespace through "+n, func(context.Context) error {
			out, err := h.kubectl("--server", h.apiURL(n), "create", "namespace", "from-"+n)
			if err != nil && strings.Contains(out, "AlreadyExists") {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		})
	}
	for _, n := range h.servers {
		out := h.mustKubectl("--server", h.apiURL(n), "get", "namespaces", "from-n1", "from-n2", "from-n3", "--no-headers")
		if strings.Count(out, "Active") != 3 {
			h.t.Errorf("kubectl get namespaces through %s:\n%s", n, out)
		}
		if out := h.mustKubectl("--server", h.apiURL(n), "get", "nodes", "--no-headers"); strings.Count(out, " Ready ") != 4 {
			h.t.Errorf("kubectl get nodes through %s:\n%s", n, out)
		}
	}
	h.must("create namespace "+haNamespace, func(ctx context.Context) error {
		_, err := h.client(leader).CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: haNamespace}}, metav1.CreateOptions{})
		return err
	})
}

// writeAcks are the writes the API acknowledged.
type writeAcks struct {
	mu       sync.Mutex
	created  map[string]uint64 // lease name -> its revision
	afterCut []string          // created by calls made after the kill
	counters map[string]int    // counter lease -> last acknowledged value
}

// testLeaderKilledDuringWrites: kill -9 of the leader's machine during a stream of
// writes; a new leader is elected, every acknowledged write survives, writes go on
// through the survivors, and the killed machine rejoins and catches up.
func testLeaderKilledDuringWrites(h *haCluster) {
	t := h.t
	old := h.waitLeader(h.servers)
	clients := map[string]*kubernetes.Clientset{}
	for _, n := range h.servers {
		clients[n] = h.client(n)
	}
	acks := &writeAcks{created: map[string]uint64{}, counters: map[string]int{}}
	var killed atomic.Bool
	var preKillRev atomic.Uint64
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		counter := fmt.Sprintf("counter-%d", w)
		h.must("create "+counter, func(ctx context.Context) error {
			_, err := clients[h.servers[w]].CoordinationV1().Leases(haNamespace).Create(ctx, newLease(counter, "0"), metav1.CreateOptions{})
			return err
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			server := w // the server this writer talks to; the next one after an error
			for seq := 1; ctx.Err() == nil; seq++ {
				cs := clients[h.servers[server%3]]
				afterKill := killed.Load()
				octx, cancel := context.WithTimeout(ctx, 5*time.Second)
				var err error
				if seq%3 == 0 {
					// An update: the counter takes seq, compare-and-set on what was read.
					var l *coordinationv1.Lease
					if l, err = cs.CoordinationV1().Leases(haNamespace).Get(octx, counter, metav1.GetOptions{}); err == nil {
						v := strconv.Itoa(seq)
						l.Spec.HolderIdentity = &v
						if _, err = cs.CoordinationV1().Leases(haNamespace).Update(octx, l, metav1.UpdateOptions{}); err == nil {
							acks.mu.Lock()
							acks.counters[counter] = seq
							acks.mu.Unlock()
						}
					}
				} else {
					name := fmt.Sprintf("w%d-%d", w, seq)
					var l *coordinationv1.Lease
					if l, err = cs.CoordinationV1().Leases(haNamespace).Create(octx, newLease(name, name), metav1.CreateOptions{}); err == nil {
						rev := parseRev(l.ResourceVersion)
						acks.mu.Lock()
						acks.created[name] = rev
						if afterKill {
							acks.afterCut = append(acks.afterCut, name)
						}
						acks.mu.Unlock()
						if !killed.Load() {
							for cur := preKillRev.Load(); rev > cur && !preKillRev.CompareAndSwap(cur, rev); cur = preKillRev.Load() {
							}
						}
					}
				}
				cancel()
				if err != nil {
					server++
					select {
					case <-ctx.Done():
					case <-time.After(100 * time.Millisecond):
					}
				}
			}
		}()
	}
	count := func() (int, int) {
		acks.mu.Lock()
		defer acks.mu.Unlock()
		return len(acks.created), len(acks.afterCut)
	}
	h.eventually(60*time.Second, "20 acknowledged creates", func() (bool, string) {
		n, _ := count()
		return n >= 20, fmt.Sprintf("%d acknowledged", n)
	})
	t.Logf("kill -9 of the leader's machine, %s", old)
	h.mustScript("kill-node", old)
	killed.Store(true)
	survivors := without(h.servers, old)
	h.eventually(90*time.Second, "20 creates acknowledged after the kill", func() (bool, string) {
		_, n := count()
		return n >= 20, fmt.Sprintf("%d acknowledged after the kill", n)
	})
	stop()
	wg.Wait()
	leader := h.waitLeader(survivors)
	t.Logf("new leader: %s; %d creates acknowledged, %d after the kill", leader, len(acks.created), len(acks.afterCut))

	// Every acknowledged write is there, read back through each survivor.
	for _, n := range survivors {
		list, err := clients[n].CoordinationV1().Leases(haNamespace).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatalf("list leases through %s: %v", n, err)
		}
		got := map[string]string{}
		for i := range list.Items {
			got[list.Items[i].Name] = holder(&list.Items[i])
		}
		for name := range acks.created {
			if v, ok := got[name]; !ok || v != name {
				t.Errorf("acknowledged create of lease %s: through %s it reads %q (present %v)", name, n, v, ok)
			}
		}
		for counter, last := range acks.counters {
			if v, _ := strconv.Atoi(got[counter]); v < last {
				t.Errorf("lease %s through %s reads %q, but the update to %d was acknowledged", counter, n, got[counter], last)
			}
		}
	}

	// The killed machine comes back, follows the new leader and catches up: its own
	// replica (a watch from before the kill is served from it) holds the writes made
	// while it was down.
	h.mustScript("start-node", old)
	h.eventually(60*time.Second, old+" following the leader again", func() (bool, string) {
		st, err := h.status(old)
		if err != nil {
			return false, err.Error()
		}
		return st.Leader == leader, fmt.Sprintf("%s names leader %q", old, st.Leader)
	})
	want := map[string]bool{}
	for _, name := range acks.afterCut {
		want[name] = true
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer wcancel()
	w, err := h.client(old).CoordinationV1().Leases(haNamespace).Watch(wctx, metav1.ListOptions{ResourceVersion: strconv.FormatUint(preKillRev.Load(), 10)})
	if err != nil {
		t.Fatalf("watch through %s from revision %d: %v", old, preKillRev.Load(), err)
	}
	for len(want) > 0 {
		ev, ok := <-w.ResultChan()
		if !ok {
			t.Fatalf("the watch through the restarted %s ended with %d writes made while it was down not seen: %v", old, len(want), want)
		}
		if ev.Type == watch.Error {
			t.Fatalf("watch through %s: %v", old, apierrors.FromObject(ev.Object))
		}
		if l, ok := ev.Object.(*coordinationv1.Lease); ok && ev.Type == watch.Added {
			delete(want, l.Name)
		}
	}
	w.Stop()
	h.waitLeader(h.servers)
	h.eventually(60*time.Second, old+" Ready again", func() (bool, string) {
		out, _ := h.kubectl("get", "node", old, "--no-headers")
		return strings.Contains(out, " Ready "), out
	})
}

// linClient runs one client of the linearizability history against server n: read a
// random key, then usually compare-and-set it to a value of its own.
func linClient(ctx context.Context, hist *history, cs *kubernetes.Clientset, keys []string, tag string) {
	id := hist.clientID()
	leases := cs.CoordinationV1().Leases(haNamespace)
	pause := func() {
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	for seq := 0; ctx.Err() == nil; seq++ {
		key := keys[rand.IntN(len(keys))]
		octx, cancel := context.WithTimeout(ctx, 4*time.Second)
		call := hist.now()
		l, err := leases.Get(octx, key, metav1.GetOptions{})
		ret := hist.now()
		cancel()
		if err != nil {
			pause() // a failed read changed nothing: left out of the history
			continue
		}
		rev := parseRev(l.ResourceVersion)
		hist.add(id, linInput{key: key}, call, linOutput{value: holder(l), rev: rev}, ret)
		if rand.IntN(10) < 3 {
			continue
		}
		in := linInput{key: key, cas: true, expect: rev, value: fmt.Sprintf("%s-%d", tag, seq)}
		l.Spec.HolderIdentity = &in.value
		octx, cancel = context.WithTimeout(ctx, 4*time.Second)
		call = hist.now()
		upd, err := leases.Update(octx, l, metav1.UpdateOptions{})
		ret = hist.now()
		cancel()
		switch {
		case err == nil:
			hist.add(id, in, call, linOutput{rev: parseRev(upd.ResourceVersion)}, ret)
		case apierrors.IsConflict(err):
			hist.add(id, in, call, linOutput{conflict: true}, ret)
		case notSent(err):
			pause() // never sent: no effect, left out
		default:
			// Timeouts, cut connections, 5xx: it may or may not have taken effect.
			hist.add(id, in, call, linOutput{unknown: true}, ret)
			id = hist.clientID()
			pause()
		}
	}
}

// testLinearizable records reads and compare-and-sets from six clients, two per
// server, while the leader's machine is killed and restarted and then the new leader
// is cut off from the others and healed, and checks the history with porcupine. While
// the leader is cut off, it checks that the minority refuses writes and stale reads.
func testLinearizable(h *haCluster) {
	t := h.t
	keys := []string{"lin-0", "lin-1", "lin-2"}
	admin := h.client(h.servers[0])
	for _, k := range keys {
		h.must("create "+k, func(ctx context.Context) error {
			_, err := admin.CoordinationV1().Leases(haNamespace).Create(ctx, newLease(k, "init"), metav1.CreateOptions{})
			return err
		})
	}
	hist := newHistory()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		n := h.servers[i%3]
		cs := h.client(n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			linClient(ctx, hist, cs, keys, fmt.Sprintf("c%d", i))
		}()
	}
	more := func(n int, what string) {
		h.t.Helper()
		target := hist.len() + n
		h.eventually(120*time.Second, fmt.Sprintf("%d more operations (%s)", n, what), func() (bool, string) {
			l := hist.len()
			return l >= target, fmt.Sprintf("%d of %d", l, target)
		})
	}
	more(150, "before the kill")
	first := h.waitLeader(h.servers)
	t.Logf("kill -9 of the leader's machine, %s, after %d operations", first, hist.len())
	h.mustScript("kill-node", first)
	second := h.waitLeader(without(h.servers, first))
	more(150, "after the kill")
	h.mustScript("start-node", first)
	h.eventually(60*time.Second, first+" following the leader again", func() (bool, string) {
		st, err := h.status(first)
		if err != nil {
			return false, err.Error()
		}
		return st.Leader == second, fmt.Sprintf("%s names leader %q", first, st.Leader)
	})
	more(150, "after the restart")
	cut := h.waitLeader(h.servers)
	t.Logf("cutting off the leader, %s, after %d operations", cut, hist.len())
	h.isolate(cut)
	afterHeal := checkMinority(h, cut)
	more(150, "during the partition")
	h.heal(cut)
	t.Logf("healed after %d operations", hist.len())
	h.waitLeader(h.servers)
	afterHeal()
	more(150, "after healing")
	if n := hist.len(); n < 1000 {
		more(1000-n, "to reach 1000")
	}
	stop()
	wg.Wait()

	ops := hist.snapshot()
	var reads, cas, conflicts, unknown int
	for _, op := range ops {
		in, out := op.Input.(linInput), op.Output.(linOutput)
		switch {
		case !in.cas:
			reads++
		case out.unknown:
			unknown++
		case out.conflict:
			conflicts++
		default:
			cas++
		}
	}
	t.Logf("history: %d operations: %d reads, %d compare-and-sets acknowledged, %d refused (409), %d of unknown outcome",
		len(ops), reads, cas, conflicts, unknown)
	if cas == 0 || conflicts == 0 || reads == 0 {
		t.Errorf("the history lacks a kind of operation: the clients did not contend")
	}
	res, info := porcupine.CheckOperationsVerbose(leaseRegisterModel, ops, 2*time.Minute)
	if res != porcupine.Ok {
		path := filepath.Join(os.TempDir(), fmt.Sprintf("drover-ha-history-%d.html", time.Now().UnixNano()))
		if f, err := os.Create(path); err == nil {
			_ = porcupine.Visualize(leaseRegisterModel, info, f)
			f.Close()
		}
		t.Fatalf("the history is not linearizable (porcupine: %s); visualization in %s", res, path)
	}
}

// checkMinority: the cut-off server neither acknowledges writes nor answers reads with
// what may be stale, and the majority elects a leader and takes writes. It returns the
// checks for after healing: the refused write is nowhere and the healed server serves
// the majority's writes.
func checkMinority(h *haCluster, cut string) (afterHeal func()) {
	t := h.t
	majority := without(h.servers, cut)
	leader := h.waitLeader(majority)
	t.Logf("the majority's leader: %s", leader)
	maj := h.client(majority[0]).CoordinationV1().Leases(haNamespace)
	iso := h.client(cut).CoordinationV1().Leases(haNamespace)
	bg := context.Background()

	var before string
	h.must("read lin-0 through the majority", func(ctx context.Context) error {
		l, err := maj.Get(ctx, "lin-0", metav1.GetOptions{})
		if err == nil {
			before = holder(l)
		}
		return err
	})
	h.must("a write through the majority during the partition", func(ctx context.Context) error {
		_, err := maj.Create(ctx, newLease("minority", "after"), metav1.CreateOptions{})
		return err
	})

	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	got, err := iso.Get(ctx, "minority", metav1.GetOptions{})
	cancel()
	if err == nil {
		t.Errorf("the cut-off %s answered a read of a lease it cannot know: %+v", cut, got.Spec)
	} else {
		t.Logf("read through the cut-off %s: %v", cut, err)
	}
	ctx, cancel = context.WithTimeout(bg, 10*time.Second)
	old, err := iso.Get(ctx, "lin-0", metav1.GetOptions{})
	cancel()
	if err == nil {
		t.Errorf("the cut-off %s answered a read as current: lin-0 = %q (%q before the cut)", cut, holder(old), before)
	}
	ctx, cancel = context.WithTimeout(bg, 10*time.Second)
	_, err = iso.Create(ctx, newLease("minority-write", "stale"), metav1.CreateOptions{})
	cancel()
	if err == nil {
		t.Errorf("the cut-off %s acknowledged a write", cut)
	} else {
		t.Logf("write through the cut-off %s: %v", cut, err)
	}
	if st, err := h.status(cut); err == nil && st.Leader == cut {
		t.Errorf("the cut-off %s still calls itself the leader", cut)
	}

	return func() {
		h.eventually(60*time.Second, "the healed "+cut+" serving the majority's write", func() (bool, string) {
			ctx, cancel := context.WithTimeout(bg, 5*time.Second)
			defer cancel()
			got, err := iso.Get(ctx, "minority", metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			return holder(got) == "after", holder(got)
		})
		for _, n := range h.servers {
			_, err := h.client(n).CoordinationV1().Leases(haNamespace).Get(bg, "minority-write", metav1.GetOptions{})
			if !apierrors.IsNotFound(err) {
				t.Errorf("the write refused by the cut-off %s, read through %s: %v (want NotFound)", cut, n, err)
			}
		}
	}
}

// testRemovedNodeAndBadTokens: kubectl delete node revokes the node's certificate on
// every server (new connections fail the TLS handshake, open ones are refused), and
// joins with a wrong or expired token fail saying so.
func testRemovedNodeAndBadTokens(h *haCluster) {
	t := h.t
	n := h.agent
	pkiDir := filepath.Join(h.dir, "c", n, "root", "cluster", "pki")
	cert, err := tls.LoadX509KeyPair(filepath.Join(pkiDir, "node.crt"), filepath.Join(pkiDir, "node.key"))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(pkiDir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	// A fresh connection per request: each one goes through the TLS handshake.
	asNode := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS13}}}
	getOwnNode := func(server string) (int, error) {
		resp, err := asNode.Get(h.apiURL(server) + "/api/v1/nodes/" + n)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	for _, s := range h.servers {
		if code, err := getOwnNode(s); err != nil || code != http.StatusOK {
			t.Fatalf("node %s reading its own Node through %s before its removal: %d %v", n, s, code, err)
		}
	}
	h.mustKubectl("delete", "node", n)
	for _, s := range h.servers {
		h.eventually(30*time.Second, "the removed "+n+"'s certificate refused by "+s, func() (bool, string) {
			code, err := getOwnNode(s)
			if err == nil {
				return false, fmt.Sprintf("answered %d", code)
			}
			return strings.Contains(err.Error(), "tls:"), err.Error()
		})
	}
	h.eventually(30*time.Second, "TLS errors in the removed "+n+"'s agent log", func() (bool, string) {
		data, _ := os.ReadFile(filepath.Join(h.dir, "c", n, "daemon.log"))
		return strings.Contains(string(data), "tls: "), "no tls errors logged"
	})

	// The removed machine, out of the cluster, tries to join again.
	if out, err := h.drover(n, "cluster", "leave", "--force"); err != nil {
		t.Fatalf("drover cluster leave --force on %s: %v\n%s", n, err, out)
	}
	leader := h.waitLeader(h.servers)
	good, err := h.drover(leader, "cluster", "token", "create")
	if err != nil {
		t.Fatalf("token create: %v\n%s", err, good)
	}
	good = strings.TrimSpace(good)
	parts := strings.Split(good, ".")
	if len(parts) != 4 {
		t.Fatalf("token %q is not drv1.<ca-hash>.<id>.<secret>", good)
	}
	short, err := h.drover(leader, "cluster", "token", "create", "--ttl", "1s")
	if err != nil {
		t.Fatalf("token create --ttl 1s: %v\n%s", err, short)
	}
	short = strings.TrimSpace(short)
	time.Sleep(1500 * time.Millisecond) // the token's life, which the server measures
	otherCA := strings.Repeat("ab", 32)
	tests := []struct {
		name, token, want string
	}{
		{"garbage", "not-a-token", "join token invalid"},
		{"wrong secret", strings.Join([]string{parts[0], parts[1], parts[2], strings.Repeat("a", 32)}, "."), "join token invalid"},
		{"unknown id", strings.Join([]string{parts[0], parts[1], "aaaaaaaa", parts[3]}, "."), "join token invalid"},
		{"another cluster's CA", strings.Join([]string{parts[0], otherCA, parts[2], parts[3]}, "."), "does not match the token"},
		{"expired", short, "join token expired"},
	}
	for _, tt := range tests {
		out, err := h.drover(n, "cluster", "join", h.ip(leader)+":6443", "--token", tt.token, "--advertise", h.ip(n), "--node-name", n)
		if err == nil || !strings.Contains(out, tt.want) {
			t.Errorf("join with a token (%s): %v\n%s\nwant an error saying %q", tt.name, err, out, tt.want)
		}
		if st, err := h.status(n); err != nil || st.Member {
			t.Errorf("after a refused join (%s), %s is in a cluster: %+v %v", tt.name, n, st, err)
		}
	}
	// The machine itself is fine: the good token joins it.
	if out, err := h.drover(n, "cluster", "join", h.ip(leader)+":6443", "--token", good, "--advertise", h.ip(n), "--node-name", n); err != nil {
		t.Fatalf("join with a good token after the refused ones: %v\n%s", err, out)
	}
	h.eventually(60*time.Second, n+" Ready again after joining", func() (bool, string) {
		out, _ := h.kubectl("get", "node", n, "--no-headers")
		return strings.Contains(out, " Ready "), out
	})
}
