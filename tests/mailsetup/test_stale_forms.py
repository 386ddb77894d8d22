"""A stale form (its CSRF token no longer valid) gets a plain explanation and changes nothing."""

import pytest
from django.test import Client

from mailsetup.models import Team

pytestmark = pytest.mark.django_db


def test_a_post_with_a_stale_csrf_token_explains_and_changes_nothing(owner) -> None:  # noqa: ANN001
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post("/t/acme/settings/", {"name": "Renamed", "csrfmiddlewaretoken": "stale" * 8})
    assert response.status_code == 403
    assert b"This form has expired" in response.content
    assert b"Nothing was changed" in response.content
    assert Team.objects.get(slug="acme").name == "Acme Mail"
