package controllers

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover/drover/cluster/controllers/internal/ctrltest"
)

// cluster stands in for the scheduler and the node agents: it renews the
// leases of live nodes, binds pending pods to the first schedulable node
// and reports them running and ready.
type cluster struct {
	env  *ctrltest.Env
	dead map[string]bool
	kill chan string
}

func (c *cluster) run(ctx context.Context) {
	for ctx.Err() == nil {
		select {
		case n := <-c.kill:
			c.dead[n] = true
		default:
		}
		nl, _ := c.env.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		var free []string
		for _, n := range nl.Items {
			if c.dead[n.Name] {
				continue
			}
			now := metav1.NewMicroTime(time.Now())
			name := n.Name
			l := &coordv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: corev1.NamespaceNodeLease}, Spec: coordv1.LeaseSpec{HolderIdentity: &name, RenewTime: &now}}
			if _, err := c.env.Client.CoordinationV1().Leases(l.Namespace).Update(ctx, l, metav1.UpdateOptions{}); apierrors.IsNotFound(err) {
				_, _ = c.env.Client.CoordinationV1().Leases(l.Namespace).Create(ctx, l, metav1.CreateOptions{})
			}
			// Like a kubelet, put its own view back if the controller
			// marked it Unknown while this loop was starved.
			if rc := n.Status.Conditions; len(rc) == 0 || rc[0].Status != corev1.ConditionTrue {
				n.Status.Conditions = readyNode(n.Name).Status.Conditions
				_, _ = c.env.Client.CoreV1().Nodes().UpdateStatus(ctx, &n, metav1.UpdateOptions{})
			}
			ok := n.Spec.PodCIDR != ""
			for _, t := range n.Spec.Taints {
				ok = ok && t.Effect != corev1.TaintEffectNoSchedule
			}
			if ok {
				free = append(free, n.Name)
			}
		}
		sort.Strings(free)
		for _, p := range c.env.Pods("default", "") {
			if p.Spec.NodeName == "" && len(free) > 0 {
				p.Spec.NodeName = free[0]
				p.Status.Phase = corev1.PodRunning
				p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
				_, _ = c.env.Client.CoreV1().Pods("default").Update(ctx, &p, metav1.UpdateOptions{})
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readyNode(name string) *corev1.Node {
	now := metav1.Now()
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: now}}}}
}

// TestRunDeploymentSurvivesNodeLoss drives everything Run starts: nodes get
// pod subnets, a Deployment's pods run on n1, n1 dies and its pods are
// replaced on n2; deleting the Deployment removes its ReplicaSet and pods.
func TestRunDeploymentSurvivesNodeLoss(t *testing.T) {
	env := ctrltest.New(t, readyNode("n1"), readyNode("n2"))
	done := make(chan error, 1)
	go func() {
		done <- Run(env.Ctx, env.API, env.Factory, Options{
			NodeMonitorGracePeriod: 2 * time.Second, PodEvictionDelay: 200 * time.Millisecond, NodeMonitorPeriod: 50 * time.Millisecond,
		})
	}()
	cl := &cluster{env: env, dead: map[string]bool{}, kill: make(chan string, 1)}
	go cl.run(env.Ctx)

	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ctrltest.Int32(3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}},
			Strategy:             appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType},
			RevisionHistoryLimit: ctrltest.Int32(10), ProgressDeadlineSeconds: ctrltest.Int32(600),
		},
	}
	if _, err := env.Client.AppsV1().Deployments("default").Create(env.Ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	onNodes := func() map[string]int {
		m := map[string]int{}
		for _, p := range env.Pods("default", "app=web") {
			m[p.Spec.NodeName]++
		}
		return m
	}
	env.Wait("3 web pods on n1", func() (bool, string) { m := onNodes(); return m["n1"] == 3, fmt.Sprint(m) })
	cl.kill <- "n1"
	env.Wait("3 web pods on n2", func() (bool, string) { m := onNodes(); return m["n2"] == 3 && m["n1"] == 0, fmt.Sprint(m) })

	bg := metav1.DeletePropagationBackground
	if err := env.Client.AppsV1().Deployments("default").Delete(env.Ctx, "web", metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
		t.Fatal(err)
	}
	env.Wait("replica set and pods collected", func() (bool, string) {
		rss, _ := env.Client.AppsV1().ReplicaSets("default").List(env.Ctx, metav1.ListOptions{})
		pods := env.Pods("default", "")
		return len(rss.Items) == 0 && len(pods) == 0, fmt.Sprintf("%d replica sets, pods %s", len(rss.Items), ctrltest.Describe(pods))
	})
	env.Cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
