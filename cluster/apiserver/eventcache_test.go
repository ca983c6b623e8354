package apiserver

import (
	"encoding/json"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover/drover/cluster/store"
)

// TestEventCache: watchers of one change share one decoded object and one encoding;
// another revision of the key is another object; the oldest entries make room.
func TestEventCache(t *testing.T) {
	k := testKinds()[0] // Namespaces
	kv := func(name string, rev uint64) store.KV {
		v, err := json.Marshal(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
		if err != nil {
			t.Fatal(err)
		}
		return store.KV{Key: "/core/namespaces/" + name, Value: v, Revision: rev}
	}
	c := newEventCache()
	a, err := c.object(k, kv("a", 7))
	if err != nil {
		t.Fatal(err)
	}
	again, _ := c.object(k, kv("a", 7))
	if again != a {
		t.Fatal("a second watcher of the same change decoded it again")
	}
	if rv := accessor(a.obj).GetResourceVersion(); rv != "7" {
		t.Fatalf("resourceVersion %q, want the revision 7", rv)
	}
	if next, _ := c.object(k, kv("a", 8)); next == a {
		t.Fatal("revision 8 of the key came back as revision 7's object")
	}
	raw, err := a.json()
	if err != nil {
		t.Fatal(err)
	}
	if raw2, _ := a.json(); &raw2[0] != &raw[0] {
		t.Fatal("the object was encoded twice")
	}
	var got corev1.Namespace
	if err := json.Unmarshal(raw, &got); err != nil || got.Name != "a" || got.ResourceVersion != "7" || got.Kind != "Namespace" {
		t.Fatalf("encoding %s: %v", raw, err)
	}

	for i := range eventCacheSize {
		if _, err := c.object(k, kv(fmt.Sprintf("n%d", i), uint64(100+i))); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.m) != eventCacheSize {
		t.Fatalf("%d entries, want at most %d", len(c.m), eventCacheSize)
	}
	if evicted, _ := c.object(k, kv("a", 7)); evicted == a {
		t.Fatal("the oldest entry was not evicted")
	}
}

// TestWatchFrame: a frame is the JSON of a metav1.WatchEvent, one per line.
func TestWatchFrame(t *testing.T) {
	b := watchFrame("MODIFIED", []byte(`{"kind":"Namespace","metadata":{"name":"x"}}`))
	if b[len(b)-1] != '\n' {
		t.Fatalf("frame %q does not end its line", b)
	}
	var ev metav1.WatchEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("frame %q: %v", b, err)
	}
	if ev.Type != "MODIFIED" || string(ev.Object.Raw) != `{"kind":"Namespace","metadata":{"name":"x"}}` {
		t.Fatalf("frame %q decoded as %+v", b, ev)
	}
}
