package network

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// iptablesFirewall keeps drover's rules in chains of its own (PREFIX-FORWARD, -INPUT in
// the filter table; PREFIX-PRE, -OUT, -POST in nat), each rewritten in one
// iptables-restore transaction, and jumped to from the built-in chains. It mirrors the
// nftables rule set of syncRules; it is the fallback for hosts without nf_tables.
type iptablesFirewall struct {
	bin    string // iptables or iptables-legacy
	prefix string // upper-case chain name prefix
}

func newIptables(prefix string) (*iptablesFirewall, error) {
	bin, err := iptablesBinary()
	if err != nil {
		return nil, err
	}
	return &iptablesFirewall{bin: bin, prefix: strings.ToUpper(prefix)}, nil
}

func (f *iptablesFirewall) name() string { return FirewallIptables }

// chain names and the built-in chains that jump to them.
func (f *iptablesFirewall) chains() []struct{ table, builtin, own string } {
	return []struct{ table, builtin, own string }{
		{"filter", "FORWARD", f.prefix + "-FORWARD"},
		{"filter", "INPUT", f.prefix + "-INPUT"},
		{"nat", "PREROUTING", f.prefix + "-PRE"},
		{"nat", "OUTPUT", f.prefix + "-OUT"},
		{"nat", "POSTROUTING", f.prefix + "-POST"},
	}
}

func (f *iptablesFirewall) sync(nets []ruleNet, ports []rulePort) error {
	fw, in, pre, out, post := f.prefix+"-FORWARD", f.prefix+"-INPUT", f.prefix+"-PRE", f.prefix+"-OUT", f.prefix+"-POST"
	var filter, nat []string
	for _, n := range nets {
		filter = append(filter, fmt.Sprintf("-A %s -i %s -o %s -j ACCEPT", fw, n.Bridge, n.Bridge))
	}
	for _, n := range nets {
		if n.Internal {
			filter = append(filter, fmt.Sprintf("-A %s -i %s -j DROP", fw, n.Bridge), fmt.Sprintf("-A %s -o %s -j DROP", fw, n.Bridge))
			filter = append(filter, fmt.Sprintf("-A %s -i %s ! -d %s -j DROP", in, n.Bridge, n.Gateway))
		}
	}
	filter = append(filter,
		fmt.Sprintf("-A %s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT", fw),
		fmt.Sprintf("-A %s -m conntrack --ctstate DNAT -j ACCEPT", fw))
	for _, a := range nets {
		for _, b := range nets {
			if a.Bridge != b.Bridge {
				filter = append(filter, fmt.Sprintf("-A %s -i %s -o %s -j DROP", fw, a.Bridge, b.Bridge))
			}
		}
	}
	for _, p := range ports {
		proto := "tcp"
		if p.Proto == 17 {
			proto = "udp"
		}
		dst := "-m addrtype --dst-type LOCAL"
		if !p.HostIP.IsUnspecified() {
			dst = "-d " + p.HostIP.String()
		}
		rule := fmt.Sprintf("%s -p %s --dport %d -j DNAT --to-destination %s:%d", dst, proto, p.HostPort, p.Target, p.Port)
		nat = append(nat, fmt.Sprintf("-A %s %s", pre, rule), fmt.Sprintf("-A %s %s", out, rule))
	}
	for _, n := range nets {
		if !n.Internal {
			for _, dst := range n.NonMasquerade {
				nat = append(nat, fmt.Sprintf("-A %s -s %s -d %s ! -o %s -j ACCEPT", post, n.Subnet, dst, n.Bridge))
			}
			nat = append(nat, fmt.Sprintf("-A %s -s %s ! -o %s -j MASQUERADE", post, n.Subnet, n.Bridge))
		}
		nat = append(nat,
			fmt.Sprintf("-A %s -o %s -s 127.0.0.0/8 -j MASQUERADE", post, n.Bridge),
			fmt.Sprintf("-A %s -o %s -s %s -m conntrack --ctstate DNAT -j MASQUERADE", post, n.Bridge, n.Subnet))
	}
	var b bytes.Buffer
	b.WriteString("*filter\n")
	for _, c := range []string{fw, in} {
		fmt.Fprintf(&b, ":%s - [0:0]\n", c)
	}
	b.WriteString(strings.Join(filter, "\n") + "\nCOMMIT\n*nat\n")
	for _, c := range []string{pre, out, post} {
		fmt.Fprintf(&b, ":%s - [0:0]\n", c)
	}
	if len(nat) > 0 {
		b.WriteString(strings.Join(nat, "\n") + "\n")
	}
	b.WriteString("COMMIT\n")
	if err := f.run(&b, f.restore(), "-w", "--noflush"); err != nil {
		return fmt.Errorf("apply iptables rules: %w", err)
	}
	return f.ensureJumps()
}

// restore is the iptables-restore of the same flavour as bin (iptables-legacy-restore
// for iptables-legacy).
func (f *iptablesFirewall) restore() string { return f.bin + "-restore" }

// ensureJumps puts a jump to each own chain at the top of its built-in chain, once.
func (f *iptablesFirewall) ensureJumps() error {
	for _, c := range f.chains() {
		if f.run(nil, f.bin, "-w", "-t", c.table, "-C", c.builtin, "-j", c.own) == nil {
			continue
		}
		if err := f.run(nil, f.bin, "-w", "-t", c.table, "-I", c.builtin, "1", "-j", c.own); err != nil {
			return fmt.Errorf("hook iptables chain %s: %w", c.own, err)
		}
	}
	return nil
}

func (f *iptablesFirewall) remove() error {
	var errs []error
	for _, c := range f.chains() {
		for f.run(nil, f.bin, "-w", "-t", c.table, "-D", c.builtin, "-j", c.own) == nil {
		}
		if f.run(nil, f.bin, "-w", "-t", c.table, "-S", c.own) != nil {
			continue // absent
		}
		errs = append(errs, f.run(nil, f.bin, "-w", "-t", c.table, "-F", c.own), f.run(nil, f.bin, "-w", "-t", c.table, "-X", c.own))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove iptables chains: %w", err)
	}
	return nil
}

func (f *iptablesFirewall) run(stdin *bytes.Buffer, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
