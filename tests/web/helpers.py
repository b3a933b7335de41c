"""Small helpers of the web tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr

from jobs.web.app import create_app
from metrics.settings import Settings
from tests.web.conftest import Site


@contextmanager
def client(site: Site, **kwargs: Any) -> Iterator[TestClient]:
    """A test client of the app over ``site`` with its fixed clock (the app's lifespan run)."""
    with TestClient(create_app(site.settings, now=lambda: site.now), **kwargs) as c:
        yield c


def alert_id(c: TestClient, rule: str) -> str:
    """The id of ``rule``'s alert in the list."""
    return str(next(a["id"] for a in c.get("/api/alerts").json() if a["rule"] == rule))


def with_token(settings: Settings, token: str) -> Settings:
    """``settings`` with ``http.token`` set."""
    return settings.model_copy(update={"http": settings.http.model_copy(update={"token": SecretStr(token)})})
