"""Async scenarios against the OCPP database (ocpp_core.db), run as a server process runs them."""

import asyncio

from ocpp_core.db import ocpp_database, ocpp_database_close


def run(scenario):
    """Run `scenario(database)` on a loop of its own, as a server process would, and close the loop's database pools
    afterwards (a pool left open keeps the test database from being emptied)."""

    async def with_cleanup():
        try:
            return await scenario(ocpp_database())
        finally:
            await ocpp_database_close()

    return asyncio.run(with_cleanup())
