package network

import "time"

// DriverBridge is the only driver: a Linux bridge with veth endpoints.
const DriverBridge = "bridge"

// DefaultNetwork is the name of the network every manager creates and keeps.
const DefaultNetwork = "bridge"

// CreateOptions describe a user network.
type CreateOptions struct {
	// Name is the user-visible name; letters, digits, '_', '.', '-', starting with a
	// letter or digit.
	Name string
	// Subnet is an IPv4 CIDR; empty picks a free one from Config.UserPools.
	Subnet string
	// Gateway is the bridge's address; empty picks the first host address of Subnet.
	Gateway string
	// Internal networks get no masquerade, no default route and no traffic beyond the
	// bridge.
	Internal bool
	// NonMasquerade are IPv4 CIDRs that traffic from the network reaches with its own
	// source address (the cluster's pod range, routed between machines); everything
	// else that leaves the network is masqueraded.
	NonMasquerade []string
	// Labels are kept as given.
	Labels map[string]string
}

// Network is one bridge network and its endpoints.
type Network struct {
	ID            string
	Name          string
	Driver        string
	Subnet        string
	Gateway       string
	Bridge        string
	Internal      bool
	NonMasquerade []string
	Labels        map[string]string
	Created       time.Time
	Endpoints     []Endpoint
}

// AttachOptions describe one container endpoint on one network.
type AttachOptions struct {
	ContainerID string
	// Network is a network name, ID or unique ID prefix.
	Network string
	// IP is an explicit address inside the subnet; empty allocates the next free one.
	IP string
	// MAC is an explicit address; empty derives 02:42:<ip> as Docker does.
	MAC string
	// Aliases are extra DNS names of the container on this network (kept for DNS).
	Aliases []string
	// IfName is the interface name inside the namespace; empty picks eth0, eth1, ...
	IfName string
}

// Endpoint is a container's attachment to a network.
type Endpoint struct {
	ContainerID string
	Network     string
	NetworkID   string
	IfName      string
	HostIf      string
	IP          string
	MAC         string
	Gateway     string
	PrefixLen   int
	Aliases     []string
	// NetnsPath is the namespace file the endpoint lives in.
	NetnsPath string
	// DefaultRoute tells whether this endpoint carries the container's default route.
	DefaultRoute bool
}

// PortBinding maps a host port to a container port.
type PortBinding struct {
	// HostIP is an IPv4 address of the host; empty means 0.0.0.0 (all addresses).
	HostIP string
	// HostPort 0 asks Publish to pick a free port.
	HostPort      uint16
	ContainerPort uint16
	// Proto is "tcp" (default) or "udp".
	Proto string
}
