package network

import (
	"errors"
	"reflect"
	"testing"

	"github.com/drover/drover/internal/errdefs"
)

func TestParsePortSpec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []PortBinding
	}{
		{"80", []PortBinding{{ContainerPort: 80, Proto: "tcp"}}},
		{"8080:80", []PortBinding{{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}}},
		{"127.0.0.1:8080:80/udp", []PortBinding{{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Proto: "udp"}}},
		{"127.0.0.1::80", []PortBinding{{HostIP: "127.0.0.1", ContainerPort: 80, Proto: "tcp"}}},
		{"8000-8001:80-81/TCP", []PortBinding{{HostPort: 8000, ContainerPort: 80, Proto: "tcp"}, {HostPort: 8001, ContainerPort: 81, Proto: "tcp"}}},
		{"90-91", []PortBinding{{ContainerPort: 90, Proto: "tcp"}, {ContainerPort: 91, Proto: "tcp"}}},
	} {
		got, err := ParsePortSpec(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.in, got, tc.want)
		}
	}
	for _, in := range []string{"", "0", "65536", "80/sctp", "a:80", "1.2.3:80:80", "::1:80:80", "8000-8002:80", "90-80", "1-65535", "8080:", "x-y"} {
		if _, err := ParsePortSpec(in); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%q: want invalid argument, got %v", in, err)
		}
	}
}

func FuzzParsePortSpec(f *testing.F) {
	for _, s := range []string{"80", "127.0.0.1:8080:80/udp", "8000-8001:80-81", "::80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		bs, err := ParsePortSpec(s)
		if err != nil {
			return
		}
		if len(bs) == 0 || len(bs) > maxPortsPerSpec {
			t.Fatalf("%q: %d bindings", s, len(bs))
		}
		for _, b := range bs {
			if b.ContainerPort == 0 || (b.Proto != "tcp" && b.Proto != "udp") {
				t.Fatalf("%q: bad binding %+v", s, b)
			}
		}
	})
}
