package network

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// ruleNet is what the rules need to know about one network.
type ruleNet struct {
	Bridge   string
	Subnet   netip.Prefix
	Gateway  netip.Addr
	Internal bool
	// NonMasquerade are destinations the network's traffic reaches unmasqueraded.
	NonMasquerade []netip.Prefix
}

// rulePort is one published port, already resolved to its target.
type rulePort struct {
	HostIP   netip.Addr // unspecified = every local address
	HostPort uint16
	Proto    byte // unix.IPPROTO_TCP or IPPROTO_UDP
	Target   netip.Addr
	Port     uint16
}

// errNoNftables tells the user what is missing.
var errNoNftables = errors.New("nftables is not usable on this host (no nf_tables kernel module)")

// syncRules replaces drover's table (family inet, named table) with rules for nets and
// ports, in one atomic batch: there is never a moment without isolation rules. Only this
// table is touched; other tables (the host's firewall) are left alone.
func syncRules(table string, nets []ruleNet, ports []rulePort) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("%w: %v", errNoNftables, err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: table}
	// Adding before deleting makes the delete valid when the table is absent.
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)

	bridges := &nftables.Set{Table: t, Name: "bridges", KeyType: nftables.TypeIFName, KeyByteOrder: binaryutil.BigEndian}
	var elems []nftables.SetElement
	for _, n := range nets {
		elems = append(elems, nftables.SetElement{Key: ifname(n.Bridge)})
	}
	if err := c.AddSet(bridges, elems); err != nil {
		return fmt.Errorf("nftables set: %w", err)
	}

	accept := nftables.ChainPolicyAccept
	chain := func(name string, typ nftables.ChainType, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
		return c.AddChain(&nftables.Chain{Table: t, Name: name, Type: typ, Hooknum: hook, Priority: prio, Policy: &accept})
	}
	fwd := chain("forward", nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter)
	in := chain("input", nftables.ChainTypeFilter, nftables.ChainHookInput, nftables.ChainPriorityFilter)
	pre := chain("prerouting", nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest)
	out := chain("output", nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest)
	post := chain("postrouting", nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource)
	rule := func(ch *nftables.Chain, exprs ...expr.Any) {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: exprs})
	}

	// forward: traffic inside a bridge passes; an internal bridge passes nothing else;
	// replies and published ports pass; between two drover bridges nothing else passes.
	for _, n := range nets {
		rule(fwd, cat(matchIif(n.Bridge), matchOif(n.Bridge), verdict(expr.VerdictAccept))...)
	}
	for _, n := range nets {
		if n.Internal {
			rule(fwd, cat(matchIif(n.Bridge), verdict(expr.VerdictDrop))...)
			rule(fwd, cat(matchOif(n.Bridge), verdict(expr.VerdictDrop))...)
		}
	}
	rule(fwd, cat(matchCtState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), verdict(expr.VerdictAccept))...)
	// A published port is meant to be reached, from other drover networks too.
	rule(fwd, cat(matchCtStatus(ctStatusDstNAT), verdict(expr.VerdictAccept))...)
	rule(fwd, cat(lookupIfname(expr.MetaKeyIIFNAME, bridges), lookupIfname(expr.MetaKeyOIFNAME, bridges), verdict(expr.VerdictDrop))...)

	// input: an internal network may talk to its gateway address only.
	for _, n := range nets {
		if n.Internal {
			rule(in, cat(matchIif(n.Bridge), matchIPv4(), matchAddr(16, n.Gateway, expr.CmpOpNeq), verdict(expr.VerdictDrop))...)
			rule(in, cat(matchIif(n.Bridge), matchNfproto(unix.NFPROTO_IPV6), verdict(expr.VerdictDrop))...)
		}
	}

	// published ports: DNAT from other hosts (prerouting) and from this host (output).
	for _, p := range ports {
		for _, ch := range []*nftables.Chain{pre, out} {
			rule(ch, dnatRule(p)...)
		}
	}

	// postrouting: masquerade what leaves a network for elsewhere; masquerade loopback
	// sources DNATed onto a bridge (127.0.0.1:port from the host); masquerade hairpin
	// traffic (a container reaching a port published by a container of its own bridge,
	// itself included: the reply must come back through the host to be un-NATed).
	for _, n := range nets {
		if !n.Internal {
			// Routed destinations first: an accept in a NAT chain leaves the source as is.
			for _, dst := range n.NonMasquerade {
				rule(post, cat(matchIPv4(), matchPrefix(12, n.Subnet, expr.CmpOpEq), matchPrefix(16, dst, expr.CmpOpEq), matchOifNot(n.Bridge), verdict(expr.VerdictAccept))...)
			}
			rule(post, cat(matchIPv4(), matchPrefix(12, n.Subnet, expr.CmpOpEq), matchOifNot(n.Bridge), masq())...)
		}
		rule(post, cat(matchOif(n.Bridge), matchIPv4(), matchPrefix(12, netip.MustParsePrefix("127.0.0.0/8"), expr.CmpOpEq), masq())...)
		// Not matched on iifname: with br_netfilter a bridged packet has no input
		// interface in postrouting.
		rule(post, cat(matchOif(n.Bridge), matchIPv4(), matchPrefix(12, n.Subnet, expr.CmpOpEq), matchCtStatus(ctStatusDstNAT), masq())...)
	}

	if err := c.Flush(); err != nil {
		if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EAFNOSUPPORT) {
			return fmt.Errorf("%w: %v", errNoNftables, err)
		}
		return fmt.Errorf("apply nftables table inet %s: %w", table, err)
	}
	return nil
}

