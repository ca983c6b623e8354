package nodeipam

import (
	"fmt"
	"math/big"
	"net"
)

// cidrSet hands out the subnets of one size inside a cluster CIDR (IPv4 or
// IPv6), lowest free first.
type cidrSet struct {
	base     *big.Int
	baseLen  int // bits in an address
	subBits  int // subnet prefix length
	count    int
	used     map[int]bool
	clusterN *net.IPNet
}

func newCIDRSet(cluster string, maskSize int) (*cidrSet, error) {
	_, n, err := net.ParseCIDR(cluster)
	if err != nil {
		return nil, fmt.Errorf("cluster CIDR %q: %w", cluster, err)
	}
	ones, bits := n.Mask.Size()
	if maskSize < ones || maskSize > bits {
		return nil, fmt.Errorf("node CIDR size /%d does not fit in cluster CIDR %s: use a size between /%d and /%d", maskSize, cluster, ones, bits)
	}
	if maskSize-ones > 20 {
		return nil, fmt.Errorf("cluster CIDR %s holds too many /%d subnets: use a larger node CIDR size", cluster, maskSize)
	}
	ip := n.IP.To4()
	if ip == nil {
		ip = n.IP.To16()
	}
	return &cidrSet{
		base: new(big.Int).SetBytes(ip), baseLen: bits, subBits: maskSize,
		count: 1 << (maskSize - ones), used: map[int]bool{}, clusterN: n,
	}, nil
}

func (s *cidrSet) subnet(i int) string {
	off := new(big.Int).Lsh(big.NewInt(int64(i)), uint(s.baseLen-s.subBits))
	v := new(big.Int).Add(s.base, off).Bytes()
	ip := make(net.IP, s.baseLen/8)
	copy(ip[len(ip)-len(v):], v)
	return fmt.Sprintf("%s/%d", ip, s.subBits)
}

// index is the slot of a subnet, false when it is not one of this set's.
func (s *cidrSet) index(cidr string) (int, bool) {
	ip, n, err := net.ParseCIDR(cidr)
	if err != nil {
		return 0, false
	}
	if ones, _ := n.Mask.Size(); ones != s.subBits || !s.clusterN.Contains(ip) {
		return 0, false
	}
	b := ip.To4()
	if s.baseLen == 128 || b == nil {
		b = ip.To16()
	}
	off := new(big.Int).Sub(new(big.Int).SetBytes(b), s.base)
	off.Rsh(off, uint(s.baseLen-s.subBits))
	return int(off.Int64()), true
}

// occupy marks a subnet taken; false if it is not in the set.
func (s *cidrSet) occupy(cidr string) bool {
	i, ok := s.index(cidr)
	if ok {
		s.used[i] = true
	}
	return ok
}

func (s *cidrSet) release(cidr string) {
	if i, ok := s.index(cidr); ok {
		delete(s.used, i)
	}
}

func (s *cidrSet) allocate() (string, error) {
	for i := 0; i < s.count; i++ {
		if !s.used[i] {
			s.used[i] = true
			return s.subnet(i), nil
		}
	}
	return "", fmt.Errorf("no free /%d left in cluster CIDR %s: use a larger cluster CIDR", s.subBits, s.clusterN)
}
