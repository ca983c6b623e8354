// Package cni runs a CNI network configuration list for a container's network namespace,
// as a kubelet's runtime does: the first valid configuration in a directory, its plugin
// programs found in a list of directories, ADD when the namespace is made and DEL when it
// goes. libcni (the CNI project's reference implementation) loads the configurations,
// invokes the plugins and caches their results.
//
// What ADD was given is written down before ADD runs, so DEL can be run with exactly the
// same configuration and arguments later: after a failed ADD, after the configuration
// changed, and after a crash of the caller between ADD and recording its outcome.
package cni

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"

	"github.com/drover/drover/internal/atomicfile"
	"github.com/drover/drover/internal/errdefs"
)

// Config says where the configurations, the plugins and the state are.
type Config struct {
	// ConfDir holds the network configurations (*.conflist, *.conf, *.json); the first
	// valid one by file name is used. Empty means none: attachments recorded earlier can
	// still be deleted.
	ConfDir string
	// BinDirs are searched in order for the plugin programs.
	BinDirs []string
	// StateDir keeps a record of each attachment (attachments/) and libcni's cache of
	// results (results/).
	StateDir string
}

// CNI attaches containers to the configured network. It is safe for concurrent use: each
// call reads the configuration directory again, so a configuration added later applies
// to the next attachment.
type CNI struct {
	cfg Config
	lib *libcni.CNIConfig
}

// New checks cfg and makes the state directory.
func New(cfg Config) (*CNI, error) {
	if cfg.StateDir == "" || len(cfg.BinDirs) == 0 {
		return nil, fmt.Errorf("cni: plugin directories and a state directory are needed: %w", errdefs.ErrInvalidArgument)
	}
	if err := os.MkdirAll(filepath.Join(cfg.StateDir, "attachments"), 0o700); err != nil {
		return nil, fmt.Errorf("cni: create state directory: %w", err)
	}
	return &CNI{cfg: cfg, lib: libcni.NewCNIConfigWithCacheDir(cfg.BinDirs, cfg.StateDir, nil)}, nil
}

// ConfDir is the directory the configurations are read from.
func (c *CNI) ConfDir() string { return c.cfg.ConfDir }

// Network is a loaded configuration list.
type Network struct {
	Name string
	// File is the configuration file it came from.
	File string
	list *libcni.NetworkConfigList
}

// Load returns the first valid configuration in the directory, by file name. It returns
// nil and no error when the directory holds no configuration file at all (or does not
// exist), and an error naming every file when there are some but none is valid.
func (c *CNI) Load() (*Network, error) {
	if c.cfg.ConfDir == "" {
		return nil, nil
	}
	files, err := libcni.ConfFiles(c.cfg.ConfDir, []string{".conflist", ".conf", ".json"})
	if err != nil {
		return nil, fmt.Errorf("read CNI configuration directory %s: %w", c.cfg.ConfDir, err)
	}
	sort.Strings(files)
	var bad []string
	for _, f := range files {
		list, err := loadFile(f)
		switch {
		case err != nil:
		case list.Name == "":
			err = errors.New("no network name")
		case len(list.Plugins) == 0:
			err = errors.New("no plugins")
		}
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", f, err))
			continue
		}
		return &Network{Name: list.Name, File: f, list: list}, nil
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("no valid CNI configuration in %s: fix or remove the files: %s: %w", c.cfg.ConfDir, strings.Join(bad, "; "), errdefs.ErrConflict)
	}
	return nil, nil
}

