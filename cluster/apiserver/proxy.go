package apiserver

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// kubeletPaths maps a pod subresource to the node agent's path for it, as
// kubelet serves them.
var kubeletPaths = map[string]string{
	"log":         "containerLogs",
	"exec":        "exec",
	"attach":      "attach",
	"portforward": "portForward",
}

// proxyNode passes pods/log, exec, attach and portforward to the agent of
// the pod's node; connection upgrades (SPDY, websockets) pass through.
func (s *server) proxyNode(w http.ResponseWriter, r *http.Request, req *request) error {
	if s.cfg.NodeProxy == nil {
		return unavailable("no node proxy is configured on this server")
	}
	if req.subresource == "log" && req.verb != "get" {
		return methodNotAllowed(req.gr, req.verb)
	}
	obj, _, err := s.load(r, req)
	if err != nil {
		return err
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return fmt.Errorf("pods are served as %T", obj)
	}
	if pod.Spec.NodeName == "" {
		return badRequest("pod %s does not have a host assigned", pod.Name)
	}
	q := r.URL.Query()
	path := "/" + kubeletPaths[req.subresource] + "/" + url.PathEscape(pod.Namespace) + "/" + url.PathEscape(pod.Name)
	if req.subresource != "portforward" {
		c, err := podContainer(pod, q.Get("container"))
		if err != nil {
			return err
		}
		path += "/" + url.PathEscape(c)
		q.Del("container")
	}
	if req.subresource == "exec" || req.subresource == "attach" {
		q = kubeletStreamQuery(q)
	}
	base, rt, err := s.cfg.NodeProxy(r.Context(), pod.Spec.NodeName)
	if err != nil {
		return unavailable(fmt.Sprintf("reach node %s: %v", pod.Spec.NodeName, err))
	}
	target, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("node %s proxy address %q: %w", pod.Spec.NodeName, base, err)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = target.Scheme, target.Host
			pr.Out.URL.Path = strings.TrimSuffix(target.Path, "/") + path
			pr.Out.URL.RawPath = ""
			pr.Out.URL.RawQuery = q.Encode()
			pr.Out.Host = target.Host
			pr.Out.Header.Del("Authorization")
			pr.Out.Header.Del(HeaderUser)
			pr.Out.Header.Del(HeaderGroup)
		},
		Transport:     rt,
		FlushInterval: -1, // logs follow
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeError(w, r, unavailable(fmt.Sprintf("proxy to node %s: %v", pod.Spec.NodeName, err)))
		},
	}
	proxy.ServeHTTP(w, r)
	return nil
}

// podContainer resolves the container a request names, or the pod's only one.
func podContainer(pod *corev1.Pod, name string) (string, error) {
	var names []string
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.InitContainers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		names = append(names, c.Name)
	}
	if name == "" {
		if len(pod.Spec.Containers) == 1 {
			return pod.Spec.Containers[0].Name, nil
		}
		return "", badRequest("a container name must be specified for pod %s, choose one of: %v", pod.Name, names)
	}
	for _, n := range names {
		if n == name {
			return name, nil
		}
	}
	return "", badRequest("container %s is not valid for pod %s", name, pod.Name)
}

// kubeletStreamQuery rewrites exec and attach options into the query
// kubelet's streaming server reads (input, output, error, tty = "1"), as
// kube-apiserver does.
func kubeletStreamQuery(q url.Values) url.Values {
	out := url.Values{}
	for _, c := range q["command"] {
		out.Add("command", c)
	}
	for from, to := range map[string]string{"stdin": "input", "stdout": "output", "stderr": "error", "tty": "tty"} {
		if v := q.Get(from); v == "true" || v == "1" {
			out.Set(to, "1")
		}
	}
	return out
}
