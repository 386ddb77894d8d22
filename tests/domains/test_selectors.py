"""DKIM selectors are unique in practice, not only within one domain: two teams adding the same domain in the same
month must not publish their keys at the same DNS name."""

from __future__ import annotations

import pytest

from domains import services
from domains.models import DkimKeyType
from mailsetup.models import Team

pytestmark = pytest.mark.django_db


def test_the_same_domain_in_two_teams_gets_different_selectors(team) -> None:
    other = Team.objects.create(name="Other Co", slug="other")
    ours = services.domain_create(team=team, name="example.com", actor=None, dkim_key_type=DkimKeyType.RSA2048_ED25519)
    theirs = services.domain_create(team=other, name="example.com", actor=None, dkim_key_type=DkimKeyType.RSA2048_ED25519)

    our_selectors = {key.selector for key in ours.dkim_keys.all()}
    their_selectors = {key.selector for key in theirs.dkim_keys.all()}
    assert len(our_selectors) == 2 and len(their_selectors) == 2
    assert our_selectors.isdisjoint(their_selectors)
    our_names = {r.fqdn for r in services.records_for(ours) if r.purpose == "DKIM"}
    their_names = {r.fqdn for r in services.records_for(theirs) if r.purpose == "DKIM"}
    assert our_names.isdisjoint(their_names)
