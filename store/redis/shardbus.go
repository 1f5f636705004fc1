package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/store"
)

// Sharded pub/sub of placed conversations on a Redis Cluster.
//
// A classic PUBLISH on a Cluster goes over the cluster bus to every node,
// replicas included. A placed conversation's live messages (slots.go)
// instead go by SPUBLISH on the shard channel of its placed slot,
// prefix+"{fn:N}:live" (N its placed shard's name): they stay on the
// slot's master and its replicas. The payload is the conversation's id, a
// newline, and what PUBLISH would have sent on its own channel; a
// listener that hears it hands it on as a message of the conversation's
// channel (Store.Channel), so followers see no difference.
//
// A listener whose pattern covers the conversations' channels SSUBSCRIBEs
// the PlacedShards shard channels, one SSUBSCRIBE each (Redis refuses
// one over several slots), on one connection per master. After a break
// (a node down, a failover, a reshard: Redis 7 ends the subscriptions of
// a slot that moves with an sunsubscribe) it reads the slot map again and
// subscribes where each slot now lives; each shard channel subscribed
// again comes as a Resync of that channel, which Covers the conversations
// of its slot.

// shardChannel is the shard channel of placed shard n (fnvShards and up)
// under prefix.
func shardChannel(prefix string, n int) string {
	return prefix + shardTag(n) + "live"
}

// shardRoute returns, for a conversation channel (prefix+"{c:ID}:live")
// of a placed id, its shard channel and the payload's head (ID and a
// newline); ok is false for any other channel.
func shardRoute(channel string) (shardCh, head string, ok bool) {
	prefix, id, n, ok := placedChannel(channel)
	if !ok {
		return "", "", false
	}
	return shardChannel(prefix, n), id + "\n", true
}

// placedChannel splits a conversation channel (prefix+"{c:ID}:live") of a
// placed id into its prefix, its id and its placed shard, without
// allocating; ok is false for any other channel.
func placedChannel(channel string) (prefix, id string, n int, ok bool) {
	prefix, rest, found := strings.Cut(channel, "{c:")
	if !found {
		return "", "", 0, false
	}
	id, suf, _ := strings.Cut(rest, "}")
	if suf != ":live" || strings.ContainsRune(id, '\n') {
		return "", "", 0, false
	}
	if n = placedShardOf(id); n < 0 {
		return "", "", 0, false
	}
	return prefix, id, n, true
}

// shardSubs holds a listener's sharded subscriptions: every shard channel
// of prefix, each on its slot's master.
type shardSubs struct {
	cc     *goredis.ClusterClient
	prefix string
	// deliver hands a message to the listener; false once it is closed.
	deliver func(store.Message) bool

	kick chan struct{}
	stop chan struct{}

	mu     sync.Mutex
	groups map[string]*shardGroup // by master address
	on     map[string]*shardGroup // shard channel -> the group it was subscribed on
	// ever: the shard channels confirmed once; a later confirmation is
	// a subscription made again after a break.
	ever map[string]bool
	// ready is closed when every shard channel has been confirmed once.
	ready chan struct{}
	// late: start stopped waiting for ready.
	late bool
	// live are the shard channels confirmed on a connection that has
	// not failed since; quiet, when set, is told when all are (on) and
	// when one no longer is, and again whether they all came back after
	// a break (fleet.go: a placed conversation's quiet turns).
	live   map[string]bool
	quiet  func(on, again bool)
	broken bool

	checks busChecks
}

// shardGroup is one pub/sub connection to one master.
type shardGroup struct {
	addr  string
	cl    *goredis.Client
	ps    *goredis.PubSub
	dead  bool
	chans map[string]bool // subscribed (or being subscribed) here
	// leaving are the channels unsubscribed on purpose: their
	// sunsubscribe is expected.
	leaving map[string]bool
}

func newShardSubs(cc *goredis.ClusterClient, prefix string, deliver func(store.Message) bool, stop chan struct{}) *shardSubs {
	return &shardSubs{cc: cc, prefix: prefix, deliver: deliver, kick: make(chan struct{}, 1), stop: stop,
		groups: map[string]*shardGroup{}, on: map[string]*shardGroup{}, ever: map[string]bool{}, ready: make(chan struct{}), live: map[string]bool{}}
}

