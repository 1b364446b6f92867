"""The web page in real headless Chromium (Debian's, driven by Playwright): sign in, page, sign out.

The screenshot is saved under tests/output/ (gitignored); its path is printed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integration.access_data import index_signins, signin_lines, start_service
from tests.integration.conftest import ROOT
from tests.integration.test_signout_all import SECRET, SaasApp
from tests.tokens import Idp

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IDP = Idp()


@pytest.fixture
def saas():
    app = SaasApp()
    yield app
    app.server.shutdown()


def test_admin_pages_the_team_log_and_signs_a_user_out(stack, es, tmp_path, saas) -> None:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} missing: apt-get install -y chromium (.ci/run does it)")
    from playwright.sync_api import expect, sync_playwright

    lines = signin_lines()
    index_signins(es, stack.prefix, lines)
    client = start_service(stack, IDP.write_jwks(tmp_path / "jwks.json"))
    stack.start(
        "actions",
        log_name="actions",
        env={"SECMON_SERVICE_REVOKE_URL": saas.url, "SECMON_SERVICE_REVOKE_SECRET": SECRET},
    )
    token = IDP.token("a-admin", workspaces={"ws-a": "admin"})
    ws_a = sum(1 for line in lines if line["workspace"] == "ws-a")
    out = ROOT / "tests" / "output"
    out.mkdir(exist_ok=True)
    shot = out / "access-log-team.png"
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=FLAGS
        )
        page = browser.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(f"{client.base_url}/team#token={token}&ws=ws-a")
        rows = page.locator("#log tbody tr")
        expect(rows).to_have_count(10)
        assert "token" not in page.url  # the token left the address bar
        page.click("#more")
        expect(rows).to_have_count(ws_a)
        expect(page.locator("#more")).to_be_hidden()
        times = [page.locator("#log tbody tr td").nth(i * 10).inner_text() for i in range(ws_a)]
        assert times == sorted(times, reverse=True)
        page.fill("#user", "a2")
        page.click("#filters button")
        expect(rows).to_have_count(sum(1 for line in lines if line["user_id"] == "a2"))
        page.click("#signout")
        expect(page.locator("#status")).to_have_text("sign-out delivered", timeout=60_000)
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    print(f"screenshot: {shot}")
    assert sum(saas.accepted.values()) == 1 and shot.stat().st_size > 0
    client.close()


def test_page_is_served_with_a_strict_content_security_policy(stack, tmp_path) -> None:
    client = start_service(stack, IDP.write_jwks(tmp_path / "jwks.json"))
    resp = client.get("/")
    assert resp.status_code == 200 and "<table" in resp.text
    assert "script-src 'self'" in resp.headers["content-security-policy"]
    assert client.get("/static/access-log.js").status_code == 200
    client.close()
    assert Path(ROOT / ".gitignore").read_text().count("/tests/output/") == 1