// deleteRules removes drover's table; an absent table is not an error.
func deleteRules(table string) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("%w: %v", errNoNftables, err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: table}
	c.AddTable(t)
	c.DelTable(t)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("delete nftables table inet %s: %w", table, err)
	}
	return nil
}

// tableExists reports whether drover's table is present (for tests and diagnostics).
func tableExists(table string) (bool, error) {
	c, err := nftables.New()
	if err != nil {
		return false, fmt.Errorf("%w: %v", errNoNftables, err)
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return false, fmt.Errorf("list nftables tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == table {
			return true, nil
		}
	}
	return false, nil
}

func dnatRule(p rulePort) []expr.Any {
	var match []expr.Any
	if p.HostIP.IsUnspecified() {
		// Any address of this host, loopback included.
		match = []expr.Any{
			matchIPv4()[0], matchIPv4()[1],
			&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
		}
	} else {
		match = cat(matchIPv4(), matchAddr(16, p.HostIP, expr.CmpOpEq))
	}
	target := p.Target.As4()
	return cat(match,
		[]expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p.Proto}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p.HostPort)},
			&expr.Immediate{Register: 1, Data: target[:]},
			&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(p.Port)},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
		})
}

// ifname pads an interface name the way the kernel compares it (16 bytes, NUL padded).
func ifname(n string) []byte {
	b := make([]byte, 16)
	copy(b, n)
	return b
}

func cat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// ctStatusDstNAT is the conntrack status bit IPS_DST_NAT.
const ctStatusDstNAT = 1 << 5

func masq() []expr.Any { return []expr.Any{&expr.Masq{}} }

func verdict(k expr.VerdictKind) []expr.Any { return []expr.Any{&expr.Verdict{Kind: k}} }

func matchIfname(key expr.MetaKey, name string, op expr.CmpOp) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: ifname(name)},
	}
}

func matchIif(n string) []expr.Any    { return matchIfname(expr.MetaKeyIIFNAME, n, expr.CmpOpEq) }
func matchOif(n string) []expr.Any    { return matchIfname(expr.MetaKeyOIFNAME, n, expr.CmpOpEq) }
func matchOifNot(n string) []expr.Any { return matchIfname(expr.MetaKeyOIFNAME, n, expr.CmpOpNeq) }

func lookupIfname(key expr.MetaKey, set *nftables.Set) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID},
	}
}

func matchNfproto(proto byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
	}
}

func matchIPv4() []expr.Any { return matchNfproto(unix.NFPROTO_IPV4) }

// matchAddr compares the IPv4 header field at offset (12 source, 16 destination).
func matchAddr(offset uint32, a netip.Addr, op expr.CmpOp) []expr.Any {
	b := a.As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Cmp{Op: op, Register: 1, Data: b[:]},
	}
}

// matchPrefix matches the IPv4 header field at offset against a prefix.
func matchPrefix(offset uint32, p netip.Prefix, op expr.CmpOp) []expr.Any {
	mask := uintAddr(^uint32(0) << (32 - p.Bits())).As4()
	addr := p.Masked().Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask[:], Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: op, Register: 1, Data: addr[:]},
	}
}

func matchCtBits(key expr.CtKey, bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: key},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
	}
}

func matchCtState(bits uint32) []expr.Any  { return matchCtBits(expr.CtKeySTATE, bits) }
func matchCtStatus(bits uint32) []expr.Any { return matchCtBits(expr.CtKeySTATUS, bits) }
