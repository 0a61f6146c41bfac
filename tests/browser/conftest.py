"""Browser tests: Playwright drives Debian's Chromium (headless) against pytest-django's
live server on the real PostgreSQL test database.

Chromium must be installed (`.ci/run` installs Debian's package); without it these tests
fail with a clear message rather than being skipped. Screenshots of each page go to
var/screenshots/ (kept as test artifacts, and the README's pictures)."""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from cdp.roles import Role
from tests.connectors.conftest import mailchimp  # noqa: F401 - the fake Mailchimp, shared

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between page actions are ordinary synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CDP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
PASSWORD = "browser-test-pw-1"  # noqa: S105 (test users on the throwaway test database)



# Package scope: Playwright's sync API keeps an event loop in this thread while it runs,
# which breaks Django's async_to_sync in the tests that come after the browser ones.
@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def make_user(transactional_db) -> Callable[..., object]:
    """A staff user holding the given roles (Role values); admin makes a superuser."""
    def make(username: str, *roles: Role) -> object:
        user = get_user_model().objects.create_user(username, password=PASSWORD,
                                                    is_staff=True)
        if Role.ADMIN in roles:
            user.is_superuser = True
            user.save(update_fields=["is_superuser"])
        for role in roles:
            user.groups.add(Group.objects.get(name=role.value))
        return user
    return make


@pytest.fixture
def login(browser, live_server, make_user) -> Iterator[Callable[..., object]]:
    """login("marie", Role.MARKETER) -> a Playwright page logged in through the real
    login form, in French (the product's default language)."""
    contexts = []

    def open_as(username: str, *roles: Role, language: str = "fr") -> object:
        make_user(username, *roles)
        context = browser.new_context(viewport={"width": 1440, "height": 1000},
                                      locale=language)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/admin/")  # redirects to the login form
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")
        page.base_url = live_server.url
        return page

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot() -> Callable[[object, str], Path]:
    """screenshot(page, "marketer-dashboard"): a full-page PNG under var/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: object, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
    return take
