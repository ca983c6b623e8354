package kube

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
)

// object is what a typed client reads and writes: an API object with metadata.
type object interface {
	runtime.Object
	metav1.Object
}

// typed is the REST client of one resource (cluster-scoped when ns is ""). client-go's
// gentype does the same but links its fakes, and with them the managed-fields machinery.
type typed[T object, L runtime.Object] struct {
	rc       rest.Interface
	resource string
	ns       string
	newT     func() T
	newL     func() L
}

func newTyped[T object, L runtime.Object](rc rest.Interface, resource, ns string, newT func() T, newL func() L) *typed[T, L] {
	return &typed[T, L]{rc: rc, resource: resource, ns: ns, newT: newT, newL: newL}
}

// req starts a request on the resource, preferring protobuf as client-go's clients do for
// built-in kinds.
func (c *typed[T, L]) req(r *rest.Request) *rest.Request {
	return r.UseProtobufAsDefaultIfPreferred(true).NamespaceIfScoped(c.ns, c.ns != "").Resource(c.resource)
}

func timeout(s *int64) time.Duration {
	if s == nil {
		return 0
	}
	return time.Duration(*s) * time.Second
}

func (c *typed[T, L]) Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error) {
	out := c.newT()
	err := c.req(c.rc.Get()).Name(name).VersionedParams(&opts, ParameterCodec()).Do(ctx).Into(out)
	return out, err
}

func (c *typed[T, L]) List(ctx context.Context, opts metav1.ListOptions) (L, error) {
	out := c.newL()
	err := c.req(c.rc.Get()).VersionedParams(&opts, ParameterCodec()).Timeout(timeout(opts.TimeoutSeconds)).Do(ctx).Into(out)
	return out, err
}

func (c *typed[T, L]) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch = true
	return c.req(c.rc.Get()).VersionedParams(&opts, ParameterCodec()).Timeout(timeout(opts.TimeoutSeconds)).Watch(ctx)
}

func (c *typed[T, L]) Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error) {
	out := c.newT()
	err := c.req(c.rc.Post()).VersionedParams(&opts, ParameterCodec()).Body(obj).Do(ctx).Into(out)
	return out, err
}

func (c *typed[T, L]) Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error) {
	out := c.newT()
	err := c.req(c.rc.Put()).Name(obj.GetName()).VersionedParams(&opts, ParameterCodec()).Body(obj).Do(ctx).Into(out)
	return out, err
}

func (c *typed[T, L]) UpdateStatus(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error) {
	out := c.newT()
	err := c.req(c.rc.Put()).Name(obj.GetName()).SubResource("status").VersionedParams(&opts, ParameterCodec()).
		Body(obj).Do(ctx).Into(out)
	return out, err
}

func (c *typed[T, L]) Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error {
	return c.req(c.rc.Delete()).Name(name).Body(&opts).Do(ctx).Error()
}

func (c *typed[T, L]) DeleteCollection(ctx context.Context, opts metav1.DeleteOptions, listOpts metav1.ListOptions) error {
	return c.req(c.rc.Delete()).VersionedParams(&listOpts, ParameterCodec()).Timeout(timeout(listOpts.TimeoutSeconds)).
		Body(&opts).Do(ctx).Error()
}

func (c *typed[T, L]) Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (T, error) {
	out := c.newT()
	err := c.req(c.rc.Patch(pt)).Name(name).SubResource(subresources...).VersionedParams(&opts, ParameterCodec()).
		Body(data).Do(ctx).Into(out)
	return out, err
}
