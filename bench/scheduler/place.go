package main

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover/drover/cluster/scheduler"
)

// place schedules and assumes each pod in turn, as the loop does without
// the API round trips.
func place(s *scheduler.Scheduler, pods []*corev1.Pod) (placed, unschedulable int, err error) {
	for _, p := range pods {
		node, err := s.Schedule(p)
		var fe *scheduler.FitError
		switch {
		case errors.As(err, &fe):
			unschedulable++
			continue
		case err != nil:
			return placed, unschedulable, fmt.Errorf("schedule %s: %w", scheduler.PodKey(p), err)
		}
		if err := s.Cache().AssumePod(p, node); err != nil {
			return placed, unschedulable, err
		}
		placed++
	}
	return placed, unschedulable, nil
}
