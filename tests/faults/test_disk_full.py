"""A full upload disk (a real, tiny tmpfs): a server-side `storage_error`, nothing partial
left behind, the free space in /metrics; and a first start on a full disk writes no empty
secret key."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from app import create_app
from app.compose import services_of
from app.config import ConfigError, load_settings
from app.workbook.generator import generate_workbook
from tests import services
from tests.conftest import make_settings, post_file

SIZE = "256k"


@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 KiB tmpfs mounted for this test (root only), unmounted at the end."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0755", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        services.unavailable(f"cannot mount a tmpfs for the disk-full test ({result.stderr.strip() or 'not root'}); "
                             "a size-limited folder needs a file system of its own")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> None:
    """Fill the file system to the last byte (big writes, then single bytes)."""
    for name, chunk in (("filler", 65536), ("filler-small", 1)):
        fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * chunk)
        except OSError:
            pass
        finally:
            os.close(fd)


def _leftovers(root: Path) -> list[str]:
    """Every file under the upload folder but the filler: what an upload left behind."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not p.name.startswith("filler"))


@pytest.mark.parametrize("url", ["/upload_refactored", "/upload_original", "/upload_staged_refactored",
                                 "/upload_staged_original"])
def test_a_full_disk_is_a_storage_error_with_nothing_partial_left(tmp_path, sqlite_url, tiny_disk, url):
    app = create_app(settings=make_settings(tmp_path, sqlite_url, upload_folder=tiny_disk / "uploads"))
    app.config["TESTING"] = True
    client = app.test_client()
    root = services_of(app).files.root
    _fill(tiny_disk)
    workbook = generate_workbook("energy_v01_00", seed=21, id_incidence=1004001)
    response = post_file(client, url, workbook.data, filename="full.xlsx")
    body = response.get_json()
    print(f"{url} on a full disk: {response.status_code} {body['error_type']}/{body['error_code']}: {body['error_message']}")
    assert response.status_code == 503 and body["error_type"] == "storage_error"
    assert _leftovers(root) == []  # no 0-byte upload, staged file, journal entry or temporary
    metrics = client.get("/metrics").get_data(as_text=True)
    free = next(line for line in metrics.splitlines() if line.startswith("portal_upload_folder_free_bytes"))
    print(f"free space reported: {free}")
    assert float(free.split()[-1]) < 4096
    assert 'error_type="storage_error"' in metrics
    services_of(app).close()


def test_a_full_staging_disk_fails_the_staged_upload_cleanly_with_the_upload_kept(tmp_path, sqlite_url, tiny_disk):
    app = create_app(settings=make_settings(tmp_path, sqlite_url, upload_folder=tiny_disk / "uploads"))
    app.config["TESTING"] = True
    client = app.test_client()
    root = services_of(app).files.root
    staging = root / "staging"
    # The staging folder on a full file system of its own: the upload is kept, the staged file cannot be.
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", str(staging)], capture_output=True)
    assert mounted.returncode == 0, mounted.stderr
    try:
        _fill(staging)
        workbook = generate_workbook("energy_v01_00", seed=22, id_incidence=1004002)
        response = post_file(client, "/upload_staged_refactored", workbook.data, filename="half.xlsx")
        body = response.get_json()
        print(f"staged upload, staging disk full: {response.status_code} {body['error_type']}/{body['error_code']}")
        assert response.status_code == 503 and (body["error_type"], body["error_code"]) == ("storage_error", "staging_failed")
        assert [p.name for p in staging.iterdir() if not p.name.startswith("filler")] == []
        kept = [name for name in _leftovers(root) if not name.startswith("staging/")]
        assert len(kept) == 1 and kept[0].startswith("half_ts_")  # the upload itself is kept (and recorded failed)
        staged_list = client.get("/list_staged", headers={"Accept": "application/json"}).get_json()
        damaged = [m for m in staged_list["malformed"] if not m["filename"].startswith("filler")]
        assert damaged == [] and staged_list["staged"] == []  # no damaged 0-byte staged file
    finally:
        subprocess.run(["umount", "-l", str(staging)], check=False)
    services_of(app).close()


def test_a_first_start_on_a_full_disk_writes_no_empty_secret_key(tiny_disk):
    _fill(tiny_disk)
    instance = tiny_disk / "instance"
    with pytest.raises(ConfigError, match="cannot write the generated secret key"):
        load_settings({"HARNESS_INSTANCE_PATH": str(instance)})
    assert not (instance / "secret_key").exists()
    assert [p.name for p in instance.iterdir()] == [] if instance.exists() else True
