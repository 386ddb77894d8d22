"""The client's address as the login rate limit sees it, behind the operator's reverse proxies or not."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or, behind MAILSETUP_PROXY_COUNT trusted proxies, the address the outermost one saw.

    Each proxy appends the address it received the request from to X-Forwarded-For, so with N proxies the client
    is the N-th entry from the right; anything further left was written by the client and cannot be trusted.
    """
    remote = request.META.get("REMOTE_ADDR")
    count = settings.MAILSETUP_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < count:
        return remote
    candidate = forwarded[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
