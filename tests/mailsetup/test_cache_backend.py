"""mailsetup.cache: Django's Redis cache, with its client made once per pool instead of once per call."""

from __future__ import annotations

import redis

from mailsetup.cache import ReusingRedisCache


def test_it_hands_out_the_same_client_on_every_call() -> None:
    cache = ReusingRedisCache("redis://127.0.0.1:1/0", {})  # never connected: making a client opens no socket
    first = cache._cache.get_client()
    assert isinstance(first, redis.Redis)
    assert cache._cache.get_client("some-key") is first
    assert cache._cache.get_client(write=True) is first  # one server: reads and writes share its pool


def test_each_server_gets_its_own_client_on_its_own_pool() -> None:
    cache = ReusingRedisCache("redis://127.0.0.1:1/0,redis://127.0.0.1:2/0", {})
    writer = cache._cache.get_client(write=True)  # the first server takes the writes
    readers = {id(cache._cache.get_client()) for _ in range(50)}  # reads go to the others
    assert writer.connection_pool.connection_kwargs["port"] == 1
    assert all(cache._cache.get_client() is not writer for _ in range(10))
    assert len(readers) == 1
