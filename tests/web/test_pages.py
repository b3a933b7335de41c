"""The HTML pages and charts: same data as the API, document text escaped, no secret shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from jobs.web.app import create_app
from metrics.settings import load_settings
from tests.web.conftest import SECRET, TOKEN, Site
from tests.web.helpers import alert_id, client, with_token

PNG = b"\x89PNG\r\n\x1a\n"


def test_alerts_page_lists_and_filters(built_site: Site) -> None:
    """The alerts page shows every listed alert and, filtered, only the matching ones."""
    with client(built_site) as c:
        everything = c.get("/alerts").text
        critical = c.get("/alerts?severity=critical").text
    for rule in ("acme-under-100", "acme-revenue-reported", "bolt-over-50"):
        assert rule in everything
    assert "acme-under-100" in critical.split('id="alerts"')[1]
    assert "bolt-over-50" not in critical.split('id="alerts"')[1]


def test_alert_page_has_chart_quote_and_notifications(built_site: Site) -> None:
    """An alert page embeds its chart, highlights the fact's quote in context and lists attempts."""
    with client(built_site) as c:
        aid = alert_id(c, "acme-revenue-reported")
        html = c.get(f"/alerts/{aid}").text
        chart = c.get(f"/charts/alerts/{aid}.png")
    assert f'src="/charts/alerts/{aid}.png"' in html
    assert '<mark class="selected">营收120亿美元</mark>' in html
    assert "艾克米公司周一公布，2025年第三季度" in html          # the text before the quote
    assert "Connection refused" in html
    assert chart.status_code == 200 and chart.headers["content-type"] == "image/png"
    assert chart.content.startswith(PNG)


def test_charts_are_png_of_the_series(built_site: Site) -> None:
    """The price chart and the facts chart are PNG images of 800x300 pixels."""
    with client(built_site) as c:
        for url in ("/charts/prices/ACME.png", "/charts/facts.png?entity=ACME&metric=revenue",
                    f"/charts/alerts/{alert_id(c, 'acme-under-100')}.png"):
            r = c.get(url)
            assert r.status_code == 200 and r.content.startswith(PNG), url
            width, height = int.from_bytes(r.content[16:20], "big"), int.from_bytes(r.content[20:24], "big")
            assert (width, height) == (800, 300), url


def test_document_text_is_escaped_and_quotes_highlighted(built_site: Site) -> None:
    """Markup in a document (headline, text, error) is shown as text; its quotes are marked."""
    with client(built_site) as c:
        docs = {d["name"]: d["doc_hash"] for d in c.get("/api/documents").json()}
        fact = c.get("/api/facts?metric=revenue").json()["facts"][0]
        pages = [
            c.get(f"/documents/{docs['acme-q3.txt']}?fact={fact['fact_id']}").text,
            c.get("/documents").text,
            c.get("/facts").text,
            c.get(f"/alerts/{alert_id(c, 'acme-revenue-reported')}").text,
            c.get("/companies/ACME").text,
        ]
    doc = pages[0]
    assert '&lt;script&gt;alert(&#34;body&#34;)&lt;/script&gt;' in doc
    assert f'<mark id="fact-{fact["fact_id"]}" class="selected"' in doc
    for html in pages:
        assert "<script" not in html
        assert "<img src=x" not in html


def test_company_page_shows_figures_and_price(built_site: Site) -> None:
    """A company page (by name or ticker) shows its facts by metric and its price chart."""
    with client(built_site) as c:
        by_ticker = c.get("/companies/ACME")
        by_name = c.get("/companies/Acme Widgets")
        bare = c.get("/companies/BOLT")
        unknown = c.get("/companies/NOBODY")
    assert by_ticker.status_code == by_name.status_code == 200
    assert "revenue_growth_yoy" in by_name.text and "/charts/prices/ACME.png" in by_name.text
    assert "/charts/prices/BOLT.png" in bare.text
    assert unknown.status_code == 404


def test_status_and_documents_pages(built_site: Site) -> None:
    """The status page shows the outbox, the documents page the failed file's reason."""
    with client(built_site) as c:
        status = c.get("/status").text
        failed = c.get("/documents?status=failed").text
    assert "queued 5" in status
    assert "broken&lt;img src=x&gt;.txt" in failed and "binary" in failed
    assert "<img src=x" not in failed


