"""Celery peer: a no-op task on the local Redis (broker), prefork pool. The task counts itself in
Redis and stamps the time of the N-th one. Worker: celery -A celery_bench worker --pool=prefork -c 2.
Producer: python3 celery_bench.py produce."""
import json, os, sys, time
import redis
from celery import Celery

QUEUE = os.environ["BENCH_QUEUE"]
N = int(os.environ["BENCH_N"])
app = Celery("celery_bench", broker=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379") + "/0")
app.conf.update(task_default_queue=QUEUE, task_ignore_result=True, worker_prefetch_multiplier=50,
                task_acks_late=True, broker_connection_retry_on_startup=True, worker_hijack_root_logger=False)
_r = None

@app.task(name="noop")
def noop(i):
    global _r
    if _r is None:
        _r = redis.Redis(host="127.0.0.1", port=6379)
    n = _r.incr(QUEUE + ":count")
    if n == 1:
        _r.set(QUEUE + ":first", repr(time.time() * 1000))
    if n == N:
        _r.set(QUEUE + ":done", repr(time.time() * 1000))

if __name__ == "__main__" and sys.argv[1:] == ["produce"]:
    start = time.time() * 1000
    with app.producer_or_acquire() as producer:
        for i in range(N):
            noop.apply_async((i,), producer=producer)
    end = time.time() * 1000
    print("RESULT " + json.dumps({"startAt": start, "endAt": end}), flush=True)
