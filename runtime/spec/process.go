package spec

import specs "github.com/opencontainers/runtime-spec/specs-go"

// ResolveUser resolves a user spec ("uid[:gid]", "name[:group]") inside rootfs for a
// process started later in the container (exec).
func ResolveUser(rootfs, user string) (specs.User, error) {
	ru, err := resolveUser(rootfs, user)
	if err != nil {
		return specs.User{}, err
	}
	return specs.User{UID: ru.UID, GID: ru.GID, AdditionalGids: ru.AdditionalGIDs}, nil
}

// AllCapabilities lists every capability the host lets drover grant (exec --privileged).
func AllCapabilities() ([]string, error) {
	h, err := realHost()
	if err != nil {
		return nil, err
	}
	return capabilities(Options{Privileged: true}, h)
}
