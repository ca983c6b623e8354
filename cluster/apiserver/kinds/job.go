package kinds

import (
	"fmt"
	"reflect"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Labels Kubernetes puts on a job's pods before batch.kubernetes.io/
// existed; kubectl and older controllers still look for them.
const (
	legacyJobNameLabel       = "job-name"
	legacyControllerUIDLabel = "controller-uid"
)

func jobKind() *Kind {
	return &Kind{
		GVK:        batchv1.SchemeGroupVersion.WithKind("Job"),
		Resource:   "jobs",
		Singular:   "job",
		Categories: []string{"all"},
		Namespaced: true,
		New:        func() runtime.Object { return &batchv1.Job{} },
		NewList:    func() runtime.Object { return &batchv1.JobList{} },
		HasStatus:  true,
		Default:    func(obj runtime.Object) { DefaultJob(obj.(*batchv1.Job)) },
		Validate:   validateJob,
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			{Name: "Status", Type: "string", Description: "Status of the job."},
			{Name: "Completions", Type: "string", Description: batchv1.JobStatus{}.SwaggerDoc()["succeeded"]},
			{Name: "Duration", Type: "string", Description: "Time required to complete the job."},
			ageColumn, containersColumn, imagesColumn,
			selectorColumn(batchv1.JobSpec{}.SwaggerDoc()["selector"]),
		},
		Row: func(obj runtime.Object, now time.Time) []interface{} { return jobRow(obj.(*batchv1.Job), now) },
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.successful": strconv.Itoa(int(obj.(*batchv1.Job).Status.Succeeded))}
		},
	}
}

// DefaultJob applies batch/v1's job defaults. The pod template gets the
// usual pod defaults, restartPolicy Always included, which validation
// then refuses: as in Kubernetes, a job must say Never or OnFailure.
func DefaultJob(job *batchv1.Job) {
	s := &job.Spec
	if s.Completions == nil && s.Parallelism == nil {
		s.Completions = ptr(int32(1))
	}
	if s.Parallelism == nil {
		s.Parallelism = ptr(int32(1))
	}
	if s.BackoffLimit == nil {
		s.BackoffLimit = ptr(int32(6))
	}
	if s.CompletionMode == nil {
		s.CompletionMode = ptr(batchv1.NonIndexedCompletion)
	}
	if s.Suspend == nil {
		s.Suspend = ptr(false)
	}
	if s.PodReplacementPolicy == nil {
		s.PodReplacementPolicy = ptr(batchv1.TerminatingOrFailed)
	}
	DefaultPodSpec(&s.Template.Spec)
}

// GenerateJobSelector gives a job whose selector is not manual the
// selector Kubernetes generates from its uid, and the matching labels on
// its pod template. The API server calls it on create, after setting the
// uid and before validation.
func GenerateJobSelector(job *batchv1.Job) {
	if job.Spec.ManualSelector != nil && *job.Spec.ManualSelector {
		return
	}
	t := &job.Spec.Template
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	// Labels the user set are kept; a conflict then fails validation.
	for _, l := range []string{legacyJobNameLabel, batchv1.JobNameLabel} {
		if _, ok := t.Labels[l]; !ok {
			t.Labels[l] = job.Name
		}
	}
	for _, l := range []string{legacyControllerUIDLabel, batchv1.ControllerUidLabel} {
		if _, ok := t.Labels[l]; !ok {
			t.Labels[l] = string(job.UID)
		}
	}
	if job.Spec.Selector == nil {
		job.Spec.Selector = &metav1.LabelSelector{}
	}
	if job.Spec.Selector.MatchLabels == nil {
		job.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, ok := job.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel]; !ok {
		job.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel] = string(job.UID)
	}
}

