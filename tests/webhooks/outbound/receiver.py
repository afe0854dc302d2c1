"""A real HTTP receiver on 127.0.0.1 that records what it gets and answers as told."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)


# What to answer: (status, headers, body); HANG to never answer (until the receiver closes).
Answer = tuple[int, dict[str, str], bytes]
HANG: Answer = (0, {}, b"")


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.connections = 0
        self.answer: Callable[[Received], Answer] = lambda request: (200, {}, b"ok")
        self._released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received = Received(
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length),
                )
                receiver.requests.append(received)
                status, headers, body = receiver.answer(received)
                if status == 0:
                    receiver._released.wait(30)
                    return
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def verify_request(self, request, client_address) -> bool:
                receiver.connections += 1
                return True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def always(self, status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        self.answer = lambda request: (status, headers or {}, body)

    def hang(self) -> None:
        self.answer = lambda request: HANG

    def close(self) -> None:
        self._released.set()
        self.server.shutdown()
        self.server.server_close()
