# revops: `make run` brings up a working system with demo data; `make test` runs the suite.
# Both create the virtualenv and install on first use, so a fresh clone needs only Python 3.11.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install lint schema schema-check ci stop worker beat clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) manage.py bootstrap
	$(PY) manage.py runlocal

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

schema: $(STAMP)
	$(PY) manage.py spectacular --validate --fail-on-warn --file openapi.yaml

schema-check: $(STAMP)
	$(PY) manage.py spectacular --validate --fail-on-warn --file .data/openapi.current.yaml
	diff -u openapi.yaml .data/openapi.current.yaml

stop: $(STAMP)
	$(PY) manage.py pgserver stop

worker: $(STAMP)
	$(VENV)/bin/celery -A revops worker --loglevel=info

beat: $(STAMP)
	$(VENV)/bin/celery -A revops beat --loglevel=info --scheduler django_celery_beat.schedulers:DatabaseScheduler

clean:
	rm -rf $(VENV) .data
