package jsonlog

import (
	"strings"
	"testing"
)

func TestParseLogOpts(t *testing.T) {
	tests := []struct {
		name    string
		in      map[string]string
		want    Options
		wantErr string
	}{
		{name: "empty", in: nil, want: Options{MaxFiles: 1}},
		{name: "size and files", in: map[string]string{"max-size": "10m", "max-file": "3"}, want: Options{MaxSize: 10 << 20, MaxFiles: 3}},
		{name: "kilobytes", in: map[string]string{"max-size": "512k"}, want: Options{MaxSize: 512 << 10, MaxFiles: 1}},
		{name: "plain bytes", in: map[string]string{"max-size": "4096"}, want: Options{MaxSize: 4096, MaxFiles: 1}},
		{name: "unlimited", in: map[string]string{"max-size": "-1"}, want: Options{MaxFiles: 1}},
		{name: "compress false", in: map[string]string{"compress": "false"}, want: Options{MaxFiles: 1}},
		{name: "bad size", in: map[string]string{"max-size": "ten"}, wantErr: "max-size"},
		{name: "zero size", in: map[string]string{"max-size": "0"}, wantErr: "positive size"},
		{name: "negative size", in: map[string]string{"max-size": "-5m"}, wantErr: "positive size"},
		{name: "bad files", in: map[string]string{"max-size": "1m", "max-file": "x"}, wantErr: "max-file"},
		{name: "zero files", in: map[string]string{"max-size": "1m", "max-file": "0"}, wantErr: "at least 1"},
		{name: "files without size", in: map[string]string{"max-file": "3"}, wantErr: "needs max-size"},
		{name: "compress true", in: map[string]string{"compress": "true"}, wantErr: "not supported"},
		{name: "unknown", in: map[string]string{"labels": "a"}, wantErr: `unknown log option "labels"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLogOpts(tt.in)
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
