package redis

import (
	"context"
	"errors"
	"slices"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/store"
)

// Observe tells o of every round trip rdb makes: a command ("command") or
// a pipeline ("pipeline"), with its duration and whether Redis failed. A
// missing key (redis.Nil), a script not cached yet (NOSCRIPT, which
// go-redis answers by sending the script) and a cancelled request are not
// failures; a new connection's handshake is not counted. On a cluster a
// pipeline counts once, whatever the nodes it goes to.
func Observe(rdb goredis.UniversalClient, o store.Observer) {
	if rdb != nil && o != nil {
		rdb.AddHook(observeHook{o})
	}
}

type observeHook struct{ o store.Observer }

func (h observeHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h observeHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		if !handshake(cmd) {
			h.o.RoundTrip("command", time.Since(start), storeFailure(err))
		}
		return err
	}
}

func (h observeHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		if slices.ContainsFunc(cmds, func(c goredis.Cmder) bool { return !handshake(c) }) {
			h.o.RoundTrip("pipeline", time.Since(start), storeFailure(err))
		}
		return err
	}
}

// handshake reports whether cmd is one go-redis sends on a new connection
// and whose error it ignores (HELLO and CLIENT SETINFO, which an older
// Redis does not know): not counted, neither as a round trip nor as a
// failure.
func handshake(cmd goredis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "client":
		return true
	}
	return false
}

// storeFailure is err when it says Redis failed, nil otherwise.
func storeFailure(err error) error {
	if err == nil || errors.Is(err, goredis.Nil) || errors.Is(err, context.Canceled) || goredis.HasErrorPrefix(err, "NOSCRIPT") {
		return nil
	}
	return err
}
