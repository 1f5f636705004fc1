-- One atomic turn of a conversation.
-- fold() is foldLua (funnels.go), put before this script: the same fold as foldScript.
-- KEYS[1] session: a string "VERSION JSON" (before: a hash, v and s)
-- KEYS[2] transcript: a list of "ID ENTRY" (ID = "ms-seq", as a stream id);
--         a conversation stored before the list (a stream) stays a stream
-- KEYS[3] client message ids answered: id -> "first last" entry ids
-- KEYS[4] the mark's pending set, when ARGV[7] is a mark (one Redis
--         node, or a placed id's own set on a Cluster: pending.go); with
--         no mark and a fold, KEYS[5], unused
-- KEYS[5..7] the funnel fold's keys, when ARGV[9] is a row id (one node,
--         or a placed id on a Cluster, whose shard is in its slot): the
--         conversation's facts, the row's counters, the shard's row ids
--         (redis.Funnels)
-- ARGV[1] expected version (0 = create), ARGV[2] new session JSON,
-- ARGV[3] ttl in ms, ARGV[4] client message id or "", ARGV[5] pub/sub channel
-- (PUBLISH), or for a placed id on a Cluster its shard channel, a newline
-- and the id (SPUBLISH of the id, a newline and the entries: shardbus.go),
-- or for a quiet turn the channel (on a Cluster the shard channel, a
-- newline and the id) and a tab (fleet.go: not published when no other
-- process hears it), or "" for a new conversation (not published: nobody
-- can follow it before the script has written it),
-- ARGV[6] N, how many transcript entries, ARGV[7] the turn's pending mark
-- or "", ARGV[8] its score, ARGV[9] the fold's row id or "", ARGV[10] how
-- long the fold's facts are kept (ms), ARGV[11..10+N] transcript entries
-- (JSON), then the fold's facts, five each: name, counter, when (ms),
-- since, timing (as foldScript's). ARGV[10] "" (store.FunnelFold.Counted:
-- the caller knew which facts are new from the session this turn
-- replaces; ARGV[9] is then "=", the row id read from the row's key): the
-- row's fields to add one to instead (one: a counter, or
-- the turn's counters as one field, countedField in funnels.go), and the
-- conversation's facts (KEYS[5]) neither read nor written; with no
-- mark (ARGV[7] "") the row is then KEYS[4], no unused keys sent before
-- it and the rows not sent (their key made from the row's, only when the
-- row is new), and the record's keys below are KEYS[5] and KEYS[6]
-- instead of KEYS[8] and KEYS[9]; ARGV[9] "==" is the same with the rows
-- sent as KEYS[5] and the record's keys KEYS[6] and KEYS[7] (a store
-- whose prefix holds "{fn:", where the row's key does not tell the
-- shard's tag).
-- KEYS[8] the conversation's inbox record and KEYS[9] its visitor's
-- conversations (none: no visitor, or a Cluster, where they are in
-- another slot), for a start that writes its record
-- (Store.CreateStarted; KEYS[4..7] are then there, used or not). ARGV's
-- last is then M, and the M before it the record: the conversation's id,
-- when it started (ms: its started_at and updated_at, its score in
-- KEYS[9]), how long the record is kept (ms), its status, playbook and
-- visitor, with KEYS[9] then the caller's guess of the earlier
-- conversations: "" (none), or "N-1 N" and [...], the size of KEYS[9]
-- (N, as the ranks its newest had then and one past) and the record's
-- previous (JSON, newest first) as the caller last saw them;
-- then the record's other fields and values (Inbox.Start's that are set, without
-- previous when KEYS[9] is there; an updated_at other than the start).
-- It names at most store.MaxPrevious earlier conversations (the last
-- index, written into ZREVRANGE by sessions.go).
-- Or, for a turn whose handoff found its team away (store.TurnReads.Away;
-- not a start), KEYS[8] the conversation's inbox record and ARGV's last
-- two the team and 1 (M = 1: a start's record has 6 values at least):
-- the team is set on the record when it has none, as Inbox.Away does,
-- and "ok"'s reply ends, after the entries' ids, with "1", or "0" when
-- there is no record (no status: as the inbox's transitions take it).
-- Replies {"ok", version, id...} | {"dup", first, last} | {"stale"};
-- with KEYS[9], "ok" is followed, after the entries' ids, by the size of
-- KEYS[9] after the start (a number), then, unless the guess held, the
-- record's previous as read (a JSON array, newest first; "" for none).
-- The mark, the fold and the record are written only with "ok": a
-- duplicate or a stale turn was marked and folded by the try that
-- stored it.
-- The record's key and its visitor's conversations: KEYS[8] and
-- KEYS[9], or after a counted fold's row with no mark KEYS[5] and
-- KEYS[6] (KEYS[6] and KEYS[7] after its row and rows, ARGV[9] "==").
-- Texts are made from texts: Redis 7.0's Lua turns a number into text
-- with sprintf (about 2 k instructions, 5.5 k a string.format('%.0f-%d')).
-- numText is a small whole number's text, and only a larger one's is
-- formatted; nextText is a version's text plus one (its last digit
-- counted up, else formatted).
local digits = {'0', '1', '2', '3', '4', '5', '6', '7', '8', '9'}
local function numText(n)
  if n >= 0 and n <= 9 then return digits[n + 1] end
  return tostring(n)
end
local function nextText(s)
  local last = string.byte(s, -1)
  if last and last >= 48 and last <= 56 then return string.sub(s, 1, -2) .. digits[last - 46] end
  return numText(tonumber(s) + 1)
end
local rk = 8
if ARGV[7] == '' then
  if ARGV[9] == '=' then rk = 5 elseif ARGV[9] == '==' then rk = 6 end
end
local record, visitors = KEYS[rk], KEYS[rk + 1]
local factsEnd = #ARGV
if record then
  factsEnd = factsEnd - tonumber(ARGV[factsEnd]) - 1
end
if ARGV[4] ~= '' then
  local done = redis.call('HGET', KEYS[3], ARGV[4])
  if done then
    local sp = string.find(done, ' ', 1, true)
    return {'dup', string.sub(done, 1, sp - 1), string.sub(done, sp + 1)}
  end
end
-- The session is a string, "VERSION JSON"; one stored before was a hash
-- (v, s), replaced by the string on its next turn.
-- The version is compared as text: the stored one and ARGV[1] are both
-- decimal without leading zeros, and a tonumber costs Redis two strtod's
-- (about 1.1 k instructions). A hash's v is compared as a number.
local head = redis.pcall('GETRANGE', KEYS[1], '0', '20')
local wasHash = type(head) == 'table'
if wasHash then
  if tonumber(redis.call('HGET', KEYS[1], 'v') or '0') ~= tonumber(ARGV[1]) then return {'stale'} end
elseif (head == '' and '0' or string.sub(head, 1, string.find(head, ' ', 1, true) - 1)) ~= ARGV[1] then
  return {'stale'}
end
-- The new version's text: ARGV[1], the version found, plus one.
local vtext = nextText(ARGV[1])
if wasHash then redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[1], vtext .. ' ' .. ARGV[2], 'PX', ARGV[3])
local reply = {'ok', vtext}
local live = {}
local fresh = false
local n = tonumber(ARGV[6])
if n > 0 then
  -- The last entry, for the next ids; a transcript stored before lists
  -- is a stream, which LINDEX refuses (WRONGTYPE): no TYPE every turn.
  local last = redis.pcall('LINDEX', KEYS[2], '-1')
  if type(last) == 'table' then
    for i = 11, 10 + n do
      local id = redis.call('XADD', KEYS[2], '*', 'e', ARGV[i])
      reply[#reply + 1] = id
      live[#live + 1] = id .. ' ' .. ARGV[i]
    end
  else
    -- Ids as XADD '*' makes them: the server's clock in ms, never before
    -- the last entry's, and a sequence number within the millisecond.
    -- The ms as text: TIME's seconds, then the first three of its
    -- microseconds' six digits (leading zeros put back).
    local t = redis.call('TIME')
    local ms = t[1] .. string.sub('00000' .. t[2], -6, -4)
    local seq = 0
    fresh = not last
    if last then
      local dash = string.find(last, '-', 1, true)
      local sp = string.find(last, ' ', dash, true)
      local lms = string.sub(last, 1, dash - 1)
      -- Decimal texts without leading zeros: the longer is the larger.
      if #lms > #ms or (#lms == #ms and lms >= ms) then
        ms = lms
        seq = tonumber(string.sub(last, dash + 1, sp - 1)) + 1
      end
    end
    ms = ms .. '-'
    for i = 11, 10 + n do
      local id = ms .. numText(seq)
      seq = seq + 1
      reply[#reply + 1] = id
      live[#live + 1] = id .. ' ' .. ARGV[i]
    end
    redis.call('RPUSH', KEYS[2], unpack(live))
  end
end
if ARGV[4] ~= '' then
  local first, last = '', ''
  if #reply > 2 then first, last = reply[3], reply[#reply] end
  redis.call('HSET', KEYS[3], ARGV[4], first .. ' ' .. last)
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
end
if #reply > 2 then
  if fresh then
    redis.call('PEXPIRE', KEYS[2], ARGV[3])
  else
    -- GT: a transcript kept for the CRM (PERSIST: no expiry) stays kept.
    redis.call('PEXPIRE', KEYS[2], ARGV[3], 'GT')
  end
  local nl = string.find(ARGV[5], '\n', 1, true)
  if ARGV[5] == '' then
    -- A new conversation's (""): nobody can follow it yet.
  elseif nl then
    -- A placed id on a Cluster: its slot's shard channel, the id first.
    -- Quiet (a tab at the end: fleet.go): not published when the shard
    -- channel's one subscriber is this process.
    local arg, quiet = ARGV[5], false
    if string.byte(arg, -1) == 9 then
      arg = string.sub(arg, 1, -2)
      local n = redis.pcall('PUBSUB', 'SHARDNUMSUB', string.sub(arg, 1, nl - 1))
      quiet = type(n) == 'table' and n[2] == 1
    end
    if not quiet then
      redis.call('SPUBLISH', string.sub(arg, 1, nl - 1), string.sub(arg, nl + 1) .. '\n' .. table.concat(live, '\n'))
    end
  else
    -- A quiet turn's channel is followed by a tab (fleet.go): published
    -- unless Redis counts two patterns, this process's own, so that no
    -- other process hears the channel. An error of PUBSUB (a user not
    -- allowed it) publishes.
    local ch, quiet = ARGV[5], false
    if string.byte(ch, -1) == 9 then
      ch = string.sub(ch, 1, -2)
      quiet = redis.pcall('PUBSUB', 'NUMPAT') == 2
    end
    if not quiet then
      redis.call('PUBLISH', ch, table.concat(live, '\n'))
    end
  end
end
if ARGV[7] ~= '' then
  redis.call('ZADD', KEYS[4], ARGV[8], ARGV[7])
end
if ARGV[9] ~= '' and ARGV[10] == '' then
  -- A row's first counter is one: then the shard's set of rows gets it.
  -- The increment is a string: a number argument costs Redis a
  -- snprintf("%.17g") each call.
  local row, rows = KEYS[rk - 2], KEYS[rk - 1]
  if rk == 5 then row, rows = KEYS[4], nil end
  local first = false
  for i = 11 + n, factsEnd do
    if redis.call('HINCRBY', row, ARGV[i], '1') == 1 then first = true end
  end
  -- The row's id is its key's end: the row is the shard's prefix, 'r:'
  -- and the id; the rows, the same prefix and 'rows'. Not sent (ARGV[9]
  -- '=' and no mark), the rows' key is made from the row's: the shard's
  -- prefix ends at the '}' after the first '{fn:' (the store's prefix
  -- holds none: else it sends '==' and the rows' key).
  if first then
    if not rows then
      local tag = string.find(row, '{fn:', 1, true)
      rows = string.sub(row, 1, string.find(row, '}', tag, true) + 1) .. 'rows'
    end
    redis.call('SADD', rows, string.sub(row, #rows - 1))
  end
elseif ARGV[9] ~= '' then
  fold(KEYS[5], KEYS[6], KEYS[7], ARGV[9], 11 + n, factsEnd)
  redis.call('PEXPIRE', KEYS[5], ARGV[10])
end
if record and ARGV[#ARGV] == '1' then
  -- Inbox.Away with the turn: the record's status says it exists.
  local r = redis.call('HMGET', record, 'status', 'team')
  if r[1] then
    if not r[2] or r[2] == '' then redis.call('HSET', record, 'team', ARGV[#ARGV - 1]) end
    reply[#reply + 1] = '1'
  else
    reply[#reply + 1] = '0'
  end
elseif record then
  -- The start's inbox record, as Inbox.Start writes it: the visitor's
  -- earlier conversations are those before this one is added to them.
  -- The field names are the script's, started_at and updated_at one
  -- value (a start's are the same time; a caller's other updated_at comes
  -- after, among the other fields, and wins).
  local r = factsEnd
  local id, at, keep = ARGV[r + 1], ARGV[r + 2], ARGV[r + 3]
  local fields = {'status', ARGV[r + 4], 'playbook', ARGV[r + 5], 'visitor', ARGV[r + 6], 'started_at', at, 'updated_at', at}
  local from, size = r + 7, ''
  if visitors then
    size = ARGV[r + 7]
    from = r + 8
    if size ~= '' then from = r + 9 end
  end
  for i = from, #ARGV - 1 do fields[#fields + 1] = ARGV[i] end
  if visitors then
    -- The guess holds when the list has the size it had then and its
    -- newest is the guess's first: the list only grows (every start adds
    -- to it) or expires whole, so it is the same list. Then no id is
    -- read into Lua but the newest: the guess's JSON is written as it
    -- came. One command checks both: the ranks N-1 to N hold one id, the
    -- newest, exactly when the list has N (two when it has more, none
    -- when fewer).
    local list, n = nil, nil
    if size ~= '' then
      local sp = string.find(size, ' ', 1, true)
      local at = redis.call('ZRANGE', visitors, string.sub(size, 1, sp - 1), string.sub(size, sp + 1))
      if #at == 1 then
        n = tonumber(string.sub(size, sp + 1))
        local guess = ARGV[r + 8]
        if at[1] == string.sub(guess, 3, string.find(guess, '"', 3, true) - 1) then
          list = guess
        end
      end
    end
    local read = not list
    if read then
      local prev = {}
      local got = redis.call('ZREVRANGE', visitors, '0', 'MAX_PREVIOUS_LAST')
      for _, p in ipairs(got) do
        if p ~= id then prev[#prev + 1] = p end
      end
      -- Fewer than asked: all of them, the list's size.
      if #got <= MAX_PREVIOUS_LAST then n = #got elseif not n then n = redis.call('ZCARD', visitors) end
      if #prev > 0 then
        -- As JSON. Ids are plain (conversation.NewIDAt: letters and
        -- digits); with a quote or a backslash, which JSON escapes, the
        -- list goes through cjson.
        local all = table.concat(prev)
        if string.find(all, '"', 1, true) or string.find(all, '\\', 1, true) then
          list = cjson.encode(prev)
        else
          list = '["' .. table.concat(prev, '","') .. '"]'
        end
      end
    end
    n = n + redis.call('ZADD', visitors, at, id)
    redis.call('PEXPIRE', visitors, keep)
    if list then
      fields[#fields + 1] = 'previous'
      fields[#fields + 1] = list
    end
    reply[#reply + 1] = n
    if read then reply[#reply + 1] = list or '' end
  end
  redis.call('HSET', record, unpack(fields))
  redis.call('PEXPIRE', record, keep)
end
return reply
