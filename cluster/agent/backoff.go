package agent

import "time"

// Kubernetes' restart back-off: the first restart is at once, then 10 s doubling up to
// 5 min; a container that ran 10 min clears it.
const (
	backoffInitial = 10 * time.Second
	backoffMax     = 5 * time.Minute
	backoffReset   = 10 * time.Minute
)

// backoff is one container's restart back-off.
type backoff struct {
	delay time.Duration // wait after the next exit before restarting
}

// ready says whether a container that ran from started to finished may restart at now,
// and if not, the back-off it is in.
func (b *backoff) ready(started, finished, now time.Time) (time.Duration, bool) {
	if !started.IsZero() && finished.Sub(started) >= backoffReset {
		b.delay = 0
	}
	if now.Before(finished.Add(b.delay)) {
		return b.delay, false
	}
	return b.delay, true
}

// next records a restart: the following one waits longer.
func (b *backoff) next() {
	if b.delay == 0 {
		b.delay = backoffInitial
		return
	}
	b.delay = min(2*b.delay, backoffMax)
}
