"""The Lua scripts of the reliable queue: each is one atomic step on the server, so two workers (or a
worker and a reaper) can never both act on one item. Every step that ends a job checks the lease first:
that check is the fencing that makes completion exactly-once.

Every step that changes state is `memoized`: its reply is stored under a key unique to the call, and a
second delivery of the same call (redis-py re-sends EVAL after a timeout or a dropped connection, the
Upstash transport after a 5xx, the worker after an outage) answers that stored reply instead of acting
twice. Without it a commit whose reply was lost answered 0 on the retry (result dropped) and a claim
moved a second item.

A job's id is read by the same rule here and in Python (`items.item_id`): a string of plain characters,
or an integer below 2^53 written in digits (Lua's `tostring` writes 1e14 as "1e+14", and a double holds
larger integers inexactly); anything else is not a job.
"""

MEMO_TTL_MS = 15 * 60 * 1000  # longer than any retry of one call keeps trying

# The item's id by the shared rule; nil for an item that is not a job.
_ID = """
local function job_id(item)
  local ok, job = pcall(cjson.decode, item)
  if ok and type(job) == 'table' and #job == 1 and type(job[1]) == 'string' then
    ok, job = pcall(cjson.decode, job[1])  -- the app's Upstash path-form push: ["<payload JSON>"]
  end
  if not ok or type(job) ~= 'table' then return nil end
  local id = job.id
  if type(id) == 'number' then
    if id ~= math.floor(id) or id < 0 or id >= 9007199254740992 then return nil end
    id = string.format('%d', id)
  elseif type(id) ~= 'string' then
    return nil
  end
  if #id > 128 or not string.match(id, '^[%w][%w%._%-]*$') then return nil end
  return id
end
"""

# Whether the holder (`worker#token`, one claim) may act on the job: the lease names it, or the lease
# lapsed (a Redis outage, a long pause) while the item still sits in this worker's processing list, so
# nobody reaped it and nobody else can be running it; then the lease is taken again.
_OURS = """
local function ours(lease, processing, item, me, ms)
  local holder = redis.call('GET', lease)
  if holder == me then return true end
  if holder then return false end
  if not redis.call('LPOS', processing, item) then return false end
  redis.call('SET', lease, me, 'PX', ms)
  return true
end
"""


def memoized(body: str) -> str:
    """`body` run once per call: KEYS[#KEYS] names the call, and its reply is kept there."""
    return f"""
local memo = KEYS[#KEYS]
local seen = redis.call('GET', memo)
if seen then return cjson.decode(seen) end
local reply = (function()
{body}
end)()
if reply == nil then reply = false end
redis.call('SET', memo, cjson.encode(reply), 'PX', {MEMO_TTL_MS})
return reply
"""


# KEYS: queue, processing, origin hash. ARGV: holder (worker#claim token), lease ms, key prefix.
# Moves the head item into this worker's processing list, then takes the job's lease. An item whose job
# already finished (a duplicate) is dropped; one whose lease another worker holds goes to the back.
CLAIM = _ID + memoized("""
local item = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
if not item then return nil end
local id = job_id(item)
if not id then return {item, 'bad', '', '0', '0'} end
if redis.call('EXISTS', ARGV[3] .. 'done:' .. id) == 1 then
  redis.call('LREM', KEYS[2], 1, item)
  return {item, 'done', id, '0', '0'}
end
if not redis.call('SET', ARGV[3] .. 'lease:' .. id, ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('LREM', KEYS[2], 1, item)
  redis.call('LPUSH', KEYS[1], item)
  return {item, 'held', id, '0', '0'}
end
redis.call('HSET', KEYS[3], id, KEYS[1])
local failed = redis.call('HGET', ARGV[3] .. 'attempts', id) or '0'
return {item, 'ok', id, tostring(failed), tostring(redis.call('EXISTS', ARGV[3] .. 'cancel:' .. id))}
""")

# KEYS: lease, cancel, processing. ARGV: holder, lease ms, item.
# -1: the job is not ours any more; else the cancel flag. Idempotent, so not memoized.
RENEW = _OURS + """
if not ours(KEYS[1], KEYS[3], ARGV[3], ARGV[1], ARGV[2]) then return -1 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('EXISTS', KEYS[2])
"""

