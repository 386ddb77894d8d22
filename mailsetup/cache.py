"""Django's Redis cache backend, with one Redis client per connection pool instead of one per call.

Django's RedisCacheClient builds a new redis.Redis object for every get or set; building one copies redis-py's
table of response callbacks, which costs more than the round trip to Redis itself. Sessions and page caching read
the cache on every request, so the client is made once per process and pool (a redis.Redis object is thread-safe;
its pool reconnects after a fork).
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class ReusingRedisCacheClient(RedisCacheClient):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key: object = None, *, write: bool = False):  # noqa: ANN201 - a redis.Redis
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = self._client(connection_pool=self._get_connection_pool(write))
        return client


class ReusingRedisCache(RedisCache):
    def __init__(self, server: str, params: dict) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient
