"""The home page per role, the language, and the navigation each role gets."""

from cdp.roles import Role


def test_each_role_lands_on_its_own_home_page(login, screenshot):
    marketer = login("marie", Role.MARKETER)
    assert marketer.locator("#panel-marketer").is_visible()
    assert marketer.locator("#panel-dpo").count() == 0
    assert marketer.locator("#panel-steward").count() == 0
    assert "Segments" in marketer.locator("#panel-marketer h2").inner_text()
    assert "Déconnexion" in marketer.content() or "Tableau de bord" in marketer.content()
    screenshot(marketer, "home-marketer")

    steward = login("samir", Role.STEWARD)
    assert steward.locator("#panel-steward").is_visible()
    assert steward.locator("#review-pending").inner_text() == "0"
    screenshot(steward, "home-steward")

    dpo = login("dominique", Role.DPO)
    assert dpo.locator("#panel-dpo").is_visible()
    assert dpo.locator("#panel-marketer").count() == 0
    screenshot(dpo, "home-dpo")


def test_the_sidebar_shows_only_what_a_role_may_open(login):
    marketer = login("marie", Role.MARKETER)
    links = [a.get_attribute("href") for a in marketer.locator("a").all()]
    assert "/admin/segments/segment/" in links and "/admin/connectors/audiencesync/" in links
    assert "/admin/cdp/auditevent/" not in links and "/admin/cdp/consententry/" not in links

    dpo = login("dominique", Role.DPO)
    links = [a.get_attribute("href") for a in dpo.locator("a").all()]
    assert "/admin/cdp/auditevent/" in links
    assert "/admin/segments/segment/" not in links


def test_a_marketer_is_refused_the_dpo_pages(login):
    marketer = login("marie", Role.MARKETER)
    for path in ("/admin/cdp/auditevent/", "/admin/cdp/consententry/",
                 "/admin/cdp/subjectrequest/"):
        response = marketer.goto(marketer.base_url + path)
        assert response.status == 403, path
