"""The operator's window: a FastAPI app with a JSON API, HTML pages, PNG charts and ``/metrics``.

Read-only except for silences. The pages and the API call the same ``Reader`` functions, so they
show the same data; the OpenAPI description is at ``/openapi.json`` (no Swagger UI: it needs a CDN).
Templates are Jinja2 with autoescape on: every string that comes from a document (quotes,
headlines, entity names, error messages) is shown as text, never as markup.

Security: with ``http.token`` set, every request needs ``Authorization: Bearer <token>`` or the
session cookie that ``/login`` sets (an HMAC of the token, never the token itself). A form or API
write whose ``Origin`` (or ``Referer``) names another site is refused (403), so another web page
cannot add silences through the operator's browser. No setting is ever rendered.

(Over 400 lines: one route table, its auth/CSRF guard and the page/API pairs that must show the same
data; the routes read best side by side. The data access is already apart, in ``jobs.web.read``.)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import pathlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Form, HTTPException, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from jobs.web import models
from jobs.web.charts import Mark, series_png
from jobs.web.read import Reader
from metrics.alerting.render import fmt_value
from metrics.alerting.rules import parse_duration
from metrics.alerting.state import StateDB, open_db
from metrics.settings import Settings
from metrics.store.tables import Store

TEMPLATES = pathlib.Path(__file__).parent / "templates"
COOKIE = "metrics_session"
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": models.Problem, "description": "Not found"}}
BAD: dict[int | str, dict[str, Any]] = {400: {"model": models.Problem, "description": "Refused"}}


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def session_value(token: str) -> str:
    """The cookie that stands for ``token`` (an HMAC of it: the token itself never leaves the server)."""
    return hmac.new(token.encode(), b"metrics-web-session", hashlib.sha256).hexdigest()


def _authorized(request: Request, token: str) -> bool:
    given = request.headers.get("authorization", "")
    if given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode()):
        return True
    cookie = request.cookies.get(COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), session_value(token).encode())


def _same_origin(request: Request) -> bool:
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return True  # not a browser form (curl, scripts); browsers send Origin on cross-site posts
    return urlsplit(source).netloc == request.headers.get("host", "")


def _fmt_dt(v: Any) -> str:
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M") + " UTC"
    return "" if v is None else str(v)


def _span(seconds: Any) -> str:
    """Seconds for people: ``45 s``, ``12 min``, ``5 h``, ``3 d`` (empty for None)."""
    if not isinstance(seconds, int | float):
        return ""
    sign, v = ("-" if seconds < 0 else ""), abs(float(seconds))
    for unit, size, limit in (("s", 1, 90), ("min", 60, 90 * 60), ("h", 3600, 36 * 3600)):
        if v < limit:
            return f"{sign}{v / size:.0f} {unit}" if unit != "s" else f"{sign}{v:.3g} s"
    return f"{sign}{v / 86400:.0f} d"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = fmt_value
    env.filters["when"] = _fmt_dt
    env.filters["span"] = _span
    return env


def create_app(
    settings: Settings,
    *,
    now: Callable[[], dt.datetime] | None = None,
    db: StateDB | None = None,
    store: Store | None = None,
) -> FastAPI:
    """The app over ``settings``' store and state database; ``now`` fixes the clock (tests)."""
    clock = now or _utc_now
    state_db = db or open_db(settings.database_url)
    the_store = store or Store.from_settings(settings)
    reader = Reader(settings, state_db, the_store, now=clock)
    token = settings.http.token.get_secret_value() if settings.http.token is not None else None
    templates = Jinja2Templates(env=_environment())

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if db is None:
            state_db.close()

    app = FastAPI(
        lifespan=lifespan,
        title="metrics",
        version="1",
        summary="Alerts, facts, documents and jobs of the metrics daemon.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.reader = reader

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        if token is not None and path != "/login" and not _authorized(request, token):
            if path.startswith(("/api", "/metrics", "/charts", "/openapi")):
                return JSONResponse(
                    {"detail": "missing or wrong bearer token"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            return RedirectResponse("/login", status_code=303)
        if request.method not in ("GET", "HEAD", "OPTIONS") and not _same_origin(request):
            return JSONResponse({"detail": "cross-site request refused"}, status_code=403)
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; "
            "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        )
        return response

    def page(request: Request, name: str, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(
            request, name, {"now": clock(), "auth": token is not None, **context}
        )

    # -- JSON API -------------------------------------------------------------------------------

    @app.get("/api/alerts", response_model=list[models.Alert], tags=["alerts"])
    def api_alerts(
        *,
        rule: str | None = None,
        entity: str | None = None,
        severity: str | None = None,
        channel: str | None = None,
        state: str | None = None,
        resolved_days: Annotated[int, Query(ge=0, le=3650)] = 7,
    ) -> list[dict[str, Any]]:
        """Firing, pending and recently resolved alerts (resolved within ``resolved_days``)."""
        return reader.alerts(
            rule=rule,
            entity=entity,
            severity=severity,
            channel=channel,
            state=state,
            resolved_days=resolved_days,
        )

    @app.get(
        "/api/alerts/{alert_id}", response_model=models.AlertDetail, responses=NOT_FOUND, tags=["alerts"]
    )
    def api_alert(alert_id: str) -> dict[str, Any]:
        """One alert with its transitions, notifications (and their delivery attempts) and facts."""
        return _alert_or_404(reader, alert_id)

    @app.get("/api/facts", response_model=models.FactPage, tags=["facts"])
    def api_facts(
        *,
        entity: str | None = None,
        metric: str | None = None,
        period: str | None = None,
        kind: str | None = None,
        published_from: dt.date | None = None,
        published_to: dt.date | None = None,
        doc_hash: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        """Facts filtered by entity (name or ticker), metric, period, kind and publication dates."""
        total, rows = reader.facts(
            entity=entity,
            metric=metric,
            period=period,
            kind=kind,
            published_from=published_from,
            published_to=published_to,
            doc_hash=doc_hash,
            limit=limit,
            offset=offset,
        )
        return {"total": total, "limit": limit, "offset": offset, "facts": rows}

    @app.get("/api/companies", response_model=list[models.Entity], tags=["facts"])
    def api_companies() -> list[dict[str, Any]]:
        """Every entity with facts: its name, ticker and number of facts."""
        return reader.entities()

    @app.get("/api/companies/{entity}", response_model=models.Company, responses=NOT_FOUND, tags=["facts"])
    def api_company(entity: str) -> dict[str, Any]:
        """An entity (name or ticker): its figures over time, its ticker and last close."""
        company = reader.company(entity)
        if company is None:
            raise HTTPException(404, "no facts or prices for this company")
        return company

    @app.get("/api/documents", response_model=list[models.Document], tags=["documents"])
    def api_documents(status: str | None = None) -> list[dict[str, Any]]:
        """Ingested (``ok``) and failed documents, with the reason of each failure."""
        return reader.documents(status=status)

    @app.get(
        "/api/documents/{doc_hash}",
        response_model=models.DocumentDetail,
        responses=NOT_FOUND,
        tags=["documents"],
    )
    def api_document(doc_hash: str) -> dict[str, Any]:
        """A document, its facts and its text cut into segments (the facts' quotes marked)."""
        doc = reader.document(doc_hash)
        if doc is None:
            raise HTTPException(404, "no such document")
        return doc

    @app.get("/api/status", response_model=models.Status, tags=["status"])
    def api_status() -> dict[str, Any]:
        """Jobs and their last runs, lags, the daemon holding the store, outbox and dead letters."""
        return reader.status()

    @app.get("/api/silences", response_model=list[models.Silence], tags=["silences"])
    def api_silences() -> list[dict[str, Any]]:
        """Every silence, newest first."""
        return reader.silences()

    @app.post(
        "/api/silences", response_model=models.Silence, status_code=201, responses=BAD, tags=["silences"]
    )
    def api_add_silence(body: models.NewSilence) -> dict[str, Any]:
        """Mute a rule (one entity, or all) until ``expires_at`` or for ``duration``, with a reason."""
        return _add_silence(reader, body)

    @app.post(
        "/api/silences/{silence_id}/expire",
        response_model=models.Silence,
        responses=NOT_FOUND,
        tags=["silences"],
    )
    def api_expire_silence(silence_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> dict[str, Any]:
        """End an active silence now."""
        return _expire(reader, silence_id)

    # -- charts and metrics ------------------------------------------------------------------------

    @app.get("/charts/alerts/{alert_id}.png", response_class=Response, responses=NOT_FOUND, tags=["charts"])
    def alert_chart(alert_id: str) -> Response:
        """The alert's series with the rule's threshold and the pending, firing and resolved marks."""
        alert = _alert_or_404(reader, alert_id)
        label, points = reader.alert_series(alert)
        marks = [Mark(t["at"], t["state"], t["value"]) for t in alert["transitions"]]
        sma = reader.moving_average(alert)
        png = series_png(points, title=f"{alert['rule']}: {label}", threshold=alert["threshold"], marks=marks,
                         label=label, reference=sma[1] if sma else (), reference_label=sma[0] if sma else "")
        return Response(png, media_type="image/png")

    @app.get("/charts/prices/{ticker}.png", response_class=Response, tags=["charts"])
    def price_chart(ticker: str, start: dt.date | None = None) -> Response:
        """The daily close of ``ticker``."""
        png = series_png(reader.price_series(ticker, start=start), title=f"{ticker} close")
        return Response(png, media_type="image/png")

    @app.get("/charts/facts.png", response_class=Response, tags=["charts"])
    def facts_chart(entity: str, metric: str) -> Response:
        """An entity's statements of one metric over their publication dates."""
        _total, rows = reader.facts(entity=entity, metric=metric, limit=10_000)
        points = sorted(
            (f["published"], f["value"])
            for f in rows
            if f["published"] is not None and f["value"] is not None
        )
        return Response(series_png(points, title=f"{entity} {metric}"), media_type="image/png")

    @app.get("/metrics", response_class=PlainTextResponse, tags=["metrics"])
    def prometheus() -> Response:
        """The daemon's health in the Prometheus text format, read from the state database now."""
        from jobs.web.prom import CONTENT_TYPE, exposition  # noqa: PLC0415 - prometheus_client is heavy; loaded only when used

        return Response(exposition(state_db, the_store, now=clock()), media_type=CONTENT_TYPE)

    # -- pages ----------------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/alerts", status_code=303)

    @app.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
    def alerts_page(
        request: Request,
        *,
        rule: str = "",
        entity: str = "",
        severity: str = "",
        channel: str = "",
        state: str = "",
    ) -> HTMLResponse:
        everything = reader.alerts(resolved_days=36500)
        shown = reader.alerts(
            rule=rule or None,
            entity=entity or None,
            severity=severity or None,
            channel=channel or None,
            state=state or None,
            among=everything,
        )
        choices = {
            "rule": sorted({a["rule"] for a in everything}),
            "entity": sorted({a["entity"] for a in everything}),
            "severity": sorted({a["severity"] for a in everything if a["severity"]}),
            "channel": sorted({c for a in everything for c in a["channels"]}),
            "state": ["firing", "pending", "resolved"],
        }
        chosen = {"rule": rule, "entity": entity, "severity": severity, "channel": channel, "state": state}
        return page(request, "alerts.html", alerts=shown, choices=choices, chosen=chosen)

    @app.get("/alerts/{alert_id}", response_class=HTMLResponse, include_in_schema=False)
    def alert_page(request: Request, alert_id: str) -> HTMLResponse:
        alert = _alert_or_404(reader, alert_id)
        contexts = {f["fact_id"]: reader.fact_context(f) for f in alert["facts"]}
        return page(request, "alert.html", alert=alert, contexts=contexts)

    @app.get("/facts", response_class=HTMLResponse, include_in_schema=False)
    def facts_page(
        request: Request,
        *,
        entity: str = "",
        metric: str = "",
        period: str = "",
        kind: str = "",
        published_from: str = "",
        published_to: str = "",
        offset: int = 0,
    ) -> HTMLResponse:
        total, rows = reader.facts(
            entity=entity or None,
            metric=metric or None,
            period=period or None,
            kind=kind or None,
            published_from=_date(published_from),
            published_to=_date(published_to),
            limit=100,
            offset=max(offset, 0),
        )
        chosen = {
            "entity": entity,
            "metric": metric,
            "period": period,
            "kind": kind,
            "published_from": published_from,
            "published_to": published_to,
        }
        nxt = urlencode({**chosen, "offset": offset + 100}) if offset + 100 < total else None
        return page(
            request,
            "facts.html",
            facts=rows,
            total=total,
            chosen=chosen,
            next=nxt,
            entities=reader.entities(),
        )

    @app.get("/companies", response_class=HTMLResponse, include_in_schema=False)
    def companies_page(request: Request) -> HTMLResponse:
        return page(request, "companies.html", entities=reader.entities())

    @app.get("/companies/{entity}", response_class=HTMLResponse, include_in_schema=False)
    def company_page(request: Request, entity: str) -> HTMLResponse:
        company = reader.company(entity)
        if company is None:
            raise HTTPException(404, "no facts or prices for this company")
        by_metric: dict[str, list[dict[str, Any]]] = {}
        for f in company["facts"]:
            by_metric.setdefault(str(f["metric"]), []).append(f)
        return page(request, "company.html", company=company, by_metric=by_metric)

    @app.get("/documents", response_class=HTMLResponse, include_in_schema=False)
    def documents_page(request: Request, status: str = "") -> HTMLResponse:
        return page(
            request, "documents.html", documents=reader.documents(status=status or None), status=status
        )

    @app.get("/documents/{doc_hash}", response_class=HTMLResponse, include_in_schema=False)
    def document_page(request: Request, doc_hash: str, fact: str = "") -> HTMLResponse:
        doc = reader.document(doc_hash)
        if doc is None:
            raise HTTPException(404, "no such document")
        return page(request, "document.html", doc=doc, selected=fact)

    @app.get("/status", response_class=HTMLResponse, include_in_schema=False)
    def status_page(request: Request) -> HTMLResponse:
        return page(request, "status.html", status=reader.status())

    @app.get("/silences", response_class=HTMLResponse, include_in_schema=False)
    def silences_page(request: Request, rule: str = "", entity: str = "", error: str = "") -> HTMLResponse:
        return page(
            request,
            "silences.html",
            silences=reader.silences(),
            rules=sorted(reader.rules()),
            prefill={"rule": rule, "entity": entity},
            error=error,
        )

    @app.post("/silences", include_in_schema=False)
    def silences_add(
        rule: Annotated[str, Form()],
        reason: Annotated[str, Form()],
        duration: Annotated[str, Form()] = "1d",
        entity: Annotated[str, Form()] = "",
    ) -> RedirectResponse:
        try:
            _add_silence(
                reader, models.NewSilence(rule=rule, entity=entity or None, reason=reason, duration=duration)
            )
        except (HTTPException, ValueError) as e:
            msg = e.detail if isinstance(e, HTTPException) else str(e)
            return RedirectResponse(
                "/silences?" + urlencode({"rule": rule, "entity": entity, "error": msg}), status_code=303
            )
        return RedirectResponse("/silences", status_code=303)

    @app.post("/silences/{silence_id}/expire", include_in_schema=False)
    def silences_expire(silence_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> RedirectResponse:
        _expire(reader, silence_id)
        return RedirectResponse("/silences", status_code=303)

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request) -> HTMLResponse:
        return page(request, "login.html", error="")

    @app.post("/login", include_in_schema=False)
    def login(request: Request, token_given: Annotated[str, Form(alias="token")]) -> Response:
        if token is None or not hmac.compare_digest(token_given.encode(), token.encode()):
            return page(request, "login.html", error="wrong token")
        response = RedirectResponse("/alerts", status_code=303)
        response.set_cookie(COOKIE, session_value(token), httponly=True, samesite="strict")
        return response

    return app


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _alert_or_404(reader: Reader, alert_id: str) -> dict[str, Any]:
    alert = reader.alert(alert_id)
    if alert is None:
        raise HTTPException(404, "no such alert")
    return alert


def _add_silence(reader: Reader, body: models.NewSilence) -> dict[str, Any]:

    now = reader.now()
    reason = body.reason.strip()
    if not reason:
        raise HTTPException(400, "the reason must not be empty")
    if (body.expires_at is None) == (body.duration is None):
        raise HTTPException(400, "give exactly one of expires_at and duration")
    if body.duration is not None:
        try:
            span = parse_duration(body.duration)
        except ValueError as e:
            raise HTTPException(400, f"duration: {e}") from e
        expires = now + span
    else:
        assert body.expires_at is not None
        expires = (
            body.expires_at.replace(tzinfo=dt.UTC)
            if body.expires_at.tzinfo is None
            else body.expires_at.astimezone(dt.UTC)
        )
    if expires <= now:
        raise HTTPException(400, "the silence must expire in the future")
    rules = reader.rules()
    if rules and body.rule not in rules:
        raise HTTPException(400, f"no such rule: {body.rule}")
    try:
        s = reader.db.add_silence(body.rule, body.entity or None, reason, now=now, expires_at=expires)
    except OverflowError as e:
        raise HTTPException(400, "expiry out of range") from e
    return {
        "id": s.id,
        "rule": s.rule,
        "entity": s.entity,
        "reason": s.reason,
        "created_at": s.created_at,
        "expires_at": s.expires_at,
        "active": True,
    }


def _expire(reader: Reader, silence_id: int) -> dict[str, Any]:
    if not reader.db.expire_silence(silence_id, now=reader.now()):
        raise HTTPException(404, "no such active silence")
    return next(s for s in reader.silences() if s["id"] == silence_id)
