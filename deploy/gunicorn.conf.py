"""gunicorn settings for mailsetup: `gunicorn --config deploy/gunicorn.conf.py` from the project folder.

Everything can be changed from the environment (the systemd units read /etc/mailsetup/env). Put a TLS-terminating
proxy (nginx, Caddy) in front; it must set X-Forwarded-Proto.
"""

import os
import re

from gunicorn.glogging import Logger

wsgi_app = "mailsetup.wsgi:application"
bind = os.environ.get("GUNICORN_BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"
# Sync workers: the pages are short database reads; a slow client is the proxy's problem, not ours.
workers = int(os.environ.get("GUNICORN_WORKERS") or (2 * (os.cpu_count() or 1) + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then, so that a slow leak never grows. Not often: a new worker imports Django and the
# app again, about a second of CPU; at every 2,000 requests that was a quarter of the bare view's throughput.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "20000"))
max_requests_jitter = max_requests // 10
# Only the local proxy may say the request came over HTTPS.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
# No control socket: reload with SIGHUP (systemctl reload). Its default lives in $HOME, which the units protect,
# and two servers on one machine would share it.
control_socket_disable = True
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")

# Share links and invitations carry their token in the path: never write one to a log.
TOKEN = re.compile(r"(?<=/)(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{20,}")


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):  # noqa: ANN001, ANN201 - gunicorn's signature
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "q", "f", "{referer}i"):
            if isinstance(atoms.get(key), str):
                atoms[key] = TOKEN.sub("[redacted]", atoms[key])
        return atoms


logger_class = RedactingLogger
