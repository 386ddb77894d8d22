"""The Celery application: configured from Django settings under the CELERY_ namespace."""

import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailsetup.settings")

# "filesystem://" (the embedded broker) means our atomic-write variant of kombu's transport.
TRANSPORT_ALIASES["filesystem"] = "mailsetup.broker:Transport"

app = Celery("mailsetup")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
