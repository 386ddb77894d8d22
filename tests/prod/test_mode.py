"""The suite runs on the peers it was given: under `make test-prod` PostgreSQL and Redis (a run that quietly fell
back to SQLite would prove nothing about production), otherwise the embedded defaults."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.db import connection

from tests.processes import worker_env

pytestmark = pytest.mark.django_db


def test_the_suite_runs_on_the_database_and_broker_it_was_given() -> None:
    if os.environ.get("MAILSETUP_TEST_PROD") == "1":
        assert connection.vendor == "postgresql"
        assert settings.CELERY_BROKER_URL.startswith("redis://127.0.0.1:")
        # Real worker processes get the test database (test_<name>), not the empty one it was made beside.
        assert connection.settings_dict["NAME"] == "test_mailsetup"
        assert worker_env()["DATABASE_URL"].endswith("@127.0.0.1:" + str(connection.settings_dict["PORT"]) + "/test_mailsetup")
    elif "DATABASE_URL" not in os.environ:
        assert connection.vendor == "sqlite"
        assert settings.CELERY_BROKER_URL == "filesystem://"
        assert worker_env()["DATABASE_URL"] == f"sqlite:///{connection.settings_dict['NAME']}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
