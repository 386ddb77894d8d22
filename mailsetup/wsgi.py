"""WSGI entry point (gunicorn mailsetup.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailsetup.settings")
application = get_wsgi_application()
