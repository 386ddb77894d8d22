"""Public, token-protected URLs: the read-only records page for a DNS admin without an account."""


app_name = "share"

urlpatterns: list = []
