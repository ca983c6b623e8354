package jsonlog

import (
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	json := func(o Options) Config { o.Format = FormatJSON; return Config{Options: o} }
	tests := []struct {
		name    string
		driver  string
		in      map[string]string
		want    Config
		wantErr string
	}{
		{name: "empty", in: nil, want: json(Options{MaxFiles: 1})},
		{name: "json-file named", driver: "json-file", in: nil, want: json(Options{MaxFiles: 1})},
		{name: "size and files", in: map[string]string{"max-size": "10m", "max-file": "3"}, want: json(Options{MaxSize: 10 << 20, MaxFiles: 3})},
		{name: "kilobytes", in: map[string]string{"max-size": "512k"}, want: json(Options{MaxSize: 512 << 10, MaxFiles: 1})},
		{name: "plain bytes", in: map[string]string{"max-size": "4096"}, want: json(Options{MaxSize: 4096, MaxFiles: 1})},
		{name: "unlimited", in: map[string]string{"max-size": "-1"}, want: json(Options{MaxFiles: 1})},
		{name: "compress false", in: map[string]string{"compress": "false"}, want: json(Options{MaxFiles: 1})},
		{name: "bad size", in: map[string]string{"max-size": "ten"}, wantErr: "max-size"},
		{name: "zero size", in: map[string]string{"max-size": "0"}, wantErr: "positive size"},
		{name: "negative size", in: map[string]string{"max-size": "-5m"}, wantErr: "positive size"},
		{name: "bad files", in: map[string]string{"max-size": "1m", "max-file": "x"}, wantErr: "max-file"},
		{name: "zero files", in: map[string]string{"max-size": "1m", "max-file": "0"}, wantErr: "at least 1"},
		{name: "files without size", in: map[string]string{"max-file": "3"}, wantErr: "needs max-size"},
		{name: "compress true", in: map[string]string{"compress": "true"}, wantErr: "not supported"},
		{name: "unknown", in: map[string]string{"labels": "a"}, wantErr: `unknown log option "labels": the json-file driver`},
		{name: "path is k8s-file's", in: map[string]string{"path": "/x/y.log"}, wantErr: `unknown log option "path"`},
		{name: "k8s-file", driver: "k8s-file", in: nil, want: Config{Options: Options{Format: FormatCRI, MaxFiles: 1}}},
		{name: "k8s-file path", driver: "k8s-file", in: map[string]string{"path": "/var/log/pods/p//c/0.log", "max-size": "1m"},
			want: Config{Options: Options{Format: FormatCRI, MaxSize: 1 << 20, MaxFiles: 1}, Path: "/var/log/pods/p/c/0.log"}},
		{name: "k8s-file relative path", driver: "k8s-file", in: map[string]string{"path": "c/0.log"}, wantErr: "absolute path"},
		{name: "k8s-file directory", driver: "k8s-file", in: map[string]string{"path": "/var/log/"}, wantErr: "absolute path of the log file"},
		{name: "k8s-file unknown", driver: "k8s-file", in: map[string]string{"tag": "x"}, wantErr: "the k8s-file driver takes path"},
		{name: "unknown driver", driver: "syslog", wantErr: `log driver "syslog" is not supported: use json-file or k8s-file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig(tt.driver, tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