def test_silence_form_adds_and_expires(site: Site) -> None:
    """The silences form adds a silence (listed after the redirect) and expires it early."""
    with client(site) as c:
        r = c.post("/silences", data={"rule": "bolt-over-50", "entity": "", "duration": "3h",
                                      "reason": "feed <i>maintenance</i>"})
        assert r.status_code == 200 and "feed &lt;i&gt;maintenance&lt;/i&gt;" in r.text
        sid = c.get("/api/silences").json()[0]["id"]
        assert f'action="/silences/{sid}/expire"' in r.text
        c.post(f"/silences/{sid}/expire")
        assert not c.get("/api/silences").json()[0]["active"]
        bad = c.post("/silences", data={"rule": "bolt-over-50", "duration": "later", "reason": "x"})
        assert 'id="silence-error"' in bad.text


def test_cross_site_form_posts_are_refused(site: Site) -> None:
    """A form posted from another site's page cannot add a silence."""
    with client(site) as c:
        r = c.post("/silences", data={"rule": "bolt-over-50", "duration": "1d", "reason": "x"},
                   headers={"Origin": "http://evil.example"}, follow_redirects=False)
        assert r.status_code == 403
        assert c.get("/api/silences").json() == []


def _every_response(c: TestClient) -> list[str]:
    aid = alert_id(c, "acme-revenue-reported")
    doc = c.get("/api/documents?status=ok").json()[0]["doc_hash"]
    urls = ["/alerts", f"/alerts/{aid}", "/facts", "/companies", "/companies/ACME", "/documents",
            f"/documents/{doc}", "/status", "/silences", "/api/alerts", f"/api/alerts/{aid}", "/api/facts",
            "/api/documents", f"/api/documents/{doc}", "/api/status", "/api/silences", "/metrics",
            "/openapi.json", "/login"]
    texts = []
    for url in urls:
        r = c.get(url)
        assert r.status_code == 200, url
        texts.append(r.text + str(r.headers))
    return texts


def test_no_secret_in_any_page_or_api_response(built_site: Site) -> None:
    """Neither the webhook secret nor the bearer token appears in any page, API answer or header."""
    app = create_app(with_token(built_site.settings, TOKEN), now=lambda: built_site.now)
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        login = c.post("/login", data={"token": TOKEN}, follow_redirects=False)
        texts = [*_every_response(c), login.text + str(login.headers)]
    secret_body = SECRET.removeprefix("whsec_")
    for text in texts:
        assert SECRET not in text and secret_body not in text
        assert TOKEN not in text


@pytest.mark.parametrize("path", ["/api/alerts", "/metrics", "/charts/prices/ACME.png", "/openapi.json"])
def test_token_is_required_when_set(built_site: Site, path: str) -> None:
    """With a token set, machine paths answer 401 without it and 200 with it; pages go to the login."""
    with TestClient(create_app(with_token(built_site.settings, TOKEN), now=lambda: built_site.now)) as c:
        assert c.get(path).status_code == 401
        assert c.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        page = c.get("/alerts", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login"
        c.post("/login", data={"token": TOKEN})
        assert c.get("/alerts").status_code == 200      # the session cookie stands for the token


def test_a_moving_average_condition_draws_that_average(site: Site) -> None:
    """A rule comparing the close with sma_N gets the N-bar average of the close as its reference line."""
    from jobs.web.read import Reader
    from metrics.alerting.state import open_db
    from metrics.store.tables import Store
    from tests.web.conftest import closes

    with site.settings.rules_file.open("a", encoding="utf-8") as f:
        f.write('\n[[rules]]\nname = "acme-under-sma"\nseries = "prices.close"\nentities = ["ACME"]\n'
                'condition = "value < sma_20"\n')
    db = open_db(site.settings.database_url)
    try:
        reader = Reader(site.settings, db, Store(site.settings.root), now=lambda: site.now)
        subject = {"rule": "acme-under-sma", "entity": "ACME", "transitions": []}
        label, line = reader.moving_average(subject) or ("", [])
        assert reader.moving_average({"rule": "acme-under-100", "entity": "ACME", "transitions": []}) is None
    finally:
        db.close()
    assert label == "sma_20"
    values = closes()
    assert [round(v, 9) for _d, v in line] == [round(sum(values[i - 19:i + 1]) / 20, 9)
                                              for i in range(19, len(values))]


def test_an_empty_store_serves_every_page(tmp_path: Path) -> None:
    """Before the daemon's first run (no datasets, a new state database) every page and API answers 200."""
    from tests.web.conftest import NOW, write_config

    config = write_config(tmp_path / "config", webhook_port=9)
    empty = Site(settings=load_settings(config, root=tmp_path / "root", env={}), now=NOW,
                 document=tmp_path / "none.txt")
    with client(empty) as c:
        for url in ("/alerts", "/facts", "/companies", "/documents", "/status", "/silences", "/api/alerts",
                    "/api/facts", "/api/documents", "/api/status", "/api/silences", "/metrics",
                    "/charts/prices/NONE.png"):
            assert c.get(url).status_code == 200, url
        assert c.get("/api/alerts").json() == []
