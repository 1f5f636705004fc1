-- One atomic turn of a conversation.
-- KEYS[1] session hash (v = version, s = session JSON)
-- KEYS[2] transcript stream
-- KEYS[3] client message ids answered: id -> "first last" stream ids
-- ARGV[1] expected version (0 = create), ARGV[2] new session JSON,
-- ARGV[3] ttl in ms, ARGV[4] client message id or "", ARGV[5] pub/sub channel,
-- ARGV[6..] transcript entries (JSON).
-- Replies {"ok", version, id...} | {"dup", first, last} | {"stale"}.
if ARGV[4] ~= '' then
  local done = redis.call('HGET', KEYS[3], ARGV[4])
  if done then
    local sp = string.find(done, ' ', 1, true)
    return {'dup', string.sub(done, 1, sp - 1), string.sub(done, sp + 1)}
  end
end
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then
  return {'stale'}
end
v = v + 1
redis.call('HSET', KEYS[1], 'v', v, 's', ARGV[2])
local reply = {'ok', tostring(v)}
local live = {}
for i = 6, #ARGV do
  local id = redis.call('XADD', KEYS[2], '*', 'e', ARGV[i])
  reply[#reply + 1] = id
  live[#live + 1] = id .. ' ' .. ARGV[i]
end
if ARGV[4] ~= '' then
  local first, last = '', ''
  if #reply > 2 then first, last = reply[3], reply[#reply] end
  redis.call('HSET', KEYS[3], ARGV[4], first .. ' ' .. last)
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if #reply > 2 then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  redis.call('PUBLISH', ARGV[5], table.concat(live, '\n'))
end
return reply
