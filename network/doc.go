// Package network gives containers Docker-style bridge networking: a bridge per network,
// a veth pair per endpoint with one end moved into the container's network namespace,
// IP address management persisted in bbolt, nftables rules for isolation, masquerade and
// published ports, and host port reservations held as bound sockets.
//
// Everything the package creates on the host is named from Config.Prefix, so several
// managers (daemons, tests) can run side by side and Destroy can find and remove all of
// what one made. Host state is re-created from the persisted state at New, so a daemon
// restart or a reboot does not lose networks, endpoints or published ports.
package network
