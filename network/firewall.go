package network

import (
	"errors"
	"fmt"
	"os/exec"

	"github.com/drover/drover/internal/errdefs"
)

// Firewall backends: the rules (isolation, NAT, published ports) live in nftables, or,
// on hosts without nf_tables, in iptables chains of drover's own.
const (
	FirewallAuto     = ""
	FirewallNftables = "nftables"
	FirewallIptables = "iptables"
)

// firewall writes the whole rule set for the networks and published ports at once.
type firewall interface {
	sync(nets []ruleNet, ports []rulePort) error
	remove() error
	name() string
}

// nftFirewall is drover's table (family inet) in nftables.
type nftFirewall struct{ table string }

func (f nftFirewall) sync(nets []ruleNet, ports []rulePort) error {
	return syncRules(f.table, nets, ports)
}
func (f nftFirewall) remove() error { return deleteRules(f.table) }
func (f nftFirewall) name() string  { return FirewallNftables }

// pickFirewall chooses the backend: nftables when it answers, else iptables.
func pickFirewall(cfg Config) (firewall, error) {
	switch cfg.Firewall {
	case FirewallNftables:
		return nftFirewall{table: cfg.tableName()}, nil
	case FirewallIptables:
		return newIptables(cfg.Prefix)
	case FirewallAuto:
		if _, err := tableExists(cfg.tableName()); err == nil {
			return nftFirewall{table: cfg.tableName()}, nil
		} else if !errors.Is(err, errNoNftables) {
			return nil, err
		}
		ipt, err := newIptables(cfg.Prefix)
		if err != nil {
			return nil, fmt.Errorf("%w, and the iptables fallback is not usable either: %v", errNoNftables, err)
		}
		cfg.Logf("nftables is not usable on this host: using iptables (%s)", ipt.bin)
		return ipt, nil
	}
	return nil, fmt.Errorf("firewall %q: use nftables or iptables: %w", cfg.Firewall, errdefs.ErrInvalidArgument)
}

// iptablesBinary finds an iptables that works: the legacy one first (a host without
// nf_tables has no use for iptables-nft), then whatever "iptables" is.
func iptablesBinary() (string, error) {
	for _, name := range []string{"iptables-legacy", "iptables"} {
		p, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		if exec.Command(p, "-w", "-t", "nat", "-S", "POSTROUTING").Run() == nil {
			return p, nil
		}
	}
	return "", errors.New("no working iptables binary: apt-get install iptables")
}
