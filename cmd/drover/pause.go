package main

import (
	"os"
	"os/signal"
	"syscall"
)

// pauseName is the name drover runs under as the infra process of a pod: it only holds
// the pod's namespaces open, so it sleeps until told to stop.
const pauseName = "pause"

func runPause() int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	<-sigs
	return 0
}
