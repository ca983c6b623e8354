package job

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/drover/drover/cluster/controllers/internal/ctrlutil"
	"github.com/drover/drover/cluster/controllers/replicaset"
)

// Condition reasons and messages as Kubernetes sets them.
const (
	reasonBackoff     = "BackoffLimitExceeded"
	reasonDeadline    = "DeadlineExceeded"
	reasonCompletions = "CompletionsReached"
)

// selector is the Job's selector, or the controller-uid one when the API
// server did not default it.
func selector(j *batchv1.Job) (labels.Selector, error) {
	if j.Spec.Selector != nil {
		return metav1.LabelSelectorAsSelector(j.Spec.Selector)
	}
	return labels.SelectorFromSet(labels.Set{ControllerUIDLabel: string(j.UID)}), nil
}

func finished(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func condition(j *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		if j.Status.Conditions[i].Type == t && j.Status.Conditions[i].Status == corev1.ConditionTrue {
			return &j.Status.Conditions[i]
		}
	}
	return nil
}

func addCondition(st *batchv1.JobStatus, t batchv1.JobConditionType, reason, msg string, now time.Time) {
	for _, c := range st.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return
		}
	}
	st.Conditions = append(st.Conditions, batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: msg,
		LastProbeTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now)})
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.jobs.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.Forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	if c.statusBehind(key, cached) {
		// Its update event requeues the Job; the timer covers a write
		// that never shows.
		c.loop.EnqueueAfter(cached, 10*time.Second)
		return nil
	}
	j := cached.DeepCopy()
	now := c.now()
	sel, err := selector(j)
	if err != nil {
		return nil
	}
	all, err := c.pods.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	cl := &ctrlutil.Claimer{Client: c.client, Owner: j, GVK: gvk, Selector: sel,
		Fresh: func(ctx context.Context) (metav1.Object, error) {
			return c.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		}}
	pods, err := cl.ClaimPods(ctx, all)
	if err != nil {
		return err
	}

	// 1. Count pods that finished (or were deleted) before letting go of
	// them: record their uids, drop their finalizers, then fold them into
	// the counts. A crash in between repeats a step, never double counts.
	st := *j.Status.DeepCopy()
	if st.UncountedTerminatedPods == nil {
		st.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	unc := st.UncountedTerminatedPods
	inUnc := map[types.UID]bool{}
	for _, u := range append(append([]types.UID{}, unc.Succeeded...), unc.Failed...) {
		inUnc[u] = true
	}
	var toRelease []*corev1.Pod
	newFail := 0
	for _, p := range pods {
		if !hasTracking(p) || c.finalizerRemoved(p) {
			continue
		}
		done := p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || p.DeletionTimestamp != nil
		if !done && !finished(j) {
			continue
		}
		if !inUnc[p.UID] && done {
			if p.Status.Phase == corev1.PodSucceeded {
				unc.Succeeded = append(unc.Succeeded, p.UID)
			} else {
				unc.Failed = append(unc.Failed, p.UID)
				newFail++
			}
			inUnc[p.UID] = true
		}
		toRelease = append(toRelease, p)
	}
	if newFail > 0 {
		c.mu.Lock()
		c.lastFail[j.UID] = now
		c.mu.Unlock()
	}
	if !apiequality.Semantic.DeepEqual(unc, j.Status.UncountedTerminatedPods) && !(len(unc.Succeeded) == 0 && len(unc.Failed) == 0) {
		if j, err = c.writeStatus(ctx, j, st); err != nil {
			return err
		}
		st = *j.Status.DeepCopy()
		unc = st.UncountedTerminatedPods
	}
	for _, p := range toRelease {
		if err := c.removeTracking(ctx, p); err != nil {
			return fmt.Errorf("release pod %s of job %s: %w", p.Name, j.Name, err)
		}
	}
	released := map[types.UID]bool{}
	for _, p := range pods {
		if hasTracking(p) && !c.finalizerRemoved(p) {
			released[p.UID] = false
		}
	}
	for _, p := range toRelease {
		released[p.UID] = true
	}
	if unc != nil {
		var keepS, keepF []types.UID
		for _, u := range unc.Succeeded {
			if still, ok := released[u]; ok && !still {
				keepS = append(keepS, u)
				continue
			}
			st.Succeeded++
		}
		for _, u := range unc.Failed {
			if still, ok := released[u]; ok && !still {
				keepF = append(keepF, u)
				continue
			}
			st.Failed++
		}
		st.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Succeeded: keepS, Failed: keepF}
	}

	if finished(j) {
		_, err := c.writeStatus(ctx, j, st)
		if err != nil {
			return err
		}
		return c.ttl(ctx, j, now)
	}

	// 2. Decide.
	var active []*corev1.Pod
	for _, p := range pods {
		if ctrlutil.IsPodActive(p) {
			active = append(active, p)
		}
	}
	st.Active = int32(len(active))
	var ready int32
	for _, p := range active {
		if ctrlutil.IsPodReady(p) {
			ready++
		}
	}
	st.Ready = &ready
	if st.StartTime == nil && !suspended(j) {
		t := metav1.NewTime(now)
		st.StartTime = &t
	}
	succeeded := st.Succeeded + int32(len(st.UncountedTerminatedPods.Succeeded))
	failed := st.Failed + int32(len(st.UncountedTerminatedPods.Failed))
	backoffLimit := int32(6)
	if j.Spec.BackoffLimit != nil {
		backoffLimit = *j.Spec.BackoffLimit
	}

	var failReason, failMsg string
	switch {
	case condition(j, batchv1.JobFailureTarget) != nil:
		ft := condition(j, batchv1.JobFailureTarget)
		failReason, failMsg = ft.Reason, ft.Message
	case failed > backoffLimit:
		failReason, failMsg = reasonBackoff, "Job has reached the specified backoff limit"
	case j.Spec.ActiveDeadlineSeconds != nil && st.StartTime != nil &&
		!now.Before(st.StartTime.Add(time.Duration(*j.Spec.ActiveDeadlineSeconds)*time.Second)):
		failReason, failMsg = reasonDeadline, "Job was active longer than specified deadline"
	}
	completeNow := false
	if failReason == "" {
		if j.Spec.Completions != nil {
			completeNow = succeeded >= *j.Spec.Completions
		} else {
			completeNow = succeeded > 0 && len(active) == 0
		}
		if condition(j, batchv1.JobSuccessCriteriaMet) != nil {
			completeNow = true
		}
	}

	var manageErr error
	switch {
	case failReason != "":
		if condition(j, batchv1.JobFailureTarget) == nil {
			addCondition(&st, batchv1.JobFailureTarget, failReason, failMsg, now)
			c.recorder.Event(j, corev1.EventTypeWarning, failReason, failMsg)
		}
		manageErr = c.deletePods(ctx, key, j, active)
		if len(active) == 0 && len(st.UncountedTerminatedPods.Succeeded)+len(st.UncountedTerminatedPods.Failed) == 0 {
			addCondition(&st, batchv1.JobFailed, failReason, failMsg, now)
		}
	case completeNow:
		if condition(j, batchv1.JobSuccessCriteriaMet) == nil {
			addCondition(&st, batchv1.JobSuccessCriteriaMet, reasonCompletions, "Reached expected number of succeeded pods", now)
		}
		manageErr = c.deletePods(ctx, key, j, active)
		if len(active) == 0 && len(st.UncountedTerminatedPods.Succeeded)+len(st.UncountedTerminatedPods.Failed) == 0 {
			addCondition(&st, batchv1.JobComplete, reasonCompletions, "Reached expected number of succeeded pods", now)
			t := metav1.NewTime(now)
			st.CompletionTime = &t
			c.recorder.Event(j, corev1.EventTypeNormal, "Completed", "Job completed")
		}
	default:
		pending := false
		for _, p := range pods {
			pending = pending || (hasTracking(p) && c.finalizerRemoved(p))
		}
		// Pods just counted still look uncounted in the cache: wait.
		if c.exp.Satisfied(key) && !pending {
			manageErr = c.manage(ctx, key, j, active, succeeded, failed)
		}
		if j.Spec.ActiveDeadlineSeconds != nil && st.StartTime != nil {
			c.loop.EnqueueAfter(j, st.StartTime.Add(time.Duration(*j.Spec.ActiveDeadlineSeconds)*time.Second).Sub(now)+time.Second/10)
		}
	}
	if _, err := c.writeStatus(ctx, j, st); err != nil {
		return err
	}
	return manageErr
}

