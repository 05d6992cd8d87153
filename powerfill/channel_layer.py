"""The Redis channel layer, with a connection pool that waits instead of failing.

channels_redis builds redis-py's ConnectionPool, which raises "Too many connections" the moment more operations
are in flight than it has connections. A few thousand chargers reconnecting at once (a site back from a power cut)
each add their socket to a group; with a BlockingConnectionPool those operations queue for a free connection.
"""

import channels_redis.core
from redis.asyncio import BlockingConnectionPool


class RedisChannelLayer(channels_redis.core.RedisChannelLayer):
    def create_pool(self, index):
        host = dict(self.hosts[index])
        return BlockingConnectionPool.from_url(host.pop("address"), **host)