// start subscribes to every shard channel and waits for Redis to confirm
// them all; then it keeps them subscribed until stop.
func (s *shardSubs) start(ctx context.Context) error {
	// What cannot be subscribed now (a master down, a slot with no
	// master) is tried again until it is.
	err := s.reconcile(ctx)
	go s.supervise()
	if err != nil {
		s.poke()
	}
	t := time.NewTimer(startWait)
	defer t.Stop()
	select {
	case <-s.ready:
		return nil
	case <-s.stop:
		return store.ErrListenerClosed
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		// A slot without a reachable master: the rest is heard, and
		// each shard channel confirmed from now on comes as a Resync
		// (its followers may have missed something).
		s.mu.Lock()
		s.late = true
		s.mu.Unlock()
		return nil
	}
}

// startWait bounds how long start waits for every shard channel.
const startWait = 10 * time.Second

// supervise subscribes again what a break, a failover or a reshard
// undid: at once when told (kick), and every second to retry what could
// not be done then.
func (s *shardSubs) supervise() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	defer s.closeAll()
	for {
		select {
		case <-s.stop:
			return
		case <-s.kick:
		case <-t.C:
			if s.complete() {
				continue
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.reconcile(ctx)
		cancel()
		// A bound on how fast a flapping cluster is asked again.
		select {
		case <-s.stop:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *shardSubs) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// complete reports whether every shard channel is subscribed on a live
// connection.
func (s *shardSubs) complete() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for n := fnvShards; n < fnvShards+PlacedShards; n++ {
		if g := s.on[shardChannel(s.prefix, n)]; g == nil || g.dead {
			return false
		}
	}
	return true
}

// owners reads the cluster's slot map: the master address of each slot
// that has one.
func (s *shardSubs) owners(ctx context.Context) (map[int]string, error) {
	slots, err := s.cc.ClusterSlots(ctx).Result()
	if err != nil {
		return nil, err
	}
	out := map[int]string{}
	for _, r := range slots {
		if len(r.Nodes) == 0 {
			continue
		}
		for sl := r.Start; sl <= r.End; sl++ {
			out[sl] = r.Nodes[0].Addr
		}
	}
	return out, nil
}

// reconcile subscribes each shard channel on its slot's master, moving
// those whose slot moved and those of dead connections.
func (s *shardSubs) reconcile(ctx context.Context) error {
	own, err := s.owners(ctx)
	if err != nil {
		return err
	}
	// The cluster client's own map is refreshed too (publishes).
	s.cc.ReloadState(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	var firstErr error
	for n := fnvShards; n < fnvShards+PlacedShards; n++ {
		ch := shardChannel(s.prefix, n)
		addr, ok := own[int(slot("fn:"+strconv.Itoa(placedNames[n-fnvShards])))]
		if !ok {
			continue // no master has the slot now: retried later
		}
		old := s.on[ch]
		if old != nil && !old.dead && old.addr == addr {
			continue
		}
		if old != nil {
			delete(old.chans, ch)
			delete(s.on, ch)
			if !old.dead {
				old.leaving[ch] = true
				_ = old.ps.SUnsubscribe(ctx, ch)
			}
		}
		g := s.groups[addr]
		if g == nil || g.dead {
			g = s.open(addr)
			s.groups[addr] = g
		}
		g.chans[ch] = true
		delete(g.leaving, ch)
		s.on[ch] = g
		if err := g.ps.SSubscribe(ctx, ch); err != nil {
			s.fail(g)
			if firstErr == nil {
				firstErr = fmt.Errorf("SSUBSCRIBE on %s: %w", addr, err)
			}
		}
	}
	for addr, g := range s.groups {
		if len(g.chans) == 0 || g.dead {
			s.fail(g)
			delete(s.groups, addr)
		}
	}
	return firstErr
}

// open starts a connection to the master at addr (s.mu held).
func (s *shardSubs) open(addr string) *shardGroup {
	co := s.cc.Options()
	cl := goredis.NewClient(&goredis.Options{
		Addr: addr, ClientName: co.ClientName, Username: co.Username, Password: co.Password, CredentialsProvider: co.CredentialsProvider,
		TLSConfig: co.TLSConfig, Dialer: co.Dialer, DialTimeout: co.DialTimeout,
		ReadTimeout: co.ReadTimeout, WriteTimeout: co.WriteTimeout, Protocol: co.Protocol,
		PoolSize: 1, MaxRetries: -1,
	})
	g := &shardGroup{addr: addr, cl: cl, ps: cl.SSubscribe(context.Background()), chans: map[string]bool{}, leaving: map[string]bool{}}
	go s.read(g)
	return g
}

// fail closes g's connection; its channels are subscribed elsewhere by
// the next reconcile (s.mu held).
func (s *shardSubs) fail(g *shardGroup) {
	if g.dead {
		return
	}
	g.dead = true
	for ch := range g.chans {
		s.notLive(ch)
	}
	_ = g.ps.Close()
	_ = g.cl.Close()
}

func (s *shardSubs) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.groups {
		s.fail(g)
	}
}

// read hands g's messages on until g is closed. As the listener's own
// connection (listener.run), an idle connection is pinged and must answer
// within checks.pong, or it is taken for silent and given up.
func (s *shardSubs) read(g *shardGroup) {
	ctx := context.Background()
	r := pubsubReader{ps: g.ps, every: s.checks.shardEvery, pong: s.checks.pong}
	for {
		msg, err := r.next(ctx)
		s.mu.Lock()
		dead := g.dead
		s.mu.Unlock()
		if dead {
			return
		}
		if err != nil {
			// A broken or silent connection (go-redis would subscribe
			// again with one SSUBSCRIBE over many slots, which Redis
			// refuses), or an error reply (MOVED: the slot map was
			// stale): start over with a fresh map.
			s.mu.Lock()
			s.fail(g)
			s.mu.Unlock()
			s.poke()
			return
		}
		switch m := msg.(type) {
		case *goredis.Message:
			id, payload, ok := strings.Cut(m.Payload, "\n")
			if !ok {
				continue
			}
			if !s.deliver(store.Message{Channel: s.prefix + "{c:" + id + "}:live", Payload: payload}) {
				return
			}
		case *goredis.Subscription:
			s.subscription(g, m)
		}
	}
}

// subscription handles Redis's confirmations on g.
func (s *shardSubs) subscription(g *shardGroup, m *goredis.Subscription) {
	s.mu.Lock()
	switch m.Kind {
	case "ssubscribe":
		if s.on[m.Channel] != g {
			s.mu.Unlock()
			return
		}
		again := s.ever[m.Channel] || s.late
		if !s.ever[m.Channel] {
			s.ever[m.Channel] = true
			if len(s.ever) == PlacedShards {
				close(s.ready)
			}
		}
		s.live[m.Channel] = true
		if len(s.live) == PlacedShards && s.quiet != nil {
			s.quiet(true, s.broken)
			s.broken = false
		}
		s.mu.Unlock()
		if again {
			// What was published while it was not subscribed is lost.
			s.deliver(store.Message{Channel: m.Channel, Resync: true})
		}
		return
	case "sunsubscribe":
		if g.leaving[m.Channel] {
			delete(g.leaving, m.Channel)
			s.mu.Unlock()
			return
		}
		// Redis ended it: the slot moved (a reshard).
		if s.on[m.Channel] == g {
			delete(s.on, m.Channel)
			delete(g.chans, m.Channel)
			s.notLive(m.Channel)
		}
		s.mu.Unlock()
		s.poke()
		return
	}
	s.mu.Unlock()
}

// notLive records that shard channel ch is no longer subscribed on a live
// connection: a placed conversation's turns are published until every
// shard channel is again (s.mu held).
func (s *shardSubs) notLive(ch string) {
	if !s.live[ch] {
		return
	}
	delete(s.live, ch)
	if s.quiet != nil {
		s.quiet(false, false)
		s.broken = true
	}
}

// covers reports whether conversation channel ch is heard on shard
// channel shardCh.
func covers(shardCh, ch string) bool {
	sc, _, ok := shardRoute(ch)
	return ok && sc == shardCh
}
