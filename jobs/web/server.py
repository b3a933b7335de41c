"""Serving the web view with uvicorn: in the foreground (``metrics serve``) or in a daemon thread.

``check_bind`` refuses (``ConfigError``, exit 2) to listen anywhere but the loopback without a
bearer token. The socket is bound before uvicorn starts, so a port in use is reported at once
(the daemon logs ``http.bind_failed`` and goes on without the view) and port 0 picks a free port.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from metrics.errors import ConfigError
from metrics.log import get_logger
from metrics.settings import Settings

if TYPE_CHECKING:
    import uvicorn

log = get_logger("jobs.web")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, settings: Settings) -> None:
    """Refuse a non-loopback ``host`` when no ``http.token`` is set (names the setting to set)."""
    if not is_loopback(host) and settings.http.token is None:
        raise ConfigError(
            f"refusing to serve on {host} without a bearer token: set METRICS_HTTP__TOKEN "
            "(or bind 127.0.0.1)",
            key="http.token",
        )


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (``OSError`` when the port is taken)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


@dataclass
class Running:
    """A server running in a thread; ``stop()`` ends it."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def _server(settings: Settings, now: Callable[[], dt.datetime] | None) -> uvicorn.Server:
    import uvicorn

    from jobs.web.app import create_app

    config = uvicorn.Config(
        create_app(settings, now=now), log_config=None, access_log=False, lifespan="on", server_header=False
    )
    return uvicorn.Server(config)


def serve(settings: Settings, host: str, port: int) -> None:
    """Serve in the foreground until SIGINT/SIGTERM."""
    check_bind(host, settings)
    sock = bind(host, port)
    server = _server(settings, None)
    log.info("http.serving", url=f"http://{_hostport(sock)}/", metrics=f"http://{_hostport(sock)}/metrics")
    server.run(sockets=[sock])


def start_in_thread(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    now: Callable[[], dt.datetime] | None = None,
) -> Running | None:
    """Serve in a daemon thread; None (logged ``http.bind_failed``) when the port cannot be had."""
    host = host or settings.http.host
    check_bind(host, settings)
    try:
        sock = bind(host, settings.http.port if port is None else port)
    except OSError as e:
        log.error(
            "http.bind_failed", host=host, port=settings.http.port if port is None else port, error=str(e)
        )
        return None
    server = _server(settings, now)
    thread = threading.Thread(
        target=server.run,
        kwargs={"sockets": [sock]},
        name="http",
        daemon=True,
    )
    thread.start()
    url = f"http://{_hostport(sock)}/"
    log.info("http.serving", url=url, metrics=url + "metrics")
    return Running(url, server, thread)


def _hostport(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@contextlib.contextmanager
def serving(settings: Settings) -> Iterator[Running | None]:
    """While inside, serve the view in a thread when ``http.enabled`` (the daemon's way); then stop it."""
    running = start_in_thread(settings) if settings.http.enabled else None
    try:
        yield running
    finally:
        if running is not None:
            running.stop()
