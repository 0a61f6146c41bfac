"""Fixtures of the cdp tests' admin pages."""

import pytest

from cdp.roles import Role
from tests.conftest import staff_login


@pytest.fixture
def dpo(client, db):
    """The test client, logged in as a staff user holding only the DPO role."""
    staff_login(client, "dominique", Role.DPO)
    return client
