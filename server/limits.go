package server

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limits holds the per-address connection limiters.
type limits struct {
	perMinute int // new connections a minute per address; < 0: no limit
	mu        sync.Mutex
	byIP      map[string]*ipLimit
	sweep     time.Time
}

type ipLimit struct {
	lim  *rate.Limiter
	seen time.Time
}

// newLimits allows perMinute new connections a minute per address, in
// bursts of a third of that (default 60, bursts of 20); negative: no limit.
func newLimits(perMinute int) *limits {
	if perMinute == 0 {
		perMinute = 60
	}
	return &limits{perMinute: perMinute, byIP: map[string]*ipLimit{}}
}

// connect reports whether a new connection from ip is allowed.
func (l *limits) connect(ip string, now time.Time) bool {
	if l.perMinute < 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.sweep) > time.Minute {
		for k, v := range l.byIP {
			if now.Sub(v.seen) > 5*time.Minute {
				delete(l.byIP, k)
			}
		}
		l.sweep = now
	}
	il, ok := l.byIP[ip]
	if !ok {
		il = &ipLimit{lim: rate.NewLimiter(rate.Every(time.Minute/time.Duration(l.perMinute)), max(1, l.perMinute/3))}
		l.byIP[ip] = il
	}
	il.seen = now
	return il.lim.AllowN(now, 1)
}

// messageLimiter is a conversation connection's limit: 10 messages in a
// burst, then one per second.
func messageLimiter() *rate.Limiter { return rate.NewLimiter(rate.Every(time.Second), 10) }
