package daemon

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"

	"github.com/drover/drover/network"
	"github.com/drover/drover/network/dns"
)

// dnsServer is the embedded DNS of the user networks: one listener on each network's
// gateway address, answering the names of the containers on that network and forwarding
// the rest to the host's resolvers.
type dnsServer struct {
	srv *dns.Server
	mu  sync.Mutex
	on  map[string]netip.Addr // network ID -> address it answers on
}

// dnsPort is where containers expect a resolver; tests of the DNS package use others.
const dnsPort = 53

func (d *Daemon) startDNS() error {
	srv, err := dns.New(dns.Config{
		Resolver:   dnsResolver{d},
		ResolvConf: d.cfg.ResolvConf,
		Logf:       func(format string, args ...any) { d.log.Warn(fmt.Sprintf(format, args...)) },
	})
	if err != nil {
		return fmt.Errorf("embedded DNS: %w", err)
	}
	d.dns = &dnsServer{srv: srv, on: map[string]netip.Addr{}}
	nets, err := d.net.List()
	if err != nil {
		return err
	}
	for _, n := range nets {
		d.listenDNS(n)
	}
	return nil
}

// listenDNS serves DNS on a user network's gateway. When the port is taken the network's
// containers fall back to the host's resolvers, with a warning.
func (d *Daemon) listenDNS(n network.Network) {
	if n.Name == network.DefaultNetwork {
		return // as Docker: the default network has no name resolution
	}
	gw, err := netip.ParseAddr(n.Gateway)
	if err != nil {
		return
	}
	if _, err := d.dns.srv.Listen(n.ID, netip.AddrPortFrom(gw, dnsPort)); err != nil {
		d.log.Warn("embedded DNS unavailable on network: containers use the host's resolvers", "network", n.Name, "err", err)
		return
	}
	d.dns.mu.Lock()
	d.dns.on[n.ID] = gw
	d.dns.mu.Unlock()
}

func (d *Daemon) unlistenDNS(netID string) {
	d.dns.mu.Lock()
	delete(d.dns.on, netID)
	d.dns.mu.Unlock()
	_ = d.dns.srv.Unlisten(netID)
}

// dnsAddr is the embedded DNS address of a network, if it has one.
func (d *Daemon) dnsAddr(netID string) (netip.Addr, bool) {
	if d.dns == nil {
		return netip.Addr{}, false
	}
	d.dns.mu.Lock()
	defer d.dns.mu.Unlock()
	a, ok := d.dns.on[netID]
	return a, ok
}

func (s *dnsServer) close() { _ = s.srv.Close() }

// dnsResolver answers from the running containers' endpoints.
type dnsResolver struct{ d *Daemon }

// Lookup matches a container's name, its aliases and its short ID, on every network the
// asking container is on (as Docker: connect a container to two networks and it sees the
// names of both).
func (r dnsResolver) Lookup(netID string, client netip.Addr, name string) []netip.Addr {
	var out []netip.Addr
	for _, ep := range r.visible(netID, client) {
		for _, n := range ep.names {
			if strings.EqualFold(n, name) {
				out = append(out, ep.ip)
				break
			}
		}
	}
	return out
}

func (r dnsResolver) Reverse(netID string, client, addr netip.Addr) []string {
	for _, ep := range r.visible(netID, client) {
		if ep.ip == addr {
			return ep.names
		}
	}
	return nil
}

// Upstreams are the --dns servers of the container at client on netID, if it has some:
// its queries for other names go there, as Docker's embedded DNS does.
func (r dnsResolver) Upstreams(netID string, client netip.Addr) []netip.AddrPort {
	r.d.mu.Lock()
	list := make([]*container, 0, len(r.d.containers))
	for _, c := range r.d.containers {
		list = append(list, c)
	}
	r.d.mu.Unlock()
	for _, c := range list {
		c.mu.Lock()
		servers := c.rec.Config.Host.DNS
		match := false
		for _, ep := range c.rec.NetworkSettings.Networks {
			if ep.NetworkID == netID && ep.IPAddress == client.String() {
				match = true
			}
		}
		c.mu.Unlock()
		if !match {
			continue
		}
		var out []netip.AddrPort
		for _, s := range servers {
			if a, err := netip.ParseAddr(s); err == nil {
				out = append(out, netip.AddrPortFrom(a, 53))
			}
		}
		return out
	}
	return nil
}

type dnsEntry struct {
	netID string
	ip    netip.Addr
	names []string
}

// visible returns the endpoints on the networks of the container at client on netID (on
// netID alone when no container has that address there).
func (r dnsResolver) visible(netID string, client netip.Addr) []dnsEntry {
	all := r.entries()
	nets := map[string]bool{netID: true}
	for _, owner := range all {
		if owner.netID == netID && owner.ip == client {
			for _, e := range all {
				if e.names[1] == owner.names[1] { // same container (short ID)
					nets[e.netID] = true
				}
			}
			break
		}
	}
	var out []dnsEntry
	for _, e := range all {
		if nets[e.netID] {
			out = append(out, e)
		}
	}
	return out
}

// entries lists every live endpoint with its names: container name, short ID, aliases.
func (r dnsResolver) entries() []dnsEntry {
	r.d.mu.Lock()
	list := make([]*container, 0, len(r.d.containers))
	for _, c := range r.d.containers {
		list = append(list, c)
	}
	r.d.mu.Unlock()
	var out []dnsEntry
	for _, c := range list {
		c.mu.Lock()
		for _, ep := range c.rec.NetworkSettings.Networks {
			if ip, err := netip.ParseAddr(ep.IPAddress); err == nil {
				names := append([]string{c.rec.Name, c.rec.ID[:12]}, ep.Aliases...)
				out = append(out, dnsEntry{netID: ep.NetworkID, ip: ip, names: names})
			}
		}
		c.mu.Unlock()
	}
	return out
}

func parseResolvConf(data []byte) ([]netip.Addr, []string, []string) {
	return dns.ParseResolvConf(data)
}

// systemdResolvConf lists the real upstreams on hosts where /etc/resolv.conf names only
// systemd-resolved's stub on 127.0.0.53, which containers cannot reach.
const systemdResolvConf = "/run/systemd/resolve/resolv.conf"

// hostResolvConf picks the file containers inherit: path, unless it names loopback
// servers only and systemd-resolved's own list exists (as Docker does).
func hostResolvConf(path string) string {
	if path != "/etc/resolv.conf" {
		return path
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return path
	}
	if ns, _, _ := dns.ParseResolvConf(data); len(ns) > 0 {
		return path // ParseResolvConf drops loopback servers: some are reachable
	}
	if _, err := os.Stat(systemdResolvConf); err == nil {
		return systemdResolvConf
	}
	return path
}
