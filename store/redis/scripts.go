package redis

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// scripts are every Lua script of this package (newScript), loaded on
// every master when an Engine first finds Redis ready (loadScripts): a
// script's first call on a node then finds it there, instead of failing
// with NOSCRIPT and being sent again whole (a second round trip, on each
// master, for each script).
var scripts struct {
	mu  sync.Mutex
	all []*goredis.Script
	src []string // all's sources, in the same order
}

// newScript is goredis.NewScript of src after its globals' locals line
// (withLocals), remembered in scripts.
func newScript(src string) *goredis.Script {
	s, _ := addScript(src)
	return s
}

// addScript is newScript, with the source the script's hash is of (src
// after its locals line): what an EVAL of it must send.
func addScript(src string) (*goredis.Script, string) {
	src = withLocals(src)
	s := goredis.NewScript(src)
	scripts.mu.Lock()
	scripts.all = append(scripts.all, s)
	scripts.src = append(scripts.src, src)
	scripts.mu.Unlock()
	return s, src
}

// luaGlobals are the globals a script may read (Redis 7's Lua: KEYS,
// ARGV, redis and the libraries), found in a script's code (luaCode) as
// names not after a dot or a colon.
var luaGlobals = regexp.MustCompile(`(^|[^.:\w])(KEYS|ARGV|redis|tonumber|tostring|string|table|unpack|ipairs|pairs|type|math|cjson|error|pcall|select|next|bit|struct|cmsgpack)\b`)

// luaNoCode are a script's comments and string literals.
var luaNoCode = regexp.MustCompile(`--[^\n]*|'[^'\n]*'|"[^"\n]*"`)

// luaCode is a script's code without its comments and string literals.
func luaCode(src string) string {
	return luaNoCode.ReplaceAllString(src, "")
}

// withLocals is src after a first line that makes the globals src reads
// locals ("local KEYS, ARGV = KEYS, ARGV"): a global read costs Redis 7's
// Lua far more than a local's (about 5 k instructions less a turn, issue
// 13), and a script built of pieces (a shared function put before it)
// then reads each global once too. The script does the same.
func withLocals(src string) string {
	var names []string
	seen := map[string]bool{}
	for _, m := range luaGlobals.FindAllStringSubmatch(luaCode(src), -1) {
		if !seen[m[2]] {
			seen[m[2]] = true
			names = append(names, m[2])
		}
	}
	if len(names) == 0 {
		return src
	}
	list := strings.Join(names, ", ")
	return "local " + list + " = " + list + "\n" + src
}

// loadScripts loads every script on rdb: one pipeline on one node, one
// per master on a Redis Cluster. A node that restarts or a replica that is
// promoted has none: a script's call there sends it whole, as before.
func loadScripts(ctx context.Context, rdb goredis.UniversalClient) error {
	scripts.mu.Lock()
	src := scripts.src
	scripts.mu.Unlock()
	load := func(ctx context.Context, c goredis.Cmdable) error {
		// SCRIPT LOAD, not Script.Load: that sets the script's hash to the
		// reply, which a pipeline has not read yet.
		_, err := c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, s := range src {
				p.ScriptLoad(ctx, s)
			}
			return nil
		})
		return err
	}
	if cc, ok := rdb.(*goredis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error { return load(ctx, n) })
	}
	return load(ctx, rdb)
}

// boxedScript is a script whose hash and source are kept where a pointer
// to them can be an EVALSHA's or an EVAL's argument (go-redis writes a
// *string as the string): a command's arguments then box neither, nor the
// keys (evalCmd). For the scripts of every turn.
type boxedScript struct {
	s        *goredis.Script
	sha, src string
}

func newBoxedScript(src string) *boxedScript {
	s, src := addScript(src)
	return &boxedScript{s: s, sha: s.Hash(), src: src}
}

// evalCmd is EVALSHA of b with keys and args (or EVAL, its source, when
// whole): keys go as pointers into keys, which must not change until the
// command is sent. One allocation for the arguments, one for the command.
func (b *boxedScript) evalCmd(ctx context.Context, whole bool, keys []string, args []any) *goredis.Cmd {
	all := make([]any, 0, 3+len(keys)+len(args))
	if whole {
		all = append(all, "eval", &b.src, len(keys))
	} else {
		all = append(all, "evalsha", &b.sha, len(keys))
	}
	for i := range keys {
		all = append(all, &keys[i])
	}
	all = append(all, args...)
	cmd := goredis.NewCmd(ctx, all...)
	if len(keys) > 0 {
		cmd.SetFirstKeyPos(3)
	}
	return cmd
}

// Run is goredis.Script.Run: EVALSHA, and EVAL when the node does not
// have the script.
func (b *boxedScript) Run(ctx context.Context, c goredis.UniversalClient, keys []string, args []any) *goredis.Cmd {
	cmd := b.evalCmd(ctx, false, keys, args)
	_ = c.Process(ctx, cmd)
	if isNoScript(cmd.Err()) {
		cmd = b.evalCmd(ctx, true, keys, args)
		_ = c.Process(ctx, cmd)
	}
	return cmd
}

// scriptCall is a *goredis.Script's Eval, EvalSha or Run.
type scriptCall = func(*goredis.Script, context.Context, goredis.Scripter, []string, ...any) *goredis.Cmd

// rerunNoScript sends again, in one pipeline once every script is loaded,
// the commands of cmds (a pipeline's, run) that found no script on their
// node (NOSCRIPT: it restarted, or its scripts were flushed), as
// goredis.Script.Run does for one; it returns the first error of cmds
// then.
func rerunNoScript(ctx context.Context, rdb goredis.UniversalClient, cmds []goredis.Cmder) error {
	var again []goredis.Cmder
	for _, cmd := range cmds {
		if isNoScript(cmd.Err()) {
			again = append(again, cmd)
		}
	}
	if len(again) > 0 && loadScripts(ctx, rdb) == nil {
		pipe := rdb.Pipeline()
		for _, cmd := range again {
			cmd.SetErr(nil)
			_ = pipe.Process(ctx, cmd)
		}
		_, _ = pipe.Exec(ctx)
	}
	for _, cmd := range cmds {
		if err := cmd.Err(); err != nil {
			return err
		}
	}
	return nil
}

// isNoScript reports whether err is Redis's NOSCRIPT. No error is not,
// with no allocation (goredis.ErrNoScript boxed for errors.Is and
// HasErrorPrefix's target were two allocations a call).
func isNoScript(err error) bool {
	return err != nil && (errors.Is(err, errNoScript) || goredis.HasErrorPrefix(err, "NOSCRIPT"))
}

// errNoScript is goredis.ErrNoScript boxed once.
var errNoScript error = goredis.ErrNoScript
