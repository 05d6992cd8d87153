"""A partner platform whose answers the test writes: a real HTTP server on a free port (in a thread of the test
process) that answers each request with the envelope the test set, and keeps what it was asked. For behaviour no
well-made platform shows (a malformed answer), where tests/e2e/ocpi_peer.py runs a real second Powerfill."""

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ScriptedPartner:
    def __init__(self, url: str):
        self.url = url
        self.answer: object = {"status_code": 1000, "timestamp": "2026-01-01T00:00:00Z"}
        self.answers: dict[str, object] = {}  # by path (no query): what that path answers instead of `answer`
        self.requests: list[tuple[str, str, object]] = []  # (method, path, JSON body)


@contextmanager
def scripted_partner():
    partner: ScriptedPartner

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            partner.requests.append((self.command, self.path, json.loads(raw) if raw else None))
            body = json.dumps(partner.answers.get(self.path.partition("?")[0], partner.answer)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    partner = ScriptedPartner(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield partner
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
