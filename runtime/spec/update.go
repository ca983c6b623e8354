package spec

import specs "github.com/opencontainers/runtime-spec/specs-go"

// UpdateResources is what a running container's cgroups get when its limits change to
// r: the limits Generate would write for r, checked the same way, without the device
// rules (those never change). Limits r leaves at zero are not in it, so they stay.
func UpdateResources(r Resources) (*specs.LinuxResources, error) {
	h, err := probeHost()
	if err != nil {
		return nil, err
	}
	lr, err := linuxResources(r, false, h)
	if err != nil {
		return nil, err
	}
	lr.Devices = nil
	return lr, nil
}
