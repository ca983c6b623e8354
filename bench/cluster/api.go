package main

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

func apiMain(args []string) error {
	fs := flag.NewFlagSet("api", flag.ExitOnError)
	var cf clientFlags
	cf.register(fs)
	n := fs.Int("n", 500, "writes per phase")
	conc := fs.Int("concurrency", 16, "writers in the concurrent phases")
	ns := fs.String("namespace", "bench-api", "namespace, made and removed by the run")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	_ = fs.Parse(args)
	cs, _, err := cf.client()
	if err != nil {
		return err
	}
	// The watcher has its own connection, as a separate client would.
	wcs, _, err := cf.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	return measureAPI(ctx, cs, wcs, *ns, *n, *conc)
}

// write is one write's result: the object's name and resourceVersion, and when the
// call returned.
type write struct {
	key      string // name/resourceVersion
	began    time.Time
	returned time.Time
}

// arrivals records when each name/resourceVersion reached the watcher.
type arrivals struct {
	mu   sync.Mutex
	at   map[string]time.Time
	cond *sync.Cond
}

func newArrivals() *arrivals {
	a := &arrivals{at: map[string]time.Time{}}
	a.cond = sync.NewCond(&a.mu)
	return a
}

func (a *arrivals) add(key string, t time.Time) {
	a.mu.Lock()
	a.at[key] = t
	a.mu.Unlock()
	a.cond.Broadcast()
}

// wait waits until every key has arrived or the deadline passes.
func (a *arrivals) wait(ws []write, deadline time.Time) (map[string]time.Time, error) {
	stop := time.AfterFunc(time.Until(deadline), a.cond.Broadcast)
	defer stop.Stop()
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		missing := 0
		for _, w := range ws {
			if _, ok := a.at[w.key]; !ok {
				missing++
			}
		}
		if missing == 0 {
			return a.at, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d writes never reached the watch", missing, len(ws))
		}
		a.cond.Wait()
	}
}

// watchLeases delivers every Lease event in ns from rv on, watching again when the
// server ends a watch.
func watchLeases(ctx context.Context, cs kubernetes.Interface, ns, rv string, a *arrivals) error {
	for ctx.Err() == nil {
		wi, err := cs.CoordinationV1().Leases(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true})
		if err != nil {
			return fmt.Errorf("watch leases: %w", err)
		}
		for ev := range wi.ResultChan() {
			now := time.Now()
			l, ok := ev.Object.(*coordv1.Lease)
			if !ok {
				if ev.Type == watch.Error {
					wi.Stop()
					return fmt.Errorf("watch leases: %v", apierrors.FromObject(ev.Object))
				}
				continue
			}
			rv = l.ResourceVersion
			if ev.Type != watch.Bookmark {
				a.add(l.Name+"/"+l.ResourceVersion, now)
			}
		}
	}
	return nil
}

func measureAPI(ctx context.Context, cs, wcs kubernetes.Interface, ns string, n, conc int) error {
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", ns, err)
	}
	defer func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer dcancel()
		_ = cs.CoreV1().Namespaces().Delete(dctx, ns, metav1.DeleteOptions{})
	}()
	list, err := cs.CoordinationV1().Leases(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list leases: %w", err)
	}
	if len(list.Items) > 0 {
		return fmt.Errorf("namespace %s holds %d leases from an earlier run: kubectl delete ns %s, and run again", ns, len(list.Items), ns)
	}
	a := newArrivals()
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	werr := make(chan error, 1)
	go func() { werr <- watchLeases(wctx, wcs, ns, list.ResourceVersion, a) }()

	leases := cs.CoordinationV1().Leases(ns)
	seq := make([]*coordv1.Lease, n)
	par := make([]*coordv1.Lease, n)
	phases := []struct {
		name    string
		workers int
		op      func(i int) (*coordv1.Lease, error)
	}{
		{"create, one writer", 1, func(i int) (l *coordv1.Lease, err error) {
			seq[i], err = leases.Create(ctx, lease(fmt.Sprintf("s%d", i)), metav1.CreateOptions{})
			return seq[i], err
		}},
		{"update, one writer", 1, func(i int) (*coordv1.Lease, error) {
			return leases.Update(ctx, renewed(seq[i]), metav1.UpdateOptions{})
		}},
		{fmt.Sprintf("create, %d writers", conc), conc, func(i int) (l *coordv1.Lease, err error) {
			par[i], err = leases.Create(ctx, lease(fmt.Sprintf("c%d", i)), metav1.CreateOptions{})
			return par[i], err
		}},
		{fmt.Sprintf("update, %d writers", conc), conc, func(i int) (*coordv1.Lease, error) {
			return leases.Update(ctx, renewed(par[i]), metav1.UpdateOptions{})
		}},
	}
	fmt.Printf("%d Lease writes per phase; write latency on the client, watch lag from the write's return to the event's arrival\n", n)
	for pi, ph := range phases {
		ws, took, err := runPhase(n, ph.workers, ph.op)
		if err != nil {
			return fmt.Errorf("%s: %w", ph.name, err)
		}
		at, err := a.wait(ws, time.Now().Add(30*time.Second))
		if err != nil {
			select {
			case e := <-werr:
				if e != nil {
					return e
				}
			default:
			}
			return fmt.Errorf("%s: %w", ph.name, err)
		}
		var lat, lag dist
		early := 0
		for _, w := range ws {
			lat = append(lat, w.returned.Sub(w.began))
			d := at[w.key].Sub(w.returned)
			if d < 0 {
				early++ // the event beat the response to the client
				d = 0
			}
			lag = append(lag, d)
		}
		fmt.Printf("%-22s %6.0f writes/s; latency %s\n", ph.name, float64(n)/took.Seconds(), lat)
		fmt.Printf("%-22s watch lag %s; %d events arrived before the write returned (counted as 0)\n", "", lag, early)
		fmt.Printf("RESULT api phase=%d write_p50_ms=%.2f write_p99_ms=%.2f write_max_ms=%.2f lag_p50_ms=%.2f lag_p99_ms=%.2f lag_max_ms=%.2f rate=%.0f\n",
			pi, msf(lat.pct(0.5)), msf(lat.pct(0.99)), msf(lat.pct(1)), msf(lag.pct(0.5)), msf(lag.pct(0.99)), msf(lag.pct(1)), float64(n)/took.Seconds())
	}
	return nil
}

// runPhase runs op for 0..n-1 on workers goroutines and returns each write in order.
func runPhase(n, workers int, op func(int) (*coordv1.Lease, error)) ([]write, time.Duration, error) {
	ws := make([]write, n)
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				began := time.Now()
				l, err := op(i)
				ret := time.Now()
				if err != nil {
					errs[i] = err
					continue
				}
				ws[i] = write{key: l.Name + "/" + l.ResourceVersion, began: began, returned: ret}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	took := time.Since(start)
	for i, err := range errs {
		if err != nil {
			return nil, 0, fmt.Errorf("write %d: %w", i, err)
		}
	}
	return ws, took, nil
}

func lease(name string) *coordv1.Lease {
	return &coordv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: coordv1.LeaseSpec{HolderIdentity: ptr.To("bench"), LeaseDurationSeconds: ptr.To(int32(10)),
			RenewTime: &metav1.MicroTime{Time: time.Now()}}}
}

func renewed(l *coordv1.Lease) *coordv1.Lease {
	l = l.DeepCopy()
	l.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
	l.Spec.HolderIdentity = ptr.To("bench-renewed")
	return l
}
