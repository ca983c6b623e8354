package image

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/drover/drover/internal/errdefs"
)

func TestParseChange(t *testing.T) {
	tests := []struct {
		change string
		start  ImportOptions
		want   ImportOptions
	}{
		{`CMD ["sh", "-c", "echo hi"]`, ImportOptions{}, ImportOptions{Cmd: []string{"sh", "-c", "echo hi"}}},
		{`cmd echo hi`, ImportOptions{}, ImportOptions{Cmd: []string{"/bin/sh", "-c", "echo hi"}}},
		{`CMD [not json`, ImportOptions{}, ImportOptions{Cmd: []string{"/bin/sh", "-c", "[not json"}}},
		{`ENTRYPOINT ["/init"]`, ImportOptions{}, ImportOptions{Entrypoint: []string{"/init"}}},
		{`ENV A=1 B="two words" C='x y' D=a\ b`, ImportOptions{Env: []string{"A=0", "Z=9"}}, ImportOptions{Env: []string{"A=1", "Z=9", "B=two words", "C=x y", "D=a b"}}},
		{`ENV LEGACY value with spaces`, ImportOptions{}, ImportOptions{Env: []string{"LEGACY=value with spaces"}}},
		{`LABEL a=b "c d"=e`, ImportOptions{Labels: map[string]string{"a": "old"}}, ImportOptions{Labels: map[string]string{"a": "b", "c d": "e"}}},
		{`WORKDIR /app`, ImportOptions{}, ImportOptions{WorkingDir: "/app"}},
		{`WORKDIR sub`, ImportOptions{WorkingDir: "/app"}, ImportOptions{WorkingDir: "/app/sub"}},
		{`USER 1000:1000`, ImportOptions{}, ImportOptions{User: "1000:1000"}},
		{`STOPSIGNAL SIGINT`, ImportOptions{}, ImportOptions{StopSignal: "SIGINT"}},
		{`EXPOSE 80 53/udp 8000-8001`, ImportOptions{}, ImportOptions{ExposedPorts: map[string]struct{}{"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}}}},
		{`VOLUME /data /var/lib/x/`, ImportOptions{}, ImportOptions{Volumes: map[string]struct{}{"/data": {}, "/var/lib/x": {}}}},
		{`VOLUME ["/a b"]`, ImportOptions{}, ImportOptions{Volumes: map[string]struct{}{"/a b": {}}}},
	}
	for _, tt := range tests {
		t.Run(tt.change, func(t *testing.T) {
			c, err := ParseChange(tt.change)
			if err != nil {
				t.Fatal(err)
			}
			got := tt.start
			c.Apply(&got)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseChangeRefuses(t *testing.T) {
	tests := []struct{ change, why string }{
		{"RUN rm -rf /", "supported instructions"},
		{"", "supported instructions"},
		{"ENV", "KEY=VALUE"},
		{"ENV =x", "not KEY=VALUE"},
		{`ENV A="unterminated`, "unterminated"},
		{"WORKDIR", "needs a directory"},
		{"USER a b", "one user"},
		{"STOPSIGNAL", "signal"},
		{"EXPOSE 0", "1-65535"},
		{"EXPOSE 80/icmp", "tcp, udp or sctp"},
		{"EXPOSE 1-65535", "too many"},
		{"EXPOSE", "needs a port"},
		{"VOLUME", "at least one path"},
		{"VOLUME data", "absolute"},
		{"VOLUME /", "absolute and not /"},
		{`VOLUME ["/x"`, "JSON array"},
		{"CMD " + strings.Repeat("x", maxChangeLen), "64 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.change, func(t *testing.T) {
			_, err := ParseChange(tt.change)
			if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), tt.why) {
				t.Fatalf("want ErrInvalidArgument mentioning %q, got %v", tt.why, err)
			}
		})
	}
}

func FuzzParseChange(f *testing.F) {
	for _, s := range []string{`CMD ["a"]`, `ENV A="b c" D='e'`, `EXPOSE 1-3/udp`, `LABEL a\ b=c`, `WORKDIR x`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseChange(s)
		if err != nil {
			return
		}
		var o ImportOptions
		c.Apply(&o)
		if len(o.ExposedPorts) > 5000 {
			t.Fatalf("%d ports from one change", len(o.ExposedPorts))
		}
	})
}
