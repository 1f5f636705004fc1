package redis

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/store"
)

// Bus is Redis pub/sub (store.Bus): every process's listeners get what any
// process publishes. A listener holds one pub/sub connection; go-redis
// reconnects and subscribes again by itself after a break, and the
// listener then sends a Resync for each channel, since what was published
// in between is lost.
type Bus struct {
	rdb    goredis.UniversalClient
	checks busChecks
	// fleet, when set (Engine.Bus), makes a listener's pattern a fleet
	// member's on one node, which lets the process's turns go unpublished
	// when no other process hears them (fleet.go).
	fleet *fleet
}

// busChecks are a listener's checks of an idle connection: a ping after
// every without a message (shardEvery on a Cluster's shard connections),
// and its pong within pong.
type busChecks struct{ every, shardEvery, pong time.Duration }

var (
	_ store.Bus           = (*Bus)(nil)
	_ store.ShardListener = (*listener)(nil)
)

// NewBus returns the bus of rdb.
func NewBus(rdb goredis.UniversalClient) *Bus {
	return &Bus{rdb: rdb, checks: busChecks{every: pubsubCheckEvery, shardEvery: shardCheckEvery, pong: pubsubPingTimeout}}
}

// Publish sends payload on channel. On a Redis Cluster it goes to the
// master of the channel's slot, the node the turn script publishes on
// too: go-redis sends PUBLISH to any node, and two messages of one
// channel published on two nodes can reach a subscriber in either order
// (one arrives directly, the other over the cluster bus).
//
// On a Cluster, a placed conversation's channel goes by SPUBLISH on its
// slot's shard channel instead (shardbus.go), as the turn script sends
// its entries.
func (b *Bus) Publish(ctx context.Context, channel, payload string) error {
	if cc, ok := b.rdb.(*goredis.ClusterClient); ok {
		if sc, head, ok := shardRoute(channel); ok {
			if n, err := cc.MasterForKey(ctx, sc); err == nil {
				if err := n.SPublish(ctx, sc, head+payload).Err(); err == nil {
					return nil
				}
			}
			return cc.SPublish(ctx, sc, head+payload).Err()
		}
		if n, err := cc.MasterForKey(ctx, channel); err == nil {
			if err := n.Publish(ctx, channel, payload).Err(); err == nil {
				return nil
			}
			// A stale slot map (a failover): the cluster client refreshes it.
		}
	}
	return b.rdb.Publish(ctx, channel, payload).Err()
}

// Listen opens a listener (one pub/sub connection).
func (b *Bus) Listen(ctx context.Context) (store.Listener, error) {
	l := &listener{ps: b.rdb.Subscribe(context.WithoutCancel(ctx)), confirmed: map[string]bool{}, followed: map[string]bool{},
		patterns: map[string]bool{}, pconfirmed: map[string]bool{},
		out: make(chan store.Message, 1024), stop: make(chan struct{}), checks: b.checks}
	l.cc, _ = b.rdb.(*goredis.ClusterClient)
	l.fleet, l.rdb = b.fleet, b.rdb
	go l.run()
	return l, nil
}

type listener struct {
	ps  *goredis.PubSub
	out chan store.Message
	// cc is the Cluster (nil on one node), whose placed conversations
	// are heard through shards, by prefix (shardbus.go).
	cc       *goredis.ClusterClient
	shardsMu sync.Mutex
	shards   map[string]*shardSubs
	// outMu guards out's closing against the shards' sends.
	outMu     sync.RWMutex
	outClosed bool

	mu sync.Mutex
	// followed are the channels subscribed to; confirmed those whose
	// subscription Redis confirmed: a second confirmation means go-redis
	// subscribed again on a new connection.
	followed  map[string]bool
	confirmed map[string]bool
	// patterns and pconfirmed are the same for pattern subscriptions.
	patterns   map[string]bool
	pconfirmed map[string]bool
	// fleet, on one node, is the process's (fleet.go). wire maps the
	// pattern its pattern was subscribed as to the pattern itself; mark
	// is the marker pattern and notice the fleet's channel ("" for none
	// yet). member is set once this listener holds the fleet patterns;
	// broken after its connection failed, with back the fleet patterns
	// Redis has confirmed since.
	fleet          *fleet
	rdb            goredis.UniversalClient
	wire           map[string]string
	mark, notice   string
	noticePattern  string // the pattern whose followers a notice resyncs
	member, broken bool
	back           int
	// waiting are the Subscribe and Unsubscribe calls waiting for Redis's
	// confirmation, by kind and channel.
	waiting map[[2]string][]chan struct{}
	// refused, while a fleet member's patterns wait for their
	// confirmation, is closed when Redis refuses them instead (NOPERM).
	refused chan struct{}

	stop chan struct{}
	once sync.Once

	checks busChecks
}

