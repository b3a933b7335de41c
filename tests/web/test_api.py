"""The JSON API over a store with known alerts, facts, documents and deliveries."""

from __future__ import annotations

from tests.web.conftest import Site
from tests.web.helpers import alert_id, client


def test_alerts_lists_firing_pending_and_recently_resolved(built_site: Site) -> None:
    """The list holds the two firing alerts and the one resolved within a week, firing first."""
    with client(built_site) as c:
        alerts = c.get("/api/alerts").json()
    got = [(a["rule"], a["entity"], a["state"]) for a in alerts]
    assert sorted(got[:2]) == [("acme-revenue-reported", "Acme Widgets", "firing"),
                               ("acme-under-100", "ACME", "firing")]
    assert got[2] == ("bolt-over-50", "BOLT", "resolved")
    by_rule = {a["rule"]: a for a in alerts}
    assert by_rule["acme-under-100"]["severity"] == "critical"
    assert by_rule["acme-under-100"]["value"] == 90.0
    assert by_rule["acme-revenue-reported"]["channels"] == ["ops"]


def test_resolved_alerts_leave_the_list_after_resolved_days(built_site: Site) -> None:
    """A resolve two days old is listed with resolved_days=7 and gone with resolved_days=1."""
    with client(built_site) as c:
        assert "bolt-over-50" in {a["rule"] for a in c.get("/api/alerts?resolved_days=7").json()}
        assert "bolt-over-50" not in {a["rule"] for a in c.get("/api/alerts?resolved_days=1").json()}


def test_alert_filters_by_rule_entity_severity_and_channel(built_site: Site) -> None:
    """Each filter keeps only the alerts that match it."""
    with client(built_site) as c:
        def rules(query: str) -> set[str]:
            return {a["rule"] for a in c.get(f"/api/alerts?{query}").json()}

        assert rules("rule=bolt-over-50") == {"bolt-over-50"}
        assert rules("entity=ACME") == {"acme-under-100"}
        assert rules("severity=info") == {"acme-revenue-reported"}
        assert rules("channel=log") == {"acme-under-100", "bolt-over-50"}
        assert rules("state=resolved") == {"bolt-over-50"}
        assert rules("entity=NOBODY") == set()


def test_alert_detail_has_transitions_notifications_attempts_and_facts(built_site: Site) -> None:
    """An alert's page data holds its state changes, its notifications with attempts, and its facts."""
    with client(built_site) as c:
        acme = c.get(f"/api/alerts/{alert_id(c, 'acme-under-100')}").json()
        revenue = c.get(f"/api/alerts/{alert_id(c, 'acme-revenue-reported')}").json()
    assert [t["state"] for t in acme["transitions"]] == ["pending", "firing", "resolved", "pending", "firing"]
    assert acme["threshold"] == 100.0
    assert acme["condition"] == "value < 100"
    assert all(n["status"] == "delivered" and len(n["delivery_attempts"]) == 1 for n in acme["notifications"])
    ops = revenue["notifications"]
    assert ops and all(n["channel"] == "ops" and n["status"] == "queued" for n in ops)
    attempt = ops[0]["delivery_attempts"][0]
    assert attempt["outcome"] == "retry" and "Connection refused" in attempt["error"]
    assert [f["quote"] for f in revenue["facts"]] == ["营收120亿美元"]
    assert revenue["facts"][0]["value"] == 12e9


def test_unknown_alert_is_404(built_site: Site) -> None:
    """An id no alert has answers 404 with a reason."""
    with client(built_site) as c:
        r = c.get("/api/alerts/0000000000000000")
    assert r.status_code == 404
    assert r.json() == {"detail": "no such alert"}


def test_facts_filter_by_entity_metric_kind_period_and_published(built_site: Site) -> None:
    """Facts are found by name or ticker and narrowed by metric, kind, period and publication dates."""
    with client(built_site) as c:
        def metrics(query: str) -> list[str]:
            return sorted(f["metric"] for f in c.get(f"/api/facts?{query}").json()["facts"])

        assert metrics("entity=ACME") == ["revenue", "revenue_growth_yoy"]
        assert metrics("entity=Acme%20Widgets&metric=revenue") == ["revenue"]
        assert metrics("kind=actual&period=2025Q3") == ["revenue", "revenue_growth_yoy"]
        assert metrics("kind=guidance") == []
        both = ["revenue", "revenue_growth_yoy"]
        assert metrics("published_from=2026-03-02&published_to=2026-03-02") == both
        assert metrics("published_from=2026-03-03") == []
        page = c.get("/api/facts?limit=1&offset=1").json()
    assert page["total"] == 2 and len(page["facts"]) == 1 and page["offset"] == 1


