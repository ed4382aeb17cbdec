"""A real HTTP receiver for webhook tests: http.server in a thread on 127.0.0.1.

Each request is verified with the independent `standardwebhooks` package (the reference
implementation), against the secret the test gives it, and recorded. The receiver answers with the
statuses it is told, in turn (then 200).
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from billing.webhooks.services import webhook_endpoint_create


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    error: str = ""
    payload: object = None


@dataclass
class Receiver:
    port: int = 0
    secret: str | None = None
    answers: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/revops"

    def answer(self) -> int:
        with self.lock:
            return self.answers.pop(0) if self.answers else 200

    def record(self, item: Received) -> None:
        with self.lock:
            self.received.append(item)


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            verified, error, payload = False, "", None
            if receiver.secret:
                try:
                    payload = Webhook(receiver.secret).verify(body, headers)
                    verified = True
                except WebhookVerificationError as exc:
                    error = str(exc)
            receiver.record(Received(self.path, headers, body, verified, error, payload))
            status = receiver.answer()
            text = b"ok" if status < 300 else b"receiver says no: " + b"x" * 2000
            self.send_response(status)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, *args):  # keep test output quiet
            pass

    return Handler


class running_receiver:
    """`with running_receiver() as receiver:` a receiver listening until the block ends."""

    def __enter__(self) -> Receiver:
        self.receiver = Receiver()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.receiver))
        self.receiver.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self.receiver

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def webhook_receiver():
    with running_receiver() as found:
        yield found


@pytest.fixture
def webhook_endpoint(db, webhook_receiver, settings):
    receiver = webhook_receiver
    """An endpoint for every event type at the receiver, whose secret the receiver verifies with."""
    settings.REVOPS_WEBHOOK_ALLOW_HTTP = True  # the receiver is plain http on 127.0.0.1
    made = webhook_endpoint_create(url=receiver.url, description="test CRM", as_of=now(), actor=None)
    receiver.secret = made.secret
    return made.endpoint


def now() -> dt.datetime:
    """The wall clock: the reference verifier accepts timestamps within 5 minutes of it."""
    return dt.datetime.now(dt.UTC)
