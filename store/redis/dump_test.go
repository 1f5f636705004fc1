package redis

import (
	"context"
	"strconv"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/internal/redistest"
)

// TestDumpPayloadIsWhatRedisBuilds: the RESTORE payload a start sends
// for its inbox record and a new visitor's list (dump.go) makes the very
// listpack HSET or ZADD of the same members builds: the two keys' DUMPs
// are equal, byte for byte, for strings and integers of every listpack
// encoding (6- and 12-bit lengths, 7-, 13-, 16-, 24-, 32- and 64-bit
// integers, and texts that look like integers but are not kept so).
func TestDumpPayloadIsWhatRedisBuilds(t *testing.T) {
	if got := crc64Update([]byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Fatalf("crc64 of 123456789 = %#x, want Redis's 0xe9c6d914c4b8d9ca", got)
	}
	srv := redistest.New(t)
	srv.NeedsReal(t, "RESTORE and DUMP")
	ctx := context.Background()
	p := srv.Prefix
	values := []string{"", "0", "7", "127", "128", "-1", "-4096", "4095", "4096", "-4097", "32767", "-32768", "32768",
		"8388607", "-8388608", "8388608", "2147483647", "-2147483648", "2147483648", "1800000000123", "-9223372036854775808",
		"9223372036854775807", "9223372036854775808", "01", "-0", "+1", "1.5", " 1", "bot", `{"i":"bench-1","p":"/bench"}`,
		strings.Repeat("x", 63), strings.Repeat("y", 64), strings.Repeat("z", 300), strings.Repeat("w", 4096)}
	for i, v := range values {
		// A hash: a field named by the value too, among the record's.
		kv := []string{"status", "bot", "playbook", "qualify", "f" + v, v, "started_at", "1800000000123", "updated_at", "1800000000123"}
		if !listpackable(kv) {
			// HSET makes a hash table of it: the start writes it so.
			if len(v) < 64 {
				t.Errorf("value %q: not written by RESTORE", v)
			}
			continue
		}
		a, b := p+"h"+strconv.Itoa(i)+"a", p+"h"+strconv.Itoa(i)+"b"
		args := make([]any, len(kv))
		for j, s := range kv {
			args[j] = s
		}
		if err := srv.Client.HSet(ctx, a, args...).Err(); err != nil {
			t.Fatal(err)
		}
		if err := srv.Client.Restore(ctx, b, 0, string(dumpPayload(rdbTypeHashListpack, kv...))).Err(); err != nil {
			t.Fatalf("value %q: RESTORE of the hash: %v", v, err)
		}
		sameDump(t, srv.Client, a, b, v)
		if m := srv.Client.HGetAll(ctx, b).Val(); m["f"+v] != v || m["status"] != "bot" || len(m) != 5 {
			t.Errorf("value %q: the restored hash reads %v", v, m)
		}
		// A sorted set of one, as a new visitor's list: the member is the
		// value, its score a time.
		if v == "" || !listpackable([]string{v}) {
			continue
		}
		a, b = p+"z"+strconv.Itoa(i)+"a", p+"z"+strconv.Itoa(i)+"b"
		if err := srv.Client.ZAdd(ctx, a, goredis.Z{Score: 1800000000123, Member: v}).Err(); err != nil {
			t.Fatal(err)
		}
		if err := srv.Client.Restore(ctx, b, 0, string(dumpPayload(rdbTypeZsetListpack, v, "1800000000123"))).Err(); err != nil {
			t.Fatalf("member %q: RESTORE of the sorted set: %v", v, err)
		}
		sameDump(t, srv.Client, a, b, v)
		if z := srv.Client.ZRangeWithScores(ctx, b, 0, -1).Val(); len(z) != 1 || z[0].Member != v || z[0].Score != 1800000000123 {
			t.Errorf("member %q: the restored set reads %v", v, z)
		}
	}
}

func sameDump(t *testing.T, c *goredis.Client, a, b, what string) {
	t.Helper()
	ctx := context.Background()
	da, err := c.Dump(ctx, a).Result()
	if err != nil {
		t.Fatal(err)
	}
	db, err := c.Dump(ctx, b).Result()
	if err != nil {
		t.Fatal(err)
	}
	if da != db {
		t.Errorf("%q: the payload's DUMP differs from the one Redis built:\n%q\n%q", what, db, da)
	}
	ea, _ := c.ObjectEncoding(ctx, a).Result()
	eb, _ := c.ObjectEncoding(ctx, b).Result()
	if ea != eb {
		t.Errorf("%q: encoding %s, Redis's %s", what, eb, ea)
	}
}