func validateJob(obj, old runtime.Object) field.ErrorList {
	job, ok := obj.(*batchv1.Job)
	if !ok {
		return typeError("job", obj)
	}
	var oldJob *batchv1.Job
	var oldMeta *metav1.ObjectMeta
	if old != nil {
		if oldJob, ok = old.(*batchv1.Job); !ok {
			return typeError("job", old)
		}
		oldMeta = &oldJob.ObjectMeta
	}
	spec := field.NewPath("spec")
	s := &job.Spec
	errs := validateMeta(&job.ObjectMeta, oldMeta, true, apivalidation.NameIsDNSSubdomain)
	errs = append(errs, refuseUnserved(reflect.ValueOf(s), spec)...)
	for name, v := range map[string]*int32{"parallelism": s.Parallelism, "completions": s.Completions, "backoffLimit": s.BackoffLimit, "ttlSecondsAfterFinished": s.TTLSecondsAfterFinished} {
		if v != nil {
			errs = append(errs, validateNonNegative(int64(*v), spec.Child(name))...)
		}
	}
	if s.ActiveDeadlineSeconds != nil {
		errs = append(errs, validatePositive(*s.ActiveDeadlineSeconds, spec.Child("activeDeadlineSeconds"))...)
	}
	if m := s.CompletionMode; m != nil && *m != batchv1.NonIndexedCompletion {
		if *m == batchv1.IndexedCompletion {
			errs = append(errs, field.Forbidden(spec.Child("completionMode"), notServed+": only NonIndexed"))
		} else {
			errs = append(errs, field.NotSupported(spec.Child("completionMode"), *m, []string{string(batchv1.NonIndexedCompletion), string(batchv1.IndexedCompletion)}))
		}
	}
	if p := s.PodReplacementPolicy; p != nil && *p != batchv1.TerminatingOrFailed && *p != batchv1.Failed {
		errs = append(errs, field.NotSupported(spec.Child("podReplacementPolicy"), *p, []string{string(batchv1.TerminatingOrFailed), string(batchv1.Failed)}))
	}
	errs = append(errs, validateWorkloadSelector("job", s.Selector, s.Template.Labels, spec)...)
	if (s.ManualSelector == nil || !*s.ManualSelector) && job.UID != "" && s.Selector != nil &&
		s.Selector.MatchLabels[batchv1.ControllerUidLabel] != string(job.UID) {
		errs = append(errs, field.Invalid(spec.Child("selector"), s.Selector, "`selector` not auto-generated"))
	}
	errs = append(errs, validateTemplate(&s.Template, spec.Child("template"))...)
	rp := s.Template.Spec.RestartPolicy
	if rp != "" && rp != "OnFailure" && rp != "Never" {
		errs = append(errs, field.NotSupported(spec.Child("template", "spec", "restartPolicy"), rp, []string{"OnFailure", "Never"}))
	}
	if oldJob != nil {
		errs = append(errs, validateImmutable(s.Selector, oldJob.Spec.Selector, spec.Child("selector"))...)
		errs = append(errs, validateImmutable(s.Template, oldJob.Spec.Template, spec.Child("template"))...)
		errs = append(errs, validateImmutable(s.Completions, oldJob.Spec.Completions, spec.Child("completions"))...)
		errs = append(errs, validateImmutable(s.CompletionMode, oldJob.Spec.CompletionMode, spec.Child("completionMode"))...)
	}
	return errs
}

func jobRow(job *batchv1.Job, now time.Time) []interface{} {
	var completions string
	switch par := deref(job.Spec.Parallelism, 0); {
	case job.Spec.Completions != nil:
		completions = fmt.Sprintf("%d/%d", job.Status.Succeeded, *job.Spec.Completions)
	case par > 1:
		completions = fmt.Sprintf("%d/1 of %d", job.Status.Succeeded, par)
	default:
		completions = fmt.Sprintf("%d/1", job.Status.Succeeded)
	}
	var took string
	switch {
	case job.Status.StartTime == nil:
	case job.Status.CompletionTime == nil:
		took = duration.HumanDuration(now.Sub(job.Status.StartTime.Time))
	default:
		took = duration.HumanDuration(job.Status.CompletionTime.Sub(job.Status.StartTime.Time))
	}
	containers, images := containersAndImages(job.Spec.Template.Spec.Containers)
	return []interface{}{job.Name, jobStatus(job), completions, took, age(job.CreationTimestamp, now),
		containers, images, selectorString(job.Spec.Selector)}
}

func jobStatus(job *batchv1.Job) string {
	has := func(t batchv1.JobConditionType) bool {
		for _, c := range job.Status.Conditions {
			if c.Type == t && c.Status == "True" {
				return true
			}
		}
		return false
	}
	switch {
	case has(batchv1.JobComplete):
		return "Complete"
	case has(batchv1.JobFailed):
		return "Failed"
	case job.DeletionTimestamp != nil:
		return "Terminating"
	case has(batchv1.JobSuspended):
		return "Suspended"
	case has(batchv1.JobFailureTarget):
		return "FailureTarget"
	case has(batchv1.JobSuccessCriteriaMet):
		return "SuccessCriteriaMet"
	}
	return "Running"
}