// The listener's check of an idle connection, as go-redis's PubSub
// channels do it: a ping after pubsubCheckEvery without a message, sent
// within pubsubPingTimeout.
const (
	pubsubCheckEvery  = 3 * time.Second
	pubsubPingTimeout = 5 * time.Second
	shardCheckEvery   = 30 * time.Second
)

// run reads the pub/sub connection (go-redis's PubSub.ReceiveTimeout) and
// hands each message on, on this one goroutine. go-redis's
// ChannelWithSubscriptions would read it on a goroutine of its own, wake
// its health check's for every message, and hand the message to this one:
// two goroutine switches more for every turn's echo. What it did besides
// is done here: a ping proves an idle connection, and after an error
// go-redis connects and subscribes again on the next receive (the
// confirmations then tell the followers to catch up).
//
// A ping that is written proves nothing by itself: a connection can go
// silent without breaking (a NAT or load balancer that forgot it, a
// network that parted, a failed-over host gone without a reset), and
// then it takes every write and answers none, until the kernel gives it
// up after about 15 minutes of retransmissions. So after a ping the
// next receive must bring something (the pong at least) within
// checks.pong: it is made without go-redis's allowance for a timeout,
// so go-redis drops a connection that stays silent and connects again.
func (l *listener) run() {
	defer func() {
		// Shards' readers send too (fromShard): out closes once none is.
		l.outMu.Lock()
		l.outClosed = true
		close(l.out)
		l.outMu.Unlock()
	}()
	ctx := context.Background()
	errs := 0
	r := pubsubReader{ps: l.ps, every: l.checks.every, pong: l.checks.pong}
	for {
		msg, err := r.next(ctx)
		select {
		case <-l.stop:
			return
		default:
		}
		if err != nil {
			if errors.Is(err, goredis.ErrClosed) {
				return
			}
			if goredis.IsPermissionError(err) && l.refuse() {
				// The fleet patterns refused by an ACL: an error reply
				// on a sound connection, and PSubscribe falls back.
				continue
			}
			l.fleetBroken()
			// Broken, or silent after a ping: go-redis connects and
			// subscribes again on the next receive; errors in a row
			// wait between tries.
			if errs++; errs > 1 {
				select {
				case <-l.stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
			continue
		}
		errs = 0
		var m store.Message
		switch msg := msg.(type) {
		case *goredis.Message:
			m = store.Message{Channel: msg.Channel, Payload: msg.Payload}
			if p, notice := l.noticeOf(msg); notice {
				// Another fleet member subscribed again after a break:
				// a quiet turn of its meanwhile may have gone unheard
				// here (fleet.go).
				if p == "" {
					continue
				}
				m = store.Message{Channel: p, Resync: true}
			}
		case *goredis.Subscription:
			l.confirmed1(msg.Kind, msg.Channel)
			switch msg.Kind {
			case "subscribe":
				if !l.confirm(l.followed, l.confirmed, msg.Channel) {
					continue
				}
			case "psubscribe":
				p, ok := l.logical(msg.Channel)
				if !ok || !l.confirm(l.patterns, l.pconfirmed, p) {
					continue
				}
				msg.Channel = p
			default:
				continue
			}
			// Subscribed again on a new connection: what was
			// published in between is lost.
			m = store.Message{Channel: msg.Channel, Resync: true}
		default:
			continue // a pong
		}
		select {
		case l.out <- m:
		case <-l.stop:
			return
		}
	}
}

// pubsubReader reads a pub/sub connection with the check of an idle one.
type pubsubReader struct {
	ps          *goredis.PubSub
	every, pong time.Duration
	pinged      bool
}

// next is the connection's next message (or pong, or confirmation). When
// nothing comes for every, it pings, and then something must come within
// pong: the read after a ping is made without go-redis's allowance for a
// timeout, so go-redis drops a connection that stays silent (and connects
// again on the next read), and next answers the timeout. A ping that
// cannot be written is answered too.
func (r *pubsubReader) next(ctx context.Context) (any, error) {
	for {
		if r.pinged {
			r.pinged = false
			pctx, cancel := context.WithTimeout(ctx, r.pong)
			defer cancel()
			return r.ps.ReceiveTimeout(pctx, 0)
		}
		msg, err := r.ps.ReceiveTimeout(ctx, r.every)
		var ne net.Error
		if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
			return msg, err
		}
		pctx, cancel := context.WithTimeout(ctx, r.pong)
		err = r.ps.Ping(pctx)
		cancel()
		if err != nil {
			return nil, err
		}
		r.pinged = true
	}
}

// confirm records Redis's confirmation of a subscription to ch (a channel
// of followed, or a pattern) and reports whether it had been confirmed
// before.
func (l *listener) confirm(followed, confirmed map[string]bool, ch string) (again bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !followed[ch] {
		return false
	}
	again = confirmed[ch]
	confirmed[ch] = true
	return again
}

// confirmed1 wakes the calls waiting for Redis to confirm kind on ch.
func (l *listener) confirmed1(kind, ch string) {
	l.mu.Lock()
	k := [2]string{kind, ch}
	ws := l.waiting[k]
	delete(l.waiting, k)
	l.mu.Unlock()
	for _, w := range ws {
		close(w)
	}
}

// wait registers a wait for the confirmation of kind on each channel.
func (l *listener) wait(kind string, channels []string) []chan struct{} {
	if l.waiting == nil {
		l.waiting = map[[2]string][]chan struct{}{}
	}
	out := make([]chan struct{}, len(channels))
	for i, ch := range channels {
		out[i] = make(chan struct{})
		k := [2]string{kind, ch}
		l.waiting[k] = append(l.waiting[k], out[i])
	}
	return out
}

func (l *listener) await(ctx context.Context, ws []chan struct{}) error {
	return l.awaitUnlessRefused(ctx, ws, nil)
}

// errPatternsRefused is a fleet member's patterns refused by Redis (NOPERM).
var errPatternsRefused = errors.New("the fleet's patterns refused by Redis (NOPERM)")

// awaitUnlessRefused is await that ends, with errPatternsRefused, when
// refused (nil: never) is closed first.
func (l *listener) awaitUnlessRefused(ctx context.Context, ws []chan struct{}, refused chan struct{}) error {
	for _, w := range ws {
		select {
		case <-w:
		case <-refused:
			return errPatternsRefused
		case <-l.stop:
			return store.ErrListenerClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// refuse tells a fleet member's PSubscribe waiting for its patterns that
// Redis refused them, and reports whether one was waiting.
func (l *listener) refuse() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.refused == nil {
		return false
	}
	close(l.refused)
	l.refused = nil
	return true
}

// Subscribe subscribes and waits for Redis to confirm, so that whatever is
// published afterwards is delivered.
func (l *listener) Subscribe(ctx context.Context, channels ...string) error {
	l.mu.Lock()
	for _, ch := range channels {
		l.followed[ch] = true
	}
	ws := l.wait("subscribe", channels)
	l.mu.Unlock()
	if err := l.ps.Subscribe(ctx, channels...); err != nil {
		return err
	}
	if err := l.await(ctx, ws); err != nil {
		return err
	}
	// A placed conversation's channel on a Cluster is heard on its
	// shard.
	for _, ch := range channels {
		if _, _, ok := shardRoute(ch); ok && l.cc != nil {
			prefix, _, _ := strings.Cut(ch, "{c:")
			if err := l.hearShards(ctx, prefix); err != nil {
				return err
			}
		}
	}
	return nil
}

// PSubscribe subscribes to patterns and waits for Redis to confirm, so
// that whatever is published afterwards on a matching channel is
// delivered. On a Redis Cluster, whose classic pub/sub reaches every
// node, one pattern subscription on any node hears every channel.
//
// On one node, a bus of an Engine subscribes its first pattern as a fleet
// member (fleet.go): the pattern with its "*" doubled and the marker, in
// one PSUBSCRIBE, then the fleet's and the process's channels; once Redis
// confirmed them all, the process's turns may be quiet.
func (l *listener) PSubscribe(ctx context.Context, patterns ...string) error {
	wire := patterns
	member := false
	l.mu.Lock()
	for _, p := range patterns {
		l.patterns[p] = true
	}
	if l.fleet != nil && l.notice == "" && len(patterns) == 1 {
		var pats [2]string
		var notice string
		var ok bool
		if pats, notice, ok = fleetSubs(patterns[0], l.fleet.id); ok {
			l.notice, l.noticePattern = notice, patterns[0]
			// On a Cluster the pattern is subscribed as written: only
			// placed conversations' turns may be quiet there, by their
			// shard channels' count (fleet.go).
			if member = l.cc == nil; member {
				l.wire = map[string]string{pats[0]: patterns[0]}
				l.mark = pats[1]
				wire = pats[:]
			}
		}
	}
	ws := l.wait("psubscribe", wire)
	var refused chan struct{}
	if member {
		refused = make(chan struct{})
		l.refused = refused
	}
	l.mu.Unlock()
	err := l.ps.PSubscribe(ctx, wire...)
	if err == nil {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if member {
			// Redis refuses the doubled pattern with an error reply
			// (NOPERM: an ACL that names channel patterns, such as
			// &pb:*), which run reads and tells by refused, and never
			// confirms it. The wait is bounded besides, for a refusal
			// that does not say NOPERM.
			actx, cancel = context.WithTimeout(ctx, fleetWait)
		}
		err = l.awaitUnlessRefused(actx, ws, refused)
		cancel()
	}
	if member && err != nil && ctx.Err() == nil && !errors.Is(err, store.ErrListenerClosed) {
		// The pattern as written, as an older version subscribes it:
		// not a fleet member, and the others publish every turn.
		_ = l.ps.PUnsubscribe(ctx, wire...)
		l.mu.Lock()
		l.wire, l.mark, l.refused = nil, "", nil
		member, wire = false, patterns
		ws = l.wait("psubscribe", wire)
		l.mu.Unlock()
		if err = l.ps.PSubscribe(ctx, wire...); err == nil {
			err = l.await(ctx, ws)
		}
	}
	if err != nil {
		return err
	}
	if member {
		l.mu.Lock()
		l.member, l.refused = true, nil
		l.mu.Unlock()
		l.fleet.on.Store(true)
	}
	for _, p := range patterns {
		if prefix, ok := patternPrefix(p); ok {
			if err := l.hearShards(ctx, prefix); err != nil {
				return err
			}
		}
	}
	return nil
}

// patternPrefix returns the key prefix whose conversation channels
// pattern matches whole: prefix+"*" or prefix+"{c:*}:live".
func patternPrefix(pattern string) (string, bool) {
	pre, suf, ok := strings.Cut(pattern, "*")
	if !ok {
		return "", false
	}
	if suf == "}:live" {
		if pre, ok = strings.CutSuffix(pre, "{c:"); !ok {
			return "", false
		}
	} else if suf != "" {
		return "", false
	}
	return pre, !strings.ContainsAny(pre, "*?[\\{}")
}

// hearShards subscribes, on a Cluster, to the shard channels of prefix,
// once, and waits for Redis to confirm them all.
func (l *listener) hearShards(ctx context.Context, prefix string) error {
	if l.cc == nil {
		return nil
	}
	l.shardsMu.Lock()
	defer l.shardsMu.Unlock()
	if l.shards == nil {
		l.shards = map[string]*shardSubs{}
	}
	if _, ok := l.shards[prefix]; ok {
		return nil
	}
	s := newShardSubs(l.cc, prefix, l.fromShard, l.stop)
	s.checks = l.checks
	if l.fleet != nil {
		s.quiet = func(on, again bool) {
			l.fleet.shards.Store(on)
			if again && l.notice != "" {
				go l.sendNotice()
			}
		}
	}
	if err := s.start(ctx); err != nil {
		return err
	}
	l.shards[prefix] = s
	return nil
}

// fromShard hands on a message heard on a shard channel: a conversation's
// message when the listener follows its channel, or a Resync of a shard
// channel as a Resync of each followed channel it covers, and for the
// patterns, of the shard channel (Covers); false once closed.
func (l *listener) fromShard(m store.Message) bool {
	var out []store.Message
	l.mu.Lock()
	if m.Resync {
		for ch := range l.followed {
			if covers(m.Channel, ch) {
				out = append(out, store.Message{Channel: ch, Resync: true})
			}
		}
		if len(l.patterns) > 0 {
			out = append(out, m)
		}
	} else if l.followed[m.Channel] || l.matches(m.Channel) {
		out = append(out, m)
	}
	l.mu.Unlock()
	l.outMu.RLock()
	defer l.outMu.RUnlock()
	if l.outClosed {
		return false
	}
	for _, m := range out {
		select {
		case l.out <- m:
		case <-l.stop:
			return false
		}
	}
	return true
}

// matches reports whether a pattern subscribed covers ch (l.mu held).
func (l *listener) matches(ch string) bool {
	for p := range l.patterns {
		if pre, suf, ok := strings.Cut(p, "*"); ok && strings.HasPrefix(ch, pre) && strings.HasSuffix(ch[len(pre):], suf) {
			return true
		}
	}
	return false
}

// Covers implements store.ShardListener: a Resync of shard channel
// resynced is one of conversation channel ch when ch's placed slot is
// resynced's.
func (l *listener) Covers(resynced, ch string) bool { return covers(resynced, ch) }

// Unsubscribe unsubscribes and waits for Redis to confirm, so that nothing
// published afterwards is delivered.
func (l *listener) Unsubscribe(ctx context.Context, channels ...string) error {
	l.mu.Lock()
	for _, ch := range channels {
		delete(l.followed, ch)
		delete(l.confirmed, ch)
	}
	ws := l.wait("unsubscribe", channels)
	l.mu.Unlock()
	if err := l.ps.Unsubscribe(ctx, channels...); err != nil {
		return err
	}
	return l.await(ctx, ws)
}

// fleetWait bounds the wait for Redis to confirm a fleet member's
// patterns; past it the listener subscribes the pattern as written.
var fleetWait = 5 * time.Second

// logical is the pattern a confirmed pattern subscription stands for (the
// pattern it was subscribed as, fleet.go); ok is false for the marker. A
// fleet member's two patterns both confirmed again after a break make its
// turns quiet again, and its notice tells the other members to catch up.
func (l *listener) logical(p string) (string, bool) {
	l.mu.Lock()
	q, hearing := l.wire[p]
	mark := p == l.mark && p != ""
	again := false
	if l.broken && (hearing || mark) {
		if l.back++; l.back == 2 {
			l.broken, l.back, again = false, 0, true
		}
	}
	l.mu.Unlock()
	if again {
		l.fleet.on.Store(true)
		go l.sendNotice()
	}
	if hearing {
		return q, true
	}
	return p, !mark
}

// noticeOf reports whether msg is the fleet's notice and, unless it is
// this process's own, the pattern whose followers catch up ("" for none).
func (l *listener) noticeOf(msg *goredis.Message) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.notice == "" || msg.Channel != l.notice {
		return "", false
	}
	if msg.Payload == l.fleet.id {
		return "", true
	}
	return l.noticePattern, true
}

// fleetBroken is called when the listener's connection failed: the
// process's turns are published until its fleet patterns are back.
func (l *listener) fleetBroken() {
	l.mu.Lock()
	member := l.member
	if member {
		l.broken, l.back = true, 0
	}
	l.mu.Unlock()
	if member {
		l.fleet.on.Store(false)
	}
}

// sendNotice publishes the fleet's notice (fleet.go), bounded; a failure
// is left: the other members' next break resyncs them anyway.
func (l *listener) sendNotice() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = l.rdb.Publish(ctx, l.notice, l.fleet.id).Err()
}

func (l *listener) Messages() <-chan store.Message { return l.out }

func (l *listener) Close() error {
	var err error
	l.once.Do(func() {
		l.mu.Lock()
		member := l.member
		l.member = false
		l.mu.Unlock()
		if member {
			// The process's turns are published again.
			l.fleet.on.Store(false)
		}
		if l.fleet != nil && l.cc != nil {
			l.fleet.shards.Store(false)
		}
		close(l.stop)
		err = l.ps.Close()
	})
	return err
}
