"""A second Powerfill platform for roaming tests: its own server process and its own SQLite database (and no Redis:
eager Celery, in-memory layer), set up and inspected through manage.py in that database."""

import json
import os
import subprocess
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path

from ..live import PROJECT_DIR, asgi_server, reserved_port


class PeerPlatform:
    def __init__(self, database: Path, port: int):
        # Pages of 50, so that pulls of a few hundred objects follow Link headers.
        self.env = {
            "DATABASE_URL": f"sqlite:///{database}",
            "REDIS_URL": "",
            "OCPI_PUBLIC_URL": "",
            "OCPI_PAGE_LIMIT": "50",
        }
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._server = ExitStack()

    def start(self) -> None:
        """Serve at self.url (again, after stop(): the URL its partners keep in their endpoints)."""
        self._server.enter_context(asgi_server(env=self.env, port=self.port))

    def stop(self) -> None:
        """Stop the server; until start(), a connection to self.url is refused."""
        self._server.close()

    def manage(self, *args: str) -> str:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "powerfill.settings.test", **self.env}
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args[:1])} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def python(self, code: str):
        """Run code in the peer's Django (manage.py shell); it prints one JSON value, which is returned."""
        return json.loads(self.manage("shell", "-c", code).strip().splitlines()[-1])


@contextmanager
def peer_platform(directory: Path, **settings: str):
    """A peer serving at a reserved port; `settings` are environment settings of its own (e.g. OCPI_VERSIONS)."""
    with reserved_port() as port:
        peer = PeerPlatform(directory / "peer.sqlite3", port)
        peer.env.update(settings)
        peer.manage("migrate", "--verbosity", "0")
        peer.start()
        try:
            yield peer
        finally:
            peer.stop()
