"""Real server processes for end-to-end tests: Daphne or uvicorn serving powerfill.asgi on a free port, against the
test database (tests using them need `transactional_db`, so what they create is committed and visible)."""

import http.client
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.db import connection

PROJECT_DIR = Path(__file__).resolve().parent.parent


def listening_socket(port: int = 0) -> socket.socket:
    """A socket listening on a free port of 127.0.0.1 (or on `port`, held with reserved_port), for a child server to
    adopt (--fd).

    The port is never released between choosing it and serving on it, so no other process can take it meanwhile,
    and whatever answers on it is the child that was handed the socket.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # shares the port with reserved_port's socket
        sock.bind(("127.0.0.1", port))
        sock.listen(128)  # Daphne (Twisted's adoptStreamPort) takes over a socket that already listens
    except OSError:
        sock.close()
        raise
    return sock


@contextmanager
def reserved_port():
    """A free port of 127.0.0.1, held while the block runs, for a server that stops and starts again at the same URL
    (asgi_server(port=...)): bound but not listening, so that in between a connection is refused as by a stopped
    server, and no other process can take the port (sharing it needs SO_REUSEPORT and the same user)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


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


def _wait_until_serving(port: int, process: subprocess.Popen, log_path: Path, timeout: float = 30) -> None:
    """Wait for an HTTP answer (any status) on the child's socket. The socket listens from the start, so connecting
    proves nothing; a request stays queued until the child accepts it and fails at once if the child died."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RuntimeError(f"server did not answer on {port} within {timeout}s:\n{log_path.read_text()}")
        probe = http.client.HTTPConnection("127.0.0.1", port, timeout=remaining)
        try:
            probe.request("GET", "/")
            probe.getresponse().read()
            return
        except (OSError, http.client.HTTPException):
            time.sleep(0.1)
        finally:
            probe.close()


def _child_env(settings: str, env: dict | None) -> dict:
    """A child process's environment: this one, on the test database."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings,
        "DATABASE_URL": database_url_for_children(),
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }


def _stop(process: subprocess.Popen, log_path: Path) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if not os.environ.get("KEEP_SERVER_LOGS"):
        log_path.unlink(missing_ok=True)


@dataclass(frozen=True)
class LiveServer:
    """A server child process: its base URL, the process, and the file its output goes to."""

    url: str
    process: subprocess.Popen
    log_path: Path

    def rss_bytes(self, kind: str = "VmRSS") -> int:
        """The process's resident memory now (VmRSS of /proc/PID/status, or RssAnon, RssFile...), in bytes."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{kind}:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"no {kind} in /proc/PID/status")


@contextmanager
def asgi_server(
    *, server: str = "daphne", settings: str = "powerfill.settings.test", env: dict | None = None, port: int = 0
):
    """Start `server` ("daphne" or "uvicorn") in a child process; yield its base URL (http://127.0.0.1:PORT). On a
    free port, or on `port` (from reserved_port, to serve again where a stopped server did)."""
    with asgi_server_process(server=server, settings=settings, env=env, port=port) as live:
        yield live.url


@contextmanager
def asgi_server_process(
    *, server: str = "daphne", settings: str = "powerfill.settings.test", env: dict | None = None, port: int = 0
):
    """asgi_server, yielding the LiveServer (for tests that read the server's log or measure its memory)."""
    child_env = _child_env(settings, env)
    bin_dir = Path(sys.executable).parent
    with listening_socket(port) as sock:
        port = sock.getsockname()[1]
        fd = str(sock.fileno())
        if server == "daphne":
            command = [str(bin_dir / "daphne"), "--fd", fd, "powerfill.asgi:application"]
        else:
            command = [str(bin_dir / "uvicorn"), "--fd", fd, "--lifespan", "off", "--ws", "websockets-sansio"]
            command.append("powerfill.asgi:application")
        log_path = PROJECT_DIR / "tmp" / f"{server}-{port}.log"
        log_path.parent.mkdir(exist_ok=True)
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, cwd=PROJECT_DIR, env=child_env, stdout=log, stderr=subprocess.STDOUT, pass_fds=(sock.fileno(),)
            )
    # Only the child holds the socket now: it stops listening when the child exits.
    try:
        _wait_until_serving(port, process, log_path)
        yield LiveServer(f"http://127.0.0.1:{port}", process, log_path)
    finally:
        _stop(process, log_path)


@contextmanager
def celery_worker(*, settings: str = "powerfill.settings.test", env: dict | None = None):
    """A Celery worker in a child process on the test database, for tests where tasks leave the server process
    (REDIS_URL set: a broker, not eager)."""
    child_env = _child_env(settings, env)
    command = [
        str(Path(sys.executable).parent / "celery"),
        "-A",
        "powerfill",
        "worker",
        "--pool",
        "threads",
        "--concurrency",
        "4",
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    log_path = PROJECT_DIR / "tmp" / f"celery-{os.getpid()}-{time.monotonic_ns()}.log"
    log_path.parent.mkdir(exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=PROJECT_DIR, env=child_env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while b"ready." not in log_path.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"celery worker did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield process
    finally:
        _stop(process, log_path)
