package cri

import (
	"reflect"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/drover/drover/api"
)

func TestLogConfig(t *testing.T) {
	withDir := api.Pod{Labels: map[string]string{labelLogDirectory: "/var/log/pods/ns_app_uid"}}
	tests := []struct {
		name    string
		pod     api.Pod
		logPath string
		want    api.LogConfig
		code    codes.Code
	}{
		{name: "kubelet's path", pod: withDir, logPath: "web/0.log",
			want: api.LogConfig{Type: "k8s-file", Config: map[string]string{"path": "/var/log/pods/ns_app_uid/web/0.log"}}},
		{name: "no log_path: drover's own log", pod: withDir, want: api.LogConfig{}},
		{name: "no log_directory", pod: api.Pod{}, logPath: "web/0.log", code: codes.InvalidArgument},
		{name: "escapes the directory", pod: withDir, logPath: "../other/0.log", code: codes.InvalidArgument},
		{name: "absolute", pod: withDir, logPath: "/etc/passwd", code: codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := logConfig(tt.pod, &runtimeapi.ContainerConfig{LogPath: tt.logPath})
			if status.Code(err) != tt.code {
				t.Fatalf("err = %v, want code %v", err, tt.code)
			}
			if err == nil && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	labels := map[string]string{}
	if err := keepLogDirectory(labels, &runtimeapi.PodSandboxConfig{LogDirectory: "relative/dir"}); status.Code(err) != codes.InvalidArgument || len(labels) != 0 {
		t.Fatalf("relative log_directory: %v %v", err, labels)
	}
}
