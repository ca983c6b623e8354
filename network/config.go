package network

import (
	"fmt"
	"path/filepath"
	"regexp"

	"github.com/drover/drover/internal/errdefs"
)

// Config configures a Manager.
type Config struct {
	// StateFile is the bbolt file holding networks, endpoints and published ports.
	StateFile string
	// NetnsDir is where namespace files are bind-mounted (e.g. /run/drover/netns); a
	// container's namespace lives at NetnsDir/<containerID> (see Manager.NamespacePath).
	// Subdirectories are not the manager's: the daemon keeps a pod's IPC and UTS
	// namespace files there, under the same shared mount.
	NetnsDir string
	// Prefix names every host object the manager creates (bridges, veths, nft tables);
	// default "drover". It must be 4 to 12 lowercase letters or digits starting with a letter.
	Prefix string
	// DefaultSubnet is the subnet of the default network; empty picks the first free
	// one of 172.17.0.0/16 ... 172.31.0.0/16, then 192.168.X.0/24.
	DefaultSubnet string
	// UserPools are where user networks without --subnet get their subnet. Each entry is
	// either a CIDR (one candidate) or "CIDR@bits" (the CIDR split into /bits blocks, e.g.
	// "10.10.0.0/16@24"). Empty uses the DefaultSubnet candidates.
	UserPools []string
	// Firewall is "nftables", "iptables" or "" to use nftables where the kernel has it and
	// iptables (iptables-legacy preferred) where it does not.
	Firewall string
	// Logf receives warnings the manager can recover from (e.g. a port it could not
	// re-reserve at start). Nil discards them.
	Logf func(format string, args ...any)
}

var prefixRe = regexp.MustCompile(`^[a-z][a-z0-9]{3,11}$`)

// withDefaults validates cfg and fills in defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Prefix == "" {
		c.Prefix = "drover"
	}
	if !prefixRe.MatchString(c.Prefix) {
		return c, fmt.Errorf("network prefix %q: want 4 to 12 lowercase letters or digits starting with a letter: %w", c.Prefix, errdefs.ErrInvalidArgument)
	}
	if c.StateFile == "" {
		return c, fmt.Errorf("network config: StateFile is required: %w", errdefs.ErrInvalidArgument)
	}
	if c.NetnsDir == "" {
		c.NetnsDir = filepath.Join("/run", c.Prefix, "netns")
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return c, nil
}

// defaultBridge is the bridge name of the default network.
func (c Config) defaultBridge() string { return c.Prefix + "0" }

// userBridge is the bridge name of a user network.
func (c Config) userBridge(id string) string { return c.Prefix[:4] + "-" + id[:8] }

// tableName is the name of the nftables table (family inet).
func (c Config) tableName() string { return c.Prefix }

// vethPrefix starts every host-side veth name.
func (c Config) vethPrefix() string { return c.Prefix[:3] }