func suspended(j *batchv1.Job) bool { return j.Spec.Suspend != nil && *j.Spec.Suspend }

// manage creates or deletes pods to run the wanted number in parallel.
func (c *Controller) manage(ctx context.Context, key string, j *batchv1.Job, active []*corev1.Pod, succeeded, failed int32) error {
	want := int32(1)
	if j.Spec.Parallelism != nil {
		want = *j.Spec.Parallelism
	}
	if j.Spec.Completions != nil {
		want = min(want, *j.Spec.Completions-succeeded)
	} else if succeeded > 0 {
		want = 0 // a work queue: once one succeeded, start no more
	}
	if suspended(j) || want < 0 {
		want = 0
	}
	diff := int(want) - len(active)

	if diff < 0 {
		return c.deletePods(ctx, key, j, replicaset.PodsToDelete(active, -diff))
	}
	if diff == 0 {
		return nil
	}
	if wait := c.backoff(j, failed); wait > 0 {
		c.loop.EnqueueAfter(j, wait)
		return nil
	}
	c.exp.ExpectCreations(key, diff)
	ref := ctrlutil.ControllerRef(j, gvk)
	skipped, err := ctrlutil.SlowStartBatch(diff, func() error {
		p := ctrlutil.PodFromTemplate(&j.Spec.Template, j.Namespace, j.Name+"-", ref)
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		p.Labels[JobNameLabel] = j.Name
		p.Labels[legacyJobName] = j.Name
		p.Labels[ControllerUIDLabel] = string(j.UID)
		p.Labels[legacyUID] = string(j.UID)
		p.Finalizers = append(p.Finalizers, TrackingFinalizer)
		np, err := ctrlutil.CreateWithRandomName(ctx, c.client, p)
		if err != nil {
			c.exp.CreationObserved(key)
			c.recorder.Eventf(j, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
			return err
		}
		c.recorder.Eventf(j, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", np.Name)
		return nil
	})
	for i := 0; i < skipped; i++ {
		c.exp.CreationObserved(key)
	}
	return err
}

// backoff is how long to wait before replacing failed pods: BackoffBase
// doubled per failure, capped at six minutes, from the last failure seen.
func (c *Controller) backoff(j *batchv1.Job, failed int32) time.Duration {
	if failed == 0 {
		return 0
	}
	c.mu.Lock()
	last, ok := c.lastFail[j.UID]
	c.mu.Unlock()
	if !ok {
		return 0
	}
	d := c.cfg.BackoffBase
	for i := int32(1); i < failed && d < 6*time.Minute; i++ {
		d *= 2
	}
	d = min(d, 6*time.Minute)
	return last.Add(d).Sub(c.now())
}

func (c *Controller) deletePods(ctx context.Context, key string, j *batchv1.Job, pods []*corev1.Pod) error {
	var first error
	for _, p := range pods {
		podKey, _ := cache.MetaNamespaceKeyFunc(p)
		c.exp.ExpectDeletions(key, []string{podKey})
		err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			c.exp.DeletionObserved(key, podKey)
			if first == nil {
				first = fmt.Errorf("delete pod %s of job %s: %w", p.Name, j.Name, err)
			}
			continue
		}
		c.recorder.Eventf(j, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
	}
	return first
}

func (c *Controller) writeStatus(ctx context.Context, j *batchv1.Job, st batchv1.JobStatus) (*batchv1.Job, error) {
	if st.UncountedTerminatedPods != nil && len(st.UncountedTerminatedPods.Succeeded) == 0 && len(st.UncountedTerminatedPods.Failed) == 0 {
		st.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	if apiequality.Semantic.DeepEqual(j.Status, st) {
		return j, nil
	}
	n := j.DeepCopy()
	n.Status = st
	out, err := c.client.BatchV1().Jobs(j.Namespace).UpdateStatus(ctx, n, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("update status of job %s: %w", j.Name, err)
	}
	if out.ResourceVersion != "" {
		key, _ := cache.MetaNamespaceKeyFunc(out)
		c.mu.Lock()
		c.written[key] = writtenStatus{rv: out.ResourceVersion, at: c.now()}
		c.mu.Unlock()
	}
	return out, nil
}

// ttl deletes a finished Job (and, through the garbage collector, its
// pods) ttlSecondsAfterFinished after it finished.
func (c *Controller) ttl(ctx context.Context, j *batchv1.Job, now time.Time) error {
	if j.Spec.TTLSecondsAfterFinished == nil {
		return nil
	}
	var at time.Time
	for _, cond := range j.Status.Conditions {
		if (cond.Type == batchv1.JobComplete || cond.Type == batchv1.JobFailed) && cond.Status == corev1.ConditionTrue {
			at = cond.LastTransitionTime.Time
		}
	}
	if j.Status.CompletionTime != nil {
		at = j.Status.CompletionTime.Time
	}
	expire := at.Add(time.Duration(*j.Spec.TTLSecondsAfterFinished) * time.Second)
	if now.Before(expire) {
		c.loop.EnqueueAfter(j, expire.Sub(now)+time.Second/10)
		return nil
	}
	bg := metav1.DeletePropagationBackground
	err := c.client.BatchV1().Jobs(j.Namespace).Delete(ctx, j.Name, metav1.DeleteOptions{
		PropagationPolicy: &bg, Preconditions: &metav1.Preconditions{UID: &j.UID}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete finished job %s after its ttl: %w", j.Name, err)
	}
	return nil
}
