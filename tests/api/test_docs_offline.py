"""``/docs`` and ``/redoc`` work without internet: every URL the pages load is the API's own."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient


class Links(HTMLParser):
    """Every ``src`` and ``href`` of a page, and the URLs its inline scripts name."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.urls += re.findall(r"""(?:url|src|href)\s*[:=]\s*['"]([^'"]+)['"]""", data)


def links(html: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    return parser.urls


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_pages_load_only_local_assets(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    urls = links(response.text)
    assert urls, "the page loads nothing?"
    assert all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    assert not re.search(r"https?://", response.text), "the page names an outside host"
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url
    assert "/openapi.json" in response.text


def test_the_scripts_are_the_real_bundles(client: TestClient) -> None:
    swagger = client.get("/docs-assets/swagger-ui-bundle.js")
    assert "javascript" in swagger.headers["content-type"]
    assert b"SwaggerUIBundle" in swagger.content
    redoc = client.get("/docs-assets/redoc.standalone.js")
    assert b"Redoc" in redoc.content
    assert client.get("/docs-assets/swagger-ui.css").headers["content-type"].startswith("text/css")
    assert client.get("/docs-assets/nope.js").status_code == 404


def test_swagger_ui_calls_no_online_validator(client: TestClient) -> None:
    assert '"validatorUrl": null' in client.get("/docs").text
