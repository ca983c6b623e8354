package network

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/google/nftables"

	"github.com/drover/drover/internal/testutil"
)

func TestNoLeaksOverCycles(t *testing.T) {
	m := newTestManager(t, Config{})
	other, err := m.Create(CreateOptions{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	bridges := map[string]bool{m.cfg.defaultBridge(): true, other.Bridge: true}
	fdsBefore := openFDs(t)
	for i := 0; i < 100; i++ {
		id := fmt.Sprintf("c%d", i)
		ns := m.NamespacePath(id)
		if err := NewNamespace(ns); err != nil {
			t.Fatalf("cycle %d: NewNamespace: %v", i, err)
		}
		mustAttach(t, m, ns, AttachOptions{ContainerID: id, Network: DefaultNetwork})
		mustAttach(t, m, ns, AttachOptions{ContainerID: id, Network: other.Name})
		if _, err := m.Publish(id, []PortBinding{{ContainerPort: 80}, {ContainerPort: 53, Proto: "udp"}}); err != nil {
			t.Fatalf("cycle %d: Publish: %v", i, err)
		}
		if i == 0 {
			if n := natRuleCount(t, m.cfg.tableName()); n != 4 {
				t.Fatalf("%d DNAT rules for 2 published ports, want 4", n)
			}
		}
		if err := m.Release(id); err != nil {
			t.Fatalf("cycle %d: Release: %v", i, err)
		}
	}
	// The kernel deletes a released container's veths with its namespace, in the background.
	var left []string
	ok := testutil.Poll(10*time.Second, func() bool {
		left = left[:0]
		for _, l := range hostLinks(t, m.Prefix()) {
			if !bridges[l] {
				left = append(left, l)
			}
		}
		return len(left) == 0
	})
	if !ok {
		t.Errorf("links left after release: %v", left)
	}
	if n := natRuleCount(t, m.cfg.tableName()); n != 0 {
		t.Errorf("%d DNAT rules left after release", n)
	}
	if entries, _ := os.ReadDir(m.cfg.NetnsDir); len(entries) != 0 {
		t.Errorf("netns files left: %v", entries)
	}
	if after := openFDs(t); after > fdsBefore {
		t.Errorf("open fds grew from %d to %d", fdsBefore, after)
	}
	for _, n := range []string{DefaultNetwork, other.Name} {
		if got, _ := m.Get(n); len(got.Endpoints) != 0 {
			t.Errorf("network %s keeps endpoints: %+v", n, got.Endpoints)
		}
	}
}

// natRuleCount counts the rules in the DNAT chains of the table.
func natRuleCount(t *testing.T, table string) int {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	tb := &nftables.Table{Family: nftables.TableFamilyINet, Name: table}
	total := 0
	for _, ch := range []string{"prerouting", "output"} {
		rules, err := c.GetRules(tb, &nftables.Chain{Name: ch, Table: tb})
		if err != nil {
			t.Fatalf("list rules of %s: %v", ch, err)
		}
		total += len(rules)
	}
	return total
}

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}