def test_documents_list_ingested_and_failed_with_reason(built_site: Site) -> None:
    """The registry shows the ingested document and the binary file that failed, with why."""
    with client(built_site) as c:
        docs = {d["name"]: d for d in c.get("/api/documents").json()}
        failed = c.get("/api/documents?status=failed").json()
        ok = c.get(f"/api/documents/{docs['acme-q3.txt']['doc_hash']}").json()
    assert docs["acme-q3.txt"]["status"] == "ok" and docs["acme-q3.txt"]["facts"] == 2
    assert [d["name"] for d in failed] == ["broken<img src=x>.txt"]
    assert "binary" in failed[0]["error"]
    marked = [s["text"] for s in ok["segments"] if s["fact_id"]]
    assert marked == ["营收120亿美元", "15%"]
    assert "".join(s["text"] for s in ok["segments"]) == ok["text"]


def test_status_shows_outbox_and_datasets(built_site: Site) -> None:
    """Status counts the queued webhook notifications and the rows of each dataset."""
    with client(built_site) as c:
        status = c.get("/api/status").json()
    assert status["deliveries"]["queued"] == 5
    assert status["deliveries"]["delivered"] > 0
    rows = {d["name"]: d["rows"] for d in status["datasets"]}
    assert rows["prices"] == 90 and rows["facts"] == 2 and rows["alerts"] == 8
    assert status["rules"] == 3 and status["rules_error"] is None


def test_silences_are_added_listed_and_expired(site: Site) -> None:
    """A silence added through the API is listed as active, then expired early."""
    with client(site) as c:
        r = c.post("/api/silences", json={"rule": "acme-under-100", "entity": "ACME",
                                          "reason": "earnings week", "duration": "2d"})
        assert r.status_code == 201, r.text
        added = r.json()
        assert added["active"] and added["expires_at"].startswith("2026-03-08T22:00")
        assert [s["id"] for s in c.get("/api/silences").json()] == [added["id"]]
        assert next(a for a in c.get("/api/alerts").json() if a["rule"] == "acme-under-100")["silenced"]
        expired = c.post(f"/api/silences/{added['id']}/expire")
        assert expired.status_code == 200 and not expired.json()["active"]
        assert c.post(f"/api/silences/{added['id']}/expire").status_code == 404


def test_bad_silences_are_refused_with_the_reason(site: Site) -> None:
    """An unknown rule, a bad or missing duration, a past expiry and an empty reason answer 400."""
    with client(site) as c:
        def refused(body: dict[str, object]) -> str:
            r = c.post("/api/silences", json={"rule": "acme-under-100", "reason": "x", **body})
            assert r.status_code == 400, r.text
            return str(r.json()["detail"])

        assert "no such rule" in refused({"rule": "nope", "duration": "1d"})
        assert "duration" in refused({"duration": "soon"})
        assert "exactly one" in refused({})
        assert "future" in refused({"expires_at": "2026-03-01T00:00:00Z"})
        assert "reason" in refused({"reason": "   ", "duration": "1d"})
        assert c.get("/api/silences").json() == []


def test_companies_by_name_or_ticker(built_site: Site) -> None:
    """A company is found by its name or ticker, with its figures and last close; a bare ticker too."""
    with client(built_site) as c:
        listed = c.get("/api/companies").json()
        by_name = c.get("/api/companies/Acme Widgets").json()
        by_ticker = c.get("/api/companies/ACME").json()
        bare = c.get("/api/companies/BOLT").json()
        assert c.get("/api/companies/NOBODY").status_code == 404
    assert listed == [{"entity": "Acme Widgets", "ticker": "ACME", "facts": 2}]
    assert by_name == by_ticker
    assert by_name["last_price"] == {"date": "2026-03-06", "close": 90.0, "currency": "USD"}
    assert sorted(f["metric"] for f in by_name["facts"]) == ["revenue", "revenue_growth_yoy"]
    assert bare["entity"] == "BOLT" and bare["facts"] == [] and bare["bars"] == 45