// loadFile reads a configuration list, or a single plugin's configuration (.conf,
// .json) as a list of one.
func loadFile(path string) (*libcni.NetworkConfigList, error) {
	if strings.HasSuffix(path, ".conflist") {
		return libcni.NetworkConfFromFile(path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	conf, err := libcni.NetworkPluginConfFromBytes(data)
	if err != nil {
		return nil, err
	}
	// A single configuration in a .conf file is still what runtimes accept, though the
	// spec now prefers lists.
	return libcni.ConfListFromConf(conf) //nolint:staticcheck
}

// PortMapping is one host port forwarded into the container: the portMappings
// capability the portmap plugin takes.
type PortMapping struct {
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

// Attachment is one container's attachment to the network: what ADD is given.
type Attachment struct {
	// ContainerID is CNI_CONTAINERID; it keys the attachment (one per container).
	ContainerID string `json:"containerId"`
	// NetNS is the path of the network namespace file.
	NetNS string `json:"netns"`
	// IfName is the interface the plugins make in the namespace (eth0).
	IfName string `json:"ifName"`
	// Args are the CNI_ARGS pairs (K8S_POD_NAME and the like).
	Args         [][2]string   `json:"args,omitempty"`
	PortMappings []PortMapping `json:"portMappings,omitempty"`
}

// Result is what ADD configured in the namespace.
type Result struct {
	// IP is the first address on the container's interface (an IPv4 one if there is).
	IP      netip.Prefix
	Gateway netip.Addr
	MAC     string
}

// record is what the state directory keeps of an attachment: the configuration list as
// ADD ran it (plugins from a directory beside a list are not in its bytes, so each
// plugin is kept) and the attachment.
type record struct {
	List       []byte     `json:"list"`
	Plugins    [][]byte   `json:"plugins"`
	Attachment Attachment `json:"attachment"`
}

func (c *CNI) recordPath(containerID string) string {
	return filepath.Join(c.cfg.StateDir, "attachments", containerID+".json")
}

// Add attaches the container to n. The attachment is recorded first; when ADD fails, DEL
// runs at once so nothing is left half-made, and the error says what failed.
func (c *CNI) Add(ctx context.Context, n *Network, a Attachment) (Result, error) {
	if a.ContainerID == "" || strings.ContainsAny(a.ContainerID, "/\x00") || a.ContainerID[0] == '.' {
		return Result{}, fmt.Errorf("cni: invalid container ID %q: %w", a.ContainerID, errdefs.ErrInvalidArgument)
	}
	rec := record{List: n.list.Bytes, Attachment: a}
	for _, p := range n.list.Plugins {
		rec.Plugins = append(rec.Plugins, p.Bytes)
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return Result{}, err
	}
	if err := atomicfile.WriteDurable(c.recordPath(a.ContainerID), data, 0o600); err != nil {
		return Result{}, fmt.Errorf("cni: record attachment of %s: %w", a.ContainerID, err)
	}
	res, err := c.lib.AddNetworkList(ctx, n.list, runtimeConf(a))
	var out Result
	if err == nil {
		out, err = parseResult(res)
	}
	if err != nil {
		err = fmt.Errorf("CNI network %s (%s): add %s: %w", n.Name, n.File, a.ContainerID, err)
		// DEL on a fresh context: the caller's may be what ended ADD.
		if derr := c.Del(context.WithoutCancel(ctx), a.ContainerID); derr != nil {
			err = errors.Join(err, fmt.Errorf("undo: %w", derr))
		}
		return Result{}, err
	}
	return out, nil
}

// Del detaches the container as its recorded ADD attached it, and forgets the record. A
// container with no record is not attached: nothing to do. A failed DEL keeps the record
// so that a later Del can try again.
func (c *CNI) Del(ctx context.Context, containerID string) error {
	data, err := os.ReadFile(c.recordPath(containerID))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cni: read attachment of %s: %w", containerID, err)
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		// Not ours to understand any more: a record that cannot be read cannot be undone.
		_ = os.Remove(c.recordPath(containerID))
		return fmt.Errorf("cni: attachment record of %s is damaged, removed it: %w", containerID, err)
	}
	list, err := libcni.NetworkConfFromBytes(rec.List)
	if err == nil {
		list.Plugins = nil
		for _, b := range rec.Plugins {
			p, perr := libcni.NetworkPluginConfFromBytes(b)
			if perr != nil {
				err = perr
				break
			}
			list.Plugins = append(list.Plugins, p)
		}
	}
	if err != nil {
		_ = os.Remove(c.recordPath(containerID))
		return fmt.Errorf("cni: configuration recorded for %s is unreadable, removed it: %w", containerID, err)
	}
	if err := c.lib.DelNetworkList(ctx, list, runtimeConf(rec.Attachment)); err != nil {
		return fmt.Errorf("CNI network %s: delete %s: %w", list.Name, containerID, err)
	}
	if err := os.Remove(c.recordPath(containerID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cni: forget attachment of %s: %w", containerID, err)
	}
	return nil
}

// Attached lists the container IDs with a recorded attachment.
func (c *CNI) Attached() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(c.cfg.StateDir, "attachments"))
	if err != nil {
		return nil, fmt.Errorf("cni: list attachments: %w", err)
	}
	var out []string
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			out = append(out, id)
		}
	}
	return out, nil
}

func runtimeConf(a Attachment) *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{ContainerID: a.ContainerID, NetNS: a.NetNS, IfName: a.IfName, Args: a.Args,
		CapabilityArgs: map[string]any{}}
	if len(a.PortMappings) > 0 {
		rt.CapabilityArgs["portMappings"] = a.PortMappings
	}
	return rt
}

// parseResult picks the container's address from ADD's result: one on an interface inside
// the namespace (or naming no interface), IPv4 before IPv6.
func parseResult(res types.Result) (Result, error) {
	r, err := types100.NewResultFromResult(res)
	if err != nil {
		return Result{}, fmt.Errorf("read the plugins' result: %w", err)
	}
	var out Result
	for _, ip := range r.IPs {
		var mac string
		if ip.Interface != nil {
			i := *ip.Interface
			if i < 0 || i >= len(r.Interfaces) || r.Interfaces[i].Sandbox == "" {
				continue // an address on the host's side (the bridge)
			}
			mac = r.Interfaces[i].Mac
		}
		addr, ok := netip.AddrFromSlice(ip.Address.IP)
		if !ok {
			continue
		}
		ones, _ := ip.Address.Mask.Size()
		if out.IP.IsValid() && (out.IP.Addr().Is4() || addr.Unmap().Is6()) {
			continue
		}
		out.IP, out.MAC = netip.PrefixFrom(addr.Unmap(), ones), mac
		out.Gateway, _ = netip.AddrFromSlice(ip.Gateway)
		out.Gateway = out.Gateway.Unmap()
	}
	if !out.IP.IsValid() {
		return Result{}, errors.New("the plugins gave the container no IP address: the configuration needs an IPAM plugin (such as host-local)")
	}
	return out, nil
}
