# Driven by test/compat/python-etcd.test.ts: exercises python-etcd against the server given as
# argv[1] (http://127.0.0.1:PORT). Prints one "ok <name>" line per check; any failure raises.
import sys
import threading
import time
from urllib.parse import urlparse

import etcd

u = urlparse(sys.argv[1])
client = etcd.Client(host=u.hostname, port=u.port, protocol=u.scheme, read_timeout=5)


def ok(name):
    print("ok " + name, flush=True)


# write / read
r = client.write("/py/a", "1")
assert r.value == "1" and r.action == "set" and r.key == "/py/a", r
assert client.read("/py/a").value == "1"
assert client.get("/py/a").value == "1"
r = client.write("/py/a", "2")
assert r._prev_node.value == "1", r
ok("write-read")

# errors map to python-etcd's exception classes
try:
    client.read("/py/missing")
    raise AssertionError("missing key did not raise")
except etcd.EtcdKeyNotFound as e:
    assert "/py/missing" in str(e), e
try:
    client.write("/py/a", "x", prevExist=False)
    raise AssertionError("create on existing key did not raise")
except etcd.EtcdAlreadyExist:
    pass
ok("errors")

# test_and_set (compareAndSwap)
r = client.test_and_set("/py/a", "3", "2")
assert r.value == "3" and r.action == "compareAndSwap", r
try:
    client.test_and_set("/py/a", "4", "wrong")
    raise AssertionError("CAS with wrong prev value did not raise")
except etcd.EtcdCompareFailed:
    pass
ok("test_and_set")

# directories, recursive read, TTL
client.write("/py/dir/x", "1")
client.write("/py/dir/y", "2", ttl=60)
d = client.read("/py/dir", recursive=True, sorted=True)
assert d.dir and [c.key for c in d.leaves] == ["/py/dir/x", "/py/dir/y"], [c.key for c in d.leaves]
y = client.read("/py/dir/y")
assert y.ttl is not None and 0 < y.ttl <= 60, y.ttl
ok("dirs-ttl")

# in-order keys
q1 = client.write("/py/queue", "job1", append=True)
q2 = client.write("/py/queue", "job2", append=True)
assert q1.key < q2.key and len(q1.key.rsplit("/", 1)[1]) == 20, (q1.key, q2.key)
ok("append")

# delete
r = client.delete("/py/a")
assert r.action == "delete", r
try:
    client.delete("/py/a")
    raise AssertionError("second delete did not raise")
except etcd.EtcdKeyNotFound:
    pass
r = client.delete("/py/dir", recursive=True)
assert r.action == "delete"
ok("delete")

# watch: one waiting in a thread, then a write wakes it
seen = {}


def watcher():
    seen["r"] = client.watch("/py/w", timeout=5)


t = threading.Thread(target=watcher)
t.start()
time.sleep(0.3)
w = client.write("/py/w", "changed")
t.join(6)
assert not t.is_alive(), "watch did not return"
assert seen["r"].value == "changed" and seen["r"].modifiedIndex == w.modifiedIndex, seen
# watch from an index already in the history returns at once
r = client.watch("/py/w", index=w.modifiedIndex, timeout=2)
assert r.value == "changed", r
# eternal_watch yields successive changes
gen = client.eternal_watch("/py/w", index=w.modifiedIndex + 1)
client.write("/py/w", "again")
assert next(gen).value == "again"
ok("watch")

# etcd.Lock: mutual exclusion through in-order keys and watches
lock1 = etcd.Lock(client, "pylock")
lock2 = etcd.Lock(client, "pylock")
assert lock1.acquire(blocking=False, lock_ttl=30)
assert lock1.is_acquired
assert not lock2.acquire(blocking=False, lock_ttl=30)
got = {}


def waiter():
    got["v"] = lock2.acquire(blocking=True, lock_ttl=30, timeout=5)


t = threading.Thread(target=waiter)
t.start()
time.sleep(0.3)
assert "v" not in got, "second lock holder got the lock while the first held it"
lock1.release()
t.join(6)
assert got.get("v") is True, got
assert lock2.is_acquired
lock2.release()
with etcd.Lock(client, "ctx") as l:
    assert l.is_acquired
ok("lock")

# cluster information
assert client.machines == [sys.argv[1]], client.machines
assert client.leader["clientURLs"] == [sys.argv[1]], client.leader
assert isinstance(client.version, str) and client.version.count(".") == 2
assert "getsSuccess" in client.store_stats
ok("cluster")
print("done", flush=True)
