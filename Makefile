# The two commands a newcomer needs: `make run` and `make test`. Everything they need is installed here.
VENV      ?= .venv
PY        := $(VENV)/bin/python
PYTHON    ?= python3
# Debian packages the tests use: a real DNS server, a real browser, Postfix's postconf, swaks and curl for SMTP,
# node, php and ruby to parse the configuration snippets (node also runs the Nodemailer one, see tests/node).
DEB_PACKAGES := bind9 bind9-utils chromium postfix swaks curl nodejs php-cli ruby
# Production peers for `make test-prod` and the benchmark: PostgreSQL, Redis, wrk for load, systemd-analyze.
PROD_DEB_PACKAGES := postgresql redis-server wrk systemd

.PHONY: run test lint system-deps clean worker web

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# The Nodemailer that the Node.js snippet is run with in the tests, pinned in tests/node/package-lock.json.
# npm comes with the machine's nodejs package, which conflicts with Debian's npm package: that one is installed
# only where no npm is found. Without npm (not root), the tests that need it are skipped, and fail in CI.
NODE_DEPS := tests/node/node_modules/.installed
$(NODE_DEPS): tests/node/package.json tests/node/package-lock.json | system-deps
	@command -v npm >/dev/null || $(MAKE) --no-print-directory system-deps DEB_PACKAGES=npm
	@if command -v npm >/dev/null; then \
		npm ci --prefix tests/node --no-audit --no-fund && touch $@; \
	else echo "WARNING: no npm: the Nodemailer snippet's tests need it (apt-get install npm)"; fi

## make run: web app on http://127.0.0.1:8000 and a Celery worker with embedded beat. Ctrl-C stops both.
run: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput
	@echo "mailsetup: web on http://127.0.0.1:8000 , worker and beat in the background. Ctrl-C stops all."
	@trap 'kill 0' INT TERM EXIT; \
	$(VENV)/bin/celery -A mailsetup worker --beat --loglevel=INFO --concurrency=2 & \
	$(PY) manage.py runserver 127.0.0.1:8000

## make test: installs what the tests need, lints, runs every test.
test: $(VENV)/.dev system-deps $(NODE_DEPS)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

system-deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "Installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
		echo "WARNING: the tests need these Debian packages; install them as root: apt-get install$$missing"; \
	fi

clean:
	rm -rf $(VENV) var/test .pytest_cache tests/node/node_modules

## make test-prod: the whole suite again on PostgreSQL + Redis (started on loopback in a temporary folder, stopped
## afterwards); the browser flow runs on gunicorn + two Celery workers + one beat.
.PHONY: test-prod prod-deps bench-web
test-prod: $(VENV)/.dev system-deps $(NODE_DEPS) prod-deps
	$(PY) -m tests.prod.services run -- $(VENV)/bin/pytest $(PYTEST_ARGS)

prod-deps:
	@$(MAKE) --no-print-directory system-deps DEB_PACKAGES="$(PROD_DEB_PACKAGES)"

## make bench-web: gunicorn + PostgreSQL, 1,000 domains, wrk on the main pages beside a bare view.
bench-web: $(VENV)/.runtime prod-deps
	$(PY) bench/web.py

## make screenshots: refresh docs/screenshots/ (the README's pictures of the guided flow) from the browser test.
.PHONY: screenshots
screenshots: $(VENV)/.dev system-deps
	UPDATE_SCREENSHOTS=1 $(VENV)/bin/pytest tests/e2e/test_guided_flow.py -q
