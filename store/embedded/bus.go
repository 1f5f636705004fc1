package embedded

import (
	"context"
	"errors"
	"sync"

	"github.com/playbook-dev/playbook/store"
)

// Bus is the embedded engine's pub/sub: in-process, for the one process
// that owns the data directory. It implements store.Bus. A listener's
// queue is unbounded up to maxQueued messages; past that its oldest
// channel backlog is dropped and the listener gets a Resync for each
// channel that lost messages, as a Redis listener does after a
// reconnect.
type Bus struct {
	mu        sync.Mutex
	listeners map[*listener]struct{}
	closed    bool
}

// maxQueued bounds the messages waiting for one listener.
const maxQueued = 100_000

func newBus() *Bus { return &Bus{listeners: map[*listener]struct{}{}} }

var _ store.Bus = (*Bus)(nil)

// Publish delivers payload to every listener of channel.
func (b *Bus) Publish(ctx context.Context, channel, payload string) error {
	b.publish(channel, payload)
	return nil
}

func (b *Bus) publish(channel, payload string) {
	b.mu.Lock()
	ls := make([]*listener, 0, len(b.listeners))
	for l := range b.listeners {
		ls = append(ls, l)
	}
	b.mu.Unlock()
	for _, l := range ls {
		l.deliver(store.Message{Channel: channel, Payload: payload})
	}
}

// ErrClosed is returned for a Bus whose DB is closed.
var ErrClosed = errors.New("embedded: closed")

// Listen opens a listener with no subscriptions.
func (b *Bus) Listen(ctx context.Context) (store.Listener, error) {
	l := &listener{bus: b, chans: map[string]bool{}, out: make(chan store.Message), wake: make(chan struct{}, 1), stop: make(chan struct{})}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	b.listeners[l] = struct{}{}
	go l.pump()
	return l, nil
}

func (b *Bus) closeAll() {
	b.mu.Lock()
	b.closed = true
	ls := b.listeners
	b.listeners = map[*listener]struct{}{}
	b.mu.Unlock()
	for l := range ls {
		l.shut()
	}
}

type listener struct {
	bus   *Bus
	mu    sync.Mutex
	chans map[string]bool
	queue []store.Message
	lost  map[string]bool // channels that lost messages to an overflow
	out   chan store.Message
	wake  chan struct{}
	stop  chan struct{}
	once  sync.Once
}

func (l *listener) deliver(m store.Message) {
	l.mu.Lock()
	if !l.chans[m.Channel] {
		l.mu.Unlock()
		return
	}
	if len(l.queue) >= maxQueued {
		if l.lost == nil {
			l.lost = map[string]bool{}
		}
		for _, q := range l.queue {
			l.lost[q.Channel] = true
		}
		l.lost[m.Channel] = true
		l.queue = l.queue[:0]
		for ch := range l.lost {
			l.queue = append(l.queue, store.Message{Channel: ch, Resync: true})
		}
		l.lost = nil
	} else {
		l.queue = append(l.queue, m)
	}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *listener) pump() {
	defer close(l.out)
	for {
		l.mu.Lock()
		var m store.Message
		ok := len(l.queue) > 0
		if ok {
			m = l.queue[0]
			l.queue[0] = store.Message{}
			l.queue = l.queue[1:]
		}
		l.mu.Unlock()
		if !ok {
			select {
			case <-l.wake:
				continue
			case <-l.stop:
				return
			}
		}
		select {
		case l.out <- m:
		case <-l.stop:
			return
		}
	}
}

func (l *listener) Subscribe(ctx context.Context, channels ...string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ch := range channels {
		l.chans[ch] = true
	}
	return nil
}

func (l *listener) Unsubscribe(ctx context.Context, channels ...string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ch := range channels {
		delete(l.chans, ch)
	}
	return nil
}

func (l *listener) Messages() <-chan store.Message { return l.out }

func (l *listener) Close() error {
	l.bus.mu.Lock()
	delete(l.bus.listeners, l)
	l.bus.mu.Unlock()
	l.shut()
	return nil
}

func (l *listener) shut() { l.once.Do(func() { close(l.stop) }) }
