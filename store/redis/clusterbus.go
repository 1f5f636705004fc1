package redis

import (
	"context"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/store"
)

var _ store.Bus = (*batchedBus)(nil)

// batchedBus is a Cluster's Bus as the engine hands it out (Engine.Bus):
// its Publish sends PUBLISH and SPUBLISH through the Cluster client, so
// that with serve's Coalescer each rides in a batch (one request to the
// master with whatever else the batch has for it) instead of going alone
// on the master's node client, where no batch sees it: a handoff's
// new-chat notice on a Cluster, published after the queue's step, was a
// request of its own (about 0.07 of the 0.44 requests a turn the masters
// read in the bench, docs/benchmarks.md). Listening is the Bus's.
//
// Each message goes to the node Bus.Publish sends it to: the command's
// first key position is set to its channel (a classic PUBLISH names no
// key, and go-redis would send it to a master of its choice), so a
// channel's messages keep their order as before, and processes of either
// version publish a channel on the same master. A placed conversation's
// channel goes by SPUBLISH on its shard channel (shardRoute), as before.
type batchedBus struct {
	*Bus
	cc *goredis.ClusterClient
}

// newEngineBus is Engine.Bus: a batchedBus on a Cluster, else the Bus;
// either with the process's fleet (fleet.go).
func newEngineBus(rdb goredis.UniversalClient, f *fleet) store.Bus {
	b := NewBus(rdb)
	b.fleet = f
	if cc, ok := rdb.(*goredis.ClusterClient); ok {
		return &batchedBus{Bus: b, cc: cc}
	}
	return b
}

// busOn is a Bus or a batchedBus.
type busOn interface{ bus() *Bus }

func (b *Bus) bus() *Bus        { return b }
func (b *batchedBus) bus() *Bus { return b.Bus }

// busOf returns the Bus under publisher, when it is one of this package's.
func busOf(publisher any) (*Bus, bool) {
	if b, ok := publisher.(busOn); ok {
		return b.bus(), true
	}
	return nil, false
}

// Publish implements store.Bus (see Bus.Publish).
func (b *batchedBus) Publish(ctx context.Context, channel, payload string) error {
	name, arg := "publish", payload
	if sc, head, ok := shardRoute(channel); ok {
		name, channel, arg = "spublish", sc, head+payload
	}
	cmd := goredis.NewIntCmd(ctx, name, channel, arg)
	cmd.SetFirstKeyPos(1) // the channel's slot: Bus.Publish's node
	_ = b.cc.Process(ctx, cmd)
	return cmd.Err()
}
