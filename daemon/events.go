package daemon

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/drover/drover/dockerapi"
)

// eventBus keeps the engine's recent events and hands new ones to subscribers (the Docker
// API's GET /events). Publishing never blocks: a subscriber that falls behind loses events.
type eventBus struct {
	mu   sync.Mutex
	ring []dockerapi.Event
	subs map[chan dockerapi.Event]struct{}
}

// eventHistory is how many past events a subscriber can ask for (since=...).
const eventHistory = 1024

func (b *eventBus) publish(ev dockerapi.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.ring) == eventHistory {
		copy(b.ring, b.ring[1:])
		b.ring = b.ring[:eventHistory-1]
	}
	b.ring = append(b.ring, ev)
	for ch := range b.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}

func (b *eventBus) subscribe() ([]dockerapi.Event, chan dockerapi.Event, func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs == nil {
		b.subs = map[chan dockerapi.Event]struct{}{}
	}
	ch := make(chan dockerapi.Event, 256)
	b.subs[ch] = struct{}{}
	past := append([]dockerapi.Event{}, b.ring...)
	var once sync.Once
	return past, ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, ch)
			b.mu.Unlock()
		})
	}
}

// Events subscribes to the engine's events.
func (d *Daemon) Events(ctx context.Context) ([]dockerapi.Event, <-chan dockerapi.Event, func()) {
	return d.events.subscribe()
}

// emit publishes an event now.
func (d *Daemon) emit(typ, action, id string, attrs map[string]string) {
	if attrs == nil {
		attrs = map[string]string{}
	}
	d.events.publish(dockerapi.Event{Type: typ, Action: action, ID: id, Attributes: attrs, Time: time.Now()})
}

// emitContainer publishes a container event with Docker's attributes: name, image, the
// container's labels and extra. The caller must not hold c.mu.
func (d *Daemon) emitContainer(c *container, action string, extra map[string]string) {
	c.mu.Lock()
	attrs := map[string]string{"name": c.rec.Name, "image": c.rec.ImageName}
	for k, v := range c.rec.Config.Labels {
		attrs[k] = v
	}
	id := c.rec.ID
	c.mu.Unlock()
	for k, v := range extra {
		attrs[k] = v
	}
	d.emit("container", action, id, attrs)
}

func exitAttrs(code int) map[string]string { return map[string]string{"exitCode": strconv.Itoa(code)} }
