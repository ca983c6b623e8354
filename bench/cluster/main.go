// Command cluster measures a running drover cluster through its API, as a client would:
//
//	go run ./bench/cluster pods -kubeconfig K -replicas 100   # Deployment to pods Running
//	go run ./bench/cluster api -kubeconfig K -n 500           # write latency, watch lag
//
// bench/cluster.sh makes the clusters and runs both; the figures are read from the
// client's clock (metav1.Time in pod status has one-second resolution).
package main

import (
	"flag"
	"fmt"
	"os"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: cluster pods|api [flags] (-h for the flags)")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "pods":
		err = podsMain(os.Args[2:])
	case "api":
		err = apiMain(os.Args[2:])
	default:
		err = fmt.Errorf("unknown measure %q: use pods or api", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster bench:", err)
		os.Exit(1)
	}
}

// clientFlags are the connection flags every measure takes.
type clientFlags struct {
	kubeconfig, server string
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "the cluster's admin kubeconfig")
	fs.StringVar(&c.server, "server", "", "talk to this server (https://HOST:PORT) instead of the kubeconfig's")
}

// client is a clientset with no client-side rate limit: the limiter would be measured
// instead of the server.
func (c *clientFlags) client() (*kubernetes.Clientset, *rest.Config, error) {
	if c.kubeconfig == "" {
		return nil, nil, fmt.Errorf("no kubeconfig: pass -kubeconfig or set KUBECONFIG")
	}
	cfg, err := clientcmd.BuildConfigFromFlags(c.server, c.kubeconfig)
	if err != nil {
		return nil, nil, fmt.Errorf("read kubeconfig %s: %w", c.kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = -1, 0
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("make a client: %w", err)
	}
	return cs, cfg, nil
}
