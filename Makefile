# The two commands a fresh machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# The demo and the test suite run in development mode (embedded SQLite, development keys).
DEV := DEBUG=1

.PHONY: run test test-postgres test-browser lint messages bench-generate bench-load clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e ".[test]"
	touch $@

# Background work (roster imports, the periodic matter tasks) runs in a worker beside the web server, sharing a
# file cache with it, so that a long import shows its progress; stopping the server stops the worker and the
# periodic enqueuer.
RUN_ENV := $(DEV) TASKS_BACKEND=database CACHE_DIR=var/cache

run: $(VENV)/.installed
	$(DEV) $(BIN)/python manage.py migrate --noinput -v 0
	$(DEV) $(BIN)/python manage.py seed_demo --if-empty
	$(RUN_ENV) $(BIN)/python manage.py db_worker --no-reload & worker=$$!; \
	$(RUN_ENV) $(BIN)/python manage.py run_periodic & periodic=$$!; \
	trap 'kill $$worker $$periodic 2>/dev/null' EXIT INT TERM; \
	$(RUN_ENV) $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

test: $(VENV)/.installed-test
	$(DEV) $(BIN)/python -m pytest -n 2 -q

# The same suite on PostgreSQL (DATABASE_URL defaults to the local server's `gongzhi` role-less trust setup).
test-postgres: $(VENV)/.installed-test
	$(DEV) DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/gongzhi} $(BIN)/python -m pytest -n 2 -q

# Browser tests drive Debian's Chromium (/usr/bin/chromium) through Playwright, on PostgreSQL.
test-browser: $(VENV)/.installed-test
	$(DEV) DJANGO_ALLOW_ASYNC_UNSAFE=true DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/gongzhi} \
		$(BIN)/python -m pytest -q -m browser

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

messages: $(VENV)/.installed-test
	$(DEV) $(BIN)/python manage.py makemessages -l zh_Hans -l en --no-obsolete --ignore=.venv --ignore=bench
	$(DEV) $(BIN)/python manage.py compilemessages --ignore=.venv

# City-scale benchmark on the local PostgreSQL (see bench/README.md); needs `apt-get install wrk` for the load run.
bench-generate: $(VENV)/.installed
	$(BIN)/python bench/generate.py

bench-load: $(VENV)/.installed
	$(BIN)/python bench/load.py

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-wal db.sqlite3-shm staticfiles
