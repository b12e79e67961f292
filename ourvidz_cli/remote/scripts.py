"""The Lua scripts of the reliable queue: each is one atomic step on the server, so two workers (or a
worker and a reaper) can never both act on one item. Every step that ends a job checks the lease first:
that check is the fencing that makes completion exactly-once."""

# KEYS: queue, processing, origin hash. ARGV: worker, lease ms, key prefix.
# Moves the head item into this worker's processing list, then takes the job's lease. An item whose job
# already finished (a duplicate) is dropped; one whose lease another worker holds goes to the back.
CLAIM = """
local item = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
if not item then return nil end
local ok, job = pcall(cjson.decode, item)
if not ok or type(job) ~= 'table' or (type(job.id) ~= 'string' and type(job.id) ~= 'number') then
  return {item, 'bad', '', '0', '0'}
end
local id = tostring(job.id)
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
"""

# KEYS: lease, cancel. ARGV: worker, lease ms. -1: the lease is not ours any more; else the cancel flag.
RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('EXISTS', KEYS[2])
"""

# KEYS: lease, done. ARGV: worker, callback body, seconds to remember it. 1 when this call ended the job.
COMMIT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'EX', ARGV[3]) then return 1 end
return 0
"""

# KEYS: processing, lease, cancel, attempts, origin. ARGV: item, worker, id. After the callback went out.
FINALIZE = """
redis.call('LREM', KEYS[1], 1, ARGV[1])
if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
redis.call('DEL', KEYS[3])
redis.call('HDEL', KEYS[4], ARGV[3])
redis.call('HDEL', KEYS[5], ARGV[3])
return 1
"""

# KEYS: lease, processing, queue, attempts. ARGV: worker, item, id, charge (1: a failed attempt).
# Back to the head of its queue; -1 when the job is no longer ours. Returns the failed attempts.
REQUEUE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('LREM', KEYS[2], 1, ARGV[2]) == 0 then return -1 end
redis.call('DEL', KEYS[1])
local n = tonumber(redis.call('HGET', KEYS[4], ARGV[3]) or '0')
if ARGV[4] == '1' then n = redis.call('HINCRBY', KEYS[4], ARGV[3], 1) end
redis.call('RPUSH', KEYS[3], ARGV[2])
return n
"""

# KEYS: processing, queue, attempts, dead, done, lease. ARGV: item, id, max attempts, dead entry,
# failed callback body, seconds to remember, the dead worker. One item of a dead worker's list.
REAP = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return {'gone', 0} end
if redis.call('GET', KEYS[6]) == ARGV[7] then redis.call('DEL', KEYS[6]) end
if redis.call('EXISTS', KEYS[5]) == 1 then return {'done', 0} end
local n = redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
if n >= tonumber(ARGV[3]) then
  redis.call('LPUSH', KEYS[4], ARGV[4])
  redis.call('SET', KEYS[5], ARGV[5], 'EX', ARGV[6])
  return {'dead', n}
end
redis.call('RPUSH', KEYS[2], ARGV[1])
return {'requeued', n}
"""

# KEYS: processing, dead. ARGV: item, dead entry. An item that is not a job leaves the worker's list.
DEAD_LETTER = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[2])
return 1
"""

# KEYS: lease, done, dead. ARGV: worker, failed body, seconds, dead entry.
# A job out of attempts: remembered as done (failed), filed in the dead-letter list, while still ours.
GIVE_UP = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if not redis.call('SET', KEYS[2], ARGV[2], 'NX', 'EX', ARGV[3]) then return 0 end
redis.call('LPUSH', KEYS[3], ARGV[4])
return 1
"""
