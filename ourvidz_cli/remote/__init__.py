"""Many machines: the seed's Redis queues (`sdxl_queue`, `wan_queue`) behind the queue seam.

`transport` speaks Redis (redis-py, or Upstash's REST API over httpx); `redis_queue` holds every key and
Lua script of the reliable-queue protocol; `items` turns the seed's job structure into our jobs and
back; `worker_queue` is the `JobQueue` a runner uses on a remote queue; `results` uploads outputs,
commits a job exactly once and calls the seed's `job-callback`; `presence` keeps a worker visibly alive.
"""
