"""Slow clients cannot starve the portal: 10 clients sending their bodies at 1 byte/s
leave `/healthz` answering in under a second and uploads flowing (real gunicorn, real
sockets), and each slow client is cut off after the body deadline."""

from __future__ import annotations

import functools

import http.client
import socket
import threading
import time

from loadtests.csrf import CsrfSession
from app.workbook.generator import generate_workbook
from loadtests.multipart import encode_multipart
from tests.cli.test_serve import start_portal, stop_portal

SLOW_CLIENTS = 10
BODY_TIMEOUT_S = 8


@functools.lru_cache(maxsize=None)
def csrf_headers(port: int) -> dict[str, str]:
    """The session cookie and CSRF token a script sends with its uploads (one per portal; its workers share the key)."""
    return CsrfSession.fetch(f"http://127.0.0.1:{port}").headers


def _slow_client(port: int, results: list, stop: threading.Event) -> None:
    body = b"x" * 5000
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    try:
        sock.sendall(b"POST /upload_refactored HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n"
                     b"Content-Type: multipart/form-data; boundary=b\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode())
        started = time.monotonic()
        for byte in body:
            if stop.is_set():
                break
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            sock.settimeout(1.0)
            try:
                answer = sock.recv(200)
                if answer:
                    results.append((time.monotonic() - started, answer.split(b"\r\n", 1)[0].decode()))
                    return
            except socket.timeout:
                pass  # 1 byte per second
        results.append((time.monotonic() - started, "no answer"))
    finally:
        sock.close()


def _get_ms(port: int, url: str) -> tuple[int, float]:
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", url)
        status = connection.getresponse().status
    finally:
        connection.close()
    return status, (time.monotonic() - started) * 1000


def _upload(port: int, data: bytes) -> tuple[int, float]:
    body, content_type = encode_multipart(data, "fast.xlsx")
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", "/upload_refactored", body=body,
                           headers={"Content-Type": content_type, "Accept": "application/json", **csrf_headers(port)})
        status = connection.getresponse().status
    finally:
        connection.close()
    return status, (time.monotonic() - started) * 1000


def test_ten_clients_at_one_byte_per_second_leave_healthz_fast_and_uploads_flowing(tmp_path):
    base, _, process = start_portal(tmp_path, HARNESS_REQUEST_BODY_TIMEOUT_S=str(BODY_TIMEOUT_S))
    port = int(base.rsplit(":", 1)[1])
    results: list = []
    stop = threading.Event()
    slow = [threading.Thread(target=_slow_client, args=(port, results, stop), daemon=True) for _ in range(SLOW_CLIENTS)]
    try:
        for thread in slow:
            thread.start()
        time.sleep(1.5)  # every slow client holds a connection now
        health = [_get_ms(port, "/healthz") for _ in range(10)]
        workbook = generate_workbook("energy_v01_00", seed=31).data
        uploads = [_upload(port, workbook) for _ in range(5)]
        worst_health = max(ms for _, ms in health)
        print(f"with {SLOW_CLIENTS} clients at 1 byte/s: /healthz worst {worst_health:.1f} ms of 10, "
              f"uploads {[s for s, _ in uploads]} worst {max(ms for _, ms in uploads):.0f} ms")
        assert all(status == 200 for status, _ in health) and worst_health < 1000
        assert all(status == 200 for status, _ in uploads)
        for thread in slow:
            thread.join(BODY_TIMEOUT_S + 20)
        cut = sorted(seconds for seconds, _ in results)
        print(f"slow clients answered {sorted({line for _, line in results})} after {cut[0]:.1f}-{cut[-1]:.1f} s "
              f"(body deadline {BODY_TIMEOUT_S} s)")
        assert len(results) == SLOW_CLIENTS
        assert all(" 408 " in line for _, line in results)
        assert cut[-1] < BODY_TIMEOUT_S + 5
    finally:
        stop.set()
        stop_portal(process)
