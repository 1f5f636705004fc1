package handoff

import "github.com/redis/go-redis/v9"

type redisRange = redis.ZRangeBy

func redisZ(score float64, member string) redis.Z { return redis.Z{Score: score, Member: member} }
