package network

import (
	"fmt"
	"math/rand"
	"net/netip"
	"testing"
)

// TestIPAMNoDuplicates churns 200 attach/detach operations on a small subnet (so the
// allocator wraps around) and checks that live addresses never collide, survive a
// restart of the manager and come back when released.
func TestIPAMNoDuplicates(t *testing.T) {
	m := newTestManager(t, Config{})
	n, err := m.Create(CreateOptions{Name: "small", Subnet: "10.213.0.0/27"})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	capacity := 30 - 1 // usable hosts minus the gateway
	// One namespace holds every endpoint; each container gets its own interface name.
	ns := newNS(t, m, "shared")
	rng := rand.New(rand.NewSource(1))
	live := map[string]bool{}
	check := func(m *Manager) {
		t.Helper()
		got, err := m.Get(n.ID)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]string{}
		subnet := netip.MustParsePrefix(n.Subnet)
		for _, e := range got.Endpoints {
			if prev, dup := seen[e.IP]; dup {
				t.Fatalf("IP %s held by %s and %s", e.IP, prev, e.ContainerID)
			}
			seen[e.IP] = e.ContainerID
			a := netip.MustParseAddr(e.IP)
			if !subnet.Contains(a) || e.IP == n.Gateway {
				t.Fatalf("bad IP %s for %s", e.IP, e.ContainerID)
			}
		}
		if len(got.Endpoints) != len(live) {
			t.Fatalf("%d endpoints, want %d", len(got.Endpoints), len(live))
		}
	}
	next := 0
	for op := 0; op < 200; op++ {
		if len(live) < capacity && (len(live) == 0 || rng.Intn(3) > 0) {
			id := fmt.Sprintf("c%d", next)
			next++
			mustAttach(t, m, ns, AttachOptions{ContainerID: id, Network: n.Name, IfName: "e" + id})
			live[id] = true
		} else {
			for id := range live {
				if err := m.Detach(id, n.Name); err != nil {
					t.Fatalf("Detach %s: %v", id, err)
				}
				delete(live, id)
				break
			}
		}
		check(m)
	}

	// Persisted: a new manager on the same state sees the same allocations.
	before, _ := m.Get(n.ID)
	m = reopen(t, m)
	after, _ := m.Get(n.ID)
	if fmt.Sprint(before.Endpoints) != fmt.Sprint(after.Endpoints) {
		t.Fatalf("endpoints changed over restart:\n%v\n%v", before.Endpoints, after.Endpoints)
	}
	check(m)

	// Fill the subnet: this only works if detached addresses were released.
	for len(live) < capacity {
		id := fmt.Sprintf("c%d", next)
		next++
		mustAttach(t, m, ns, AttachOptions{ContainerID: id, Network: n.Name, IfName: "e" + id})
		live[id] = true
	}
	check(m)
	if _, err := m.Attach(ns, AttachOptions{ContainerID: "extra", Network: n.Name, IfName: "extra"}); err == nil {
		t.Fatalf("attach to a full subnet succeeded")
	}
	check(m)
}
