package daemon

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/network"
	"github.com/drover/drover/network/cni"
	"github.com/drover/drover/runtime/spec"
)

// DefaultCNIBinDirs are searched for CNI plugins unless told otherwise: Debian's
// containernetworking-plugins, then the upstream release's usual place.
var DefaultCNIBinDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// cniTimeout bounds one ADD or DEL of a configuration list (the kubelet waits two minutes
// for a whole sandbox).
const cniTimeout = time.Minute

// openCNI opens the CNI state in ROOT/cni; it is there even without a configuration
// directory, so attachments of an earlier run can still be deleted.
func openCNI(cfg Config) (*cni.CNI, error) {
	bins := cfg.CNIBinDirs
	if len(bins) == 0 {
		bins = DefaultCNIBinDirs
	}
	return cni.New(cni.Config{ConfDir: cfg.CNIConfDir, BinDirs: bins, StateDir: filepath.Join(cfg.Root, "cni")})
}

// CNINetwork names the CNI network new CRI sandboxes join: "" when there is no CNI
// configuration (drover's own bridge network), an error when there is one but none is
// usable.
func (d *Daemon) CNINetwork(ctx context.Context) (string, error) {
	n, err := d.cni.Load()
	if err != nil || n == nil {
		return "", err
	}
	return n.Name, nil
}

// cniContainerID is the CNI_CONTAINERID of a container: the pod's ID for a pod's infra
// container (the CRI's sandbox ID, as the CRI's runtimes use), else its own.
func cniContainerID(rec *record) string {
	if pod := rec.Config.Labels["io.drover.pod"]; rec.Infra && pod != "" {
		return pod
	}
	return rec.ID
}

// cniArgs are the CNI_ARGS of a container: the ones it was created with, plus the
// infra container ID of a pod; IgnoreUnknown lets plugins that know none of them run.
func cniArgs(rec *record) [][2]string {
	args := [][2]string{{"IgnoreUnknown", "1"}}
	keys := make([]string, 0, len(rec.Config.Host.CNIArgs))
	for k := range rec.Config.Host.CNIArgs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, [2]string{k, rec.Config.Host.CNIArgs[k]})
	}
	if rec.Infra {
		args = append(args, [2]string{"K8S_POD_INFRA_CONTAINER_ID", cniContainerID(rec)})
	}
	return args
}

// validateCNI checks a container on the cni network mode: the CNI configuration is
// there, and its ports name their host ports (the portmap plugin picks none).
func (d *Daemon) validateCNI(cfg *api.ContainerConfig) error {
	h := &cfg.Host
	if ec := cfg.Networks[h.NetworkMode]; ec.IPAddress != "" || len(ec.Aliases) > 0 || ec.MacAddress != "" {
		return fmt.Errorf("--ip, --network-alias and --mac-address do not apply to the cni network mode: the CNI configuration decides: %w", errdefs.ErrInvalidArgument)
	}
	if h.PublishAllPorts {
		return fmt.Errorf("-P does not apply to the cni network mode: publish each port with its host port: %w", errdefs.ErrInvalidArgument)
	}
	for _, b := range h.PortBindings {
		if b.HostPort == 0 {
			return fmt.Errorf("published port %d needs a host port on the cni network mode: %w", b.ContainerPort, errdefs.ErrInvalidArgument)
		}
	}
	n, err := d.cni.Load()
	if err != nil {
		return err
	}
	if n == nil {
		return fmt.Errorf("the cni network mode needs a CNI configuration, and %s: add one, or use another network: %w", d.noCNIConf(), errdefs.ErrInvalidArgument)
	}
	return nil
}

// noCNIConf says why there is no CNI configuration.
func (d *Daemon) noCNIConf() string {
	if d.cfg.CNIConfDir == "" {
		return `the daemon runs with CNI turned off (--cni-conf-dir "")`
	}
	return d.cfg.CNIConfDir + " has none"
}

// setupCNI makes the network namespace of a run on the cni network mode and has the CNI
// configuration set it up, published ports going to the portmap plugin. The infra
// container of a pod joins the namespace file, so /proc/<its pid>/ns/net is the pod's
// network for its members, as on drover's own networks. On failure nothing is left;
// releaseRun undoes it.
func (d *Daemon) setupCNI(c *container) (p netPlan, retErr error) {
	c.mu.Lock()
	rec := *c.rec
	c.mu.Unlock()
	cfg := rec.Config
	n, err := d.cni.Load()
	if err != nil {
		return p, err
	}
	if n == nil {
		return p, fmt.Errorf("network mode cni needs a CNI configuration, and %s: add one, or recreate the pod on another network: %w", d.noCNIConf(), errdefs.ErrConflict)
	}
	nsPath := d.net.NamespacePath(rec.ID)
	if err := network.NewNamespace(nsPath); err != nil {
		return p, fmt.Errorf("create network namespace: %w", err)
	}
	defer func() {
		if retErr != nil {
			_ = d.net.Release(rec.ID)
		}
	}()
	att := cni.Attachment{ContainerID: cniContainerID(&rec), NetNS: nsPath, IfName: "eth0", Args: cniArgs(&rec)}
	for _, b := range cfg.Host.PortBindings {
		proto := b.Proto
		if proto == "" {
			proto = "tcp"
		}
		att.PortMappings = append(att.PortMappings, cni.PortMapping{HostPort: int(b.HostPort), ContainerPort: int(b.ContainerPort), Protocol: proto, HostIP: b.HostIP})
	}
	ctx, cancel := context.WithTimeout(context.Background(), cniTimeout)
	defer cancel()
	res, err := d.cni.Add(ctx, n, att)
	if err != nil {
		return p, err
	}
	defer func() {
		if retErr != nil {
			d.releaseCNI(&rec)
		}
	}()
	ip := res.IP.Addr().String()
	p.mode = spec.NetworkMode(nsPath)
	p.settings = api.NetworkSettings{SandboxKey: nsPath, IPAddress: ip, Ports: cfg.Host.PortBindings}
	if res.Gateway.IsValid() {
		p.settings.Gateway = res.Gateway.String()
	}
	if err := writeNetFiles(rec.Bundle, hostsFile(cfg, ip), d.resolvConf(cfg, nil), cfg.Hostname); err != nil {
		return p, err
	}
	p.mounts = netFileMounts(rec.Bundle)
	return p, nil
}

// releaseCNI deletes the CNI attachment of a run, if it has one. It runs before the
// namespace file goes, so the plugins still find the interface to remove.
func (d *Daemon) releaseCNI(rec *record) {
	if rec.ID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cniTimeout)
	defer cancel()
	if err := d.cni.Del(ctx, cniContainerID(rec)); err != nil {
		d.log.Warn("delete CNI attachment", "container", rec.ID, "err", err)
	}
}

// sweepCNI deletes the attachments of containers drover no longer knows (a crash between
// ADD and the container's record): known holds every CNI container ID in use.
func (d *Daemon) sweepCNI(known map[string]bool) {
	ids, err := d.cni.Attached()
	if err != nil {
		d.log.Warn("list CNI attachments", "err", err)
		return
	}
	for _, id := range ids {
		if known[id] {
			continue
		}
		d.log.Info("deleting CNI attachment of unknown container", "container", id)
		d.releaseCNI(&record{Container: api.Container{ID: id}})
	}
}
