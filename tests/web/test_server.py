"""Serving for real: uvicorn in a thread on a free port, the bind rules, and the CLI commands."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from jobs.cli import app
from jobs.web.server import check_bind, is_loopback, serving, start_in_thread
from metrics.errors import ConfigError
from tests.web.conftest import TOKEN, Site
from tests.web.helpers import with_token


def test_a_thread_serves_the_view_until_stopped(built_site: Site) -> None:
    """The daemon's way: a real uvicorn in a thread answers the API and /metrics, then stops."""
    running = start_in_thread(built_site.settings, port=0)
    assert running is not None
    try:
        status = httpx.get(running.url + "api/status", timeout=10)
        scrape = httpx.get(running.url + "metrics", timeout=10)
    finally:
        running.stop()
    assert status.status_code == 200 and status.json()["deliveries"]["queued"] == 5
    assert "metrics_alerts{" in scrape.text
    assert not running.thread.is_alive()


def test_a_port_in_use_is_reported_not_fatal(built_site: Site) -> None:
    """When the port is taken the view is skipped (None) and the caller goes on."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert start_in_thread(built_site.settings, port=port) is None


def test_serving_is_off_unless_enabled(built_site: Site) -> None:
    """``serving`` starts nothing when ``http.enabled`` is false (the code default)."""
    assert not built_site.settings.http.enabled
    with serving(built_site.settings) as running:
        assert running is None


@pytest.mark.parametrize(("host", "local"), [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True),
                                             ("localhost", True), ("0.0.0.0", False), ("::", False),
                                             ("192.168.1.20", False), ("example.org", False)])
def test_only_loopback_binds_go_without_a_token(built_site: Site, host: str, local: bool) -> None:
    """A non-loopback address is refused without a token and accepted with one."""
    assert is_loopback(host) is local
    if local:
        check_bind(host, built_site.settings)
    else:
        with pytest.raises(ConfigError, match="METRICS_HTTP__TOKEN"):
            check_bind(host, built_site.settings)
    check_bind(host, with_token(built_site.settings, TOKEN))


def test_serve_refuses_a_public_bind_without_token(built_site: Site, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """``metrics serve --host 0.0.0.0`` without a token exits 2 naming the variable to set."""
    from jobs.cli import main

    monkeypatch.setattr(sys, "argv", ["metrics", "--root", str(built_site.settings.root), "--config",
                                      str(built_site.settings.config), "serve", "--host", "0.0.0.0",
                                      "--port", "0"])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2
    assert "METRICS_HTTP__TOKEN" in capsys.readouterr().err


def test_chart_command_writes_a_png_with_the_rule(built_site: Site, tmp_path: Path) -> None:
    """``metrics chart ACME --rule acme-under-100`` writes an 800x300 PNG; an unknown rule is refused."""
    out = tmp_path / "acme.png"
    base = ["--root", str(built_site.settings.root), "--config", str(built_site.settings.config)]
    runner = CliRunner()
    r = runner.invoke(app, [*base, "chart", "ACME", "--rule", "acme-under-100", "--from", "2026-01-20",
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG") and (int.from_bytes(data[16:20], "big"),
                                             int.from_bytes(data[20:24], "big")) == (800, 300)
    plain = runner.invoke(app, [*base, "chart", "BOLT", "--out", str(tmp_path / "bolt.png")])
    assert plain.exit_code == 0 and (tmp_path / "bolt.png").read_bytes().startswith(b"\x89PNG")
    bad = runner.invoke(app, [*base, "chart", "ACME", "--rule", "nope"])
    assert bad.exit_code != 0
