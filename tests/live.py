"""Real server processes for end-to-end tests: Daphne or uvicorn serving powerfill.asgi on a free port, against the
test database (tests using them need `transactional_db`, so what they create is committed and visible)."""

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

PROJECT_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url_for_children() -> str:
    """The URL of the database the tests run on (pytest-django's test database, not the configured one)."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or ""
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


def _wait_until_listening(port: int, process: subprocess.Popen, log_path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"server did not listen on {port} within {timeout}s:\n{log_path.read_text()}")


@contextmanager
def asgi_server(*, server: str = "daphne", settings: str = "powerfill.settings.test", env: dict | None = None):
    """Start `server` ("daphne" or "uvicorn") in a child process; yield its base URL (http://127.0.0.1:PORT)."""
    port = free_port()
    child_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings,
        "DATABASE_URL": database_url_for_children(),
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    bin_dir = Path(sys.executable).parent
    if server == "daphne":
        command = [str(bin_dir / "daphne"), "-b", "127.0.0.1", "-p", str(port), "powerfill.asgi:application"]
    else:
        command = [
            str(bin_dir / "uvicorn"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--lifespan",
            "off",
            "powerfill.asgi:application",
        ]
    log_path = PROJECT_DIR / "tmp" / f"{server}-{port}.log"
    log_path.parent.mkdir(exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=PROJECT_DIR, env=child_env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_listening(port, process, log_path)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if not os.environ.get("KEEP_SERVER_LOGS"):
            log_path.unlink(missing_ok=True)
