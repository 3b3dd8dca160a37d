"""Encode a multipart/form-data upload in memory (for benchmarks, load tests and tests)."""

from __future__ import annotations

BOUNDARY = "harness-upload-boundary-7f3a9c"


def encode_multipart(data: bytes, filename: str, **fields: str) -> tuple[bytes, str]:
    """(body, content type) with `data` as the `file` field and `fields` as text fields."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    quoted = filename.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "")
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{quoted}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n"
    )
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={BOUNDARY}"
