import re
import shutil

import pytest
from django.contrib.staticfiles import finders

CORE_PATHS = {
    "/api/v1/me",
    "/api/v1/regions",
    "/api/v1/regions/tree",
    "/api/v1/regions/{region_id}",
    "/api/v1/regions/{region_id}/subtree",
    "/api/v1/organisations",
    "/api/v1/organisations/{organisation_id}",
    "/api/v1/residents",
    "/api/v1/residents/{resident_id}",
    "/api/v1/residents/{resident_id}/unmask",
}


def test_the_openapi_document_lists_every_path_and_both_ways_to_authenticate(client, db):
    document = client.get("/api/v1/openapi.json").json()
    assert CORE_PATHS <= set(document["paths"])
    schemes = document["components"]["securitySchemes"].values()
    assert {scheme["type"] for scheme in schemes} == {"http", "apiKey"}
    assert document["paths"]["/api/v1/residents"]["get"]["security"]


def test_the_docs_page_loads_under_the_strict_csp_from_same_origin_assets(client, db):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe-inline" not in policy

    assets = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert assets
    for asset in assets:
        assert asset.startswith("/static/") and not asset.startswith("//"), asset
        assert finders.find(asset.removeprefix("/static/")), f"{asset} is not shipped with the site"
    # The only script without src is Swagger UI's settings, a JSON data block that the browser never runs.
    inline_scripts = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", response.text)
    assert inline_scripts == [' type="application/json" id="swagger-settings"']
    assert '"validatorUrl": null' in response.text


@pytest.mark.browser
@pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium")
def test_swagger_ui_renders_in_a_browser_without_csp_violations(live_server):
    from playwright.sync_api import sync_playwright

    problems, requests = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page()
        page.on("console", lambda message: message.type == "error" and problems.append(message.text))
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(f"{live_server.url}/api/v1/docs")
        page.wait_for_selector(".opblock", timeout=15000)
        operations = page.locator(".opblock").count()
        browser.close()
    assert operations >= len(CORE_PATHS)
    assert problems == []
    assert all(url.startswith(live_server.url) for url in requests), requests
