"""The body deadline in-process: a real socket that stops sending is cut off with 408."""

from __future__ import annotations

import socket
import time

from flask import Flask, request

from app.web import slow_clients


class _SocketInput:
    """What gunicorn hands a request as `wsgi.input`: reads of the socket, blocking."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def read(self, size: int = -1) -> bytes:
        return self.sock.recv(size if size > 0 else 65536)

    def readline(self, size: int = -1) -> bytes:
        return self.sock.recv(1)


def _app(timeout: float) -> Flask:
    app = Flask(__name__)

    @app.post("/echo")
    def echo():
        return {"length": len(request.get_data())}

    slow_clients.init_app(app, timeout)
    return app


def _call(app: Flask, sock: socket.socket, length: int):
    status = []
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/echo", "SERVER_NAME": "x", "SERVER_PORT": "80",
               "wsgi.url_scheme": "http", "CONTENT_LENGTH": str(length), "CONTENT_TYPE": "application/octet-stream",
               "wsgi.input": _SocketInput(sock), "gunicorn.socket": sock, "wsgi.errors": None}
    body = b"".join(app.wsgi_app(environ, lambda s, h, *a: status.append(s)))
    return status[0], body


def test_a_body_that_stops_arriving_is_answered_408_at_the_deadline():
    server, client = socket.socketpair()
    client.sendall(b"abc")  # 3 of 10 bytes, then nothing
    started = time.monotonic()
    status, _ = _call(_app(0.5), server, 10)
    seconds = time.monotonic() - started
    print(f"stalled body answered {status} after {seconds:.2f} s (deadline 0.5 s)")
    assert status.startswith("408") and seconds < 3
    server.close()
    client.close()


def test_a_body_in_time_is_read_whole():
    server, client = socket.socketpair()
    client.sendall(b"0123456789")
    status, body = _call(_app(5), server, 10)
    assert status.startswith("200") and b'"length":10' in body.replace(b" ", b"")
    server.close()
    client.close()


def test_no_deadline_when_turned_off_or_without_a_body():
    app = _app(0)
    assert app.wsgi_app.__name__ != "with_deadline"
    server, client = socket.socketpair()
    status, _ = _call(_app(5), server, 0)
    assert status.startswith("200")
    server.close()
    client.close()