# KEYS: lease, done, processing. ARGV: holder, callback body, seconds to remember it, item, lease ms.
# 1 when this call ended the job.
COMMIT = _OURS + memoized("""
if not ours(KEYS[1], KEYS[3], ARGV[4], ARGV[1], ARGV[5]) then return 0 end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'EX', ARGV[3]) then return 1 end
return 0
""")

# KEYS: processing, lease, cancel, attempts, origin. ARGV: item, holder, id. After the callback went out.
FINALIZE = memoized("""
redis.call('LREM', KEYS[1], 1, ARGV[1])
if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
redis.call('DEL', KEYS[3])
redis.call('HDEL', KEYS[4], ARGV[3])
redis.call('HDEL', KEYS[5], ARGV[3])
return 1
""")

# KEYS: lease, processing, queue, attempts. ARGV: holder, item, id, charge (1: a failed attempt), lease ms.
# Back to the head of its queue; -1 when the job is no longer ours. Returns the failed attempts.
REQUEUE = _OURS + memoized("""
if not ours(KEYS[1], KEYS[2], ARGV[2], ARGV[1], ARGV[5]) then return -1 end
if redis.call('LREM', KEYS[2], 1, ARGV[2]) == 0 then return -1 end
redis.call('DEL', KEYS[1])
local n = tonumber(redis.call('HGET', KEYS[4], ARGV[3]) or '0')
if ARGV[4] == '1' then n = redis.call('HINCRBY', KEYS[4], ARGV[3], 1) end
redis.call('RPUSH', KEYS[3], ARGV[2])
return n
""")

# KEYS: processing, queue, attempts, dead, done, lease, origin, the worker's liveness key. ARGV: item, id,
# max attempts, dead entry, failed callback body, seconds to remember, the worker whose list it is,
# orphan ('1': that worker is alive, so the item is taken only when no lease names anyone). One item of
# a dead worker's list (unless it announced itself again meanwhile: back from an outage), or an item
# whose lease lapsed in a live worker's list.
REAP = memoized("""
if ARGV[8] == '1' and redis.call('EXISTS', KEYS[6]) == 1 then return {'leased', 0} end
if ARGV[8] ~= '1' and redis.call('EXISTS', KEYS[8]) == 1 then return {'alive', 0} end
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return {'gone', 0} end
local holder = redis.call('GET', KEYS[6])
if holder and string.sub(holder, 1, #ARGV[7] + 1) == ARGV[7] .. '#' then redis.call('DEL', KEYS[6]) end
if redis.call('EXISTS', KEYS[5]) == 1 then
  redis.call('HDEL', KEYS[3], ARGV[2])
  redis.call('HDEL', KEYS[7], ARGV[2])
  return {'done', 0}
end
local n = redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
if n >= tonumber(ARGV[3]) then
  redis.call('LPUSH', KEYS[4], ARGV[4])
  redis.call('SET', KEYS[5], ARGV[5], 'EX', ARGV[6])
  redis.call('HDEL', KEYS[3], ARGV[2])
  redis.call('HDEL', KEYS[7], ARGV[2])
  return {'dead', n}
end
redis.call('RPUSH', KEYS[2], ARGV[1])
return {'requeued', n}
""")

# KEYS: processing, dead. ARGV: item, dead entry. An item that is not a job leaves the worker's list.
DEAD_LETTER = memoized("""
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[2])
return 1
""")

# KEYS: lease, done, dead, processing, attempts, origin. ARGV: holder, failed body, seconds, dead entry,
# item, lease ms, id. A job out of attempts: remembered as done (failed), filed in the dead-letter list,
# its attempt count and origin forgotten (a later job with the id starts afresh), while still ours.
GIVE_UP = _OURS + memoized("""
if not ours(KEYS[1], KEYS[4], ARGV[5], ARGV[1], ARGV[6]) then return 0 end
if not redis.call('SET', KEYS[2], ARGV[2], 'NX', 'EX', ARGV[3]) then return 0 end
redis.call('LPUSH', KEYS[3], ARGV[4])
redis.call('HDEL', KEYS[5], ARGV[7])
redis.call('HDEL', KEYS[6], ARGV[7])
return 1
""")
