# Every command a person runs twice. `make run` and `make test` set up what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test fuzz crash replicas walkthroughs screenshots lint format typecheck schemas bench bench-logs bench-sync bench-scale bench-hooks bench-cutover clean setup browser

setup: $(STAMP)

# Reinstall only when the dependency list changed: the stamp is newer than pyproject.toml otherwise.
$(STAMP): pyproject.toml
	@$(PYTHON) -c "import ctypes.util,sys; sys.exit(not ctypes.util.find_library('seccomp'))" \
	  || { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	         { apt-get install -y -q libseccomp2 || { apt-get update -qq && apt-get install -y -q libseccomp2; }; } >/dev/null 2>&1 || true; fi; } ; \
	  $(PYTHON) -c "import ctypes.util,sys; sys.exit(not ctypes.util.find_library('seccomp'))" \
	  || echo "WARNING: libseccomp2 is missing: services will refuse to start (extension code \
	cannot be isolated) unless RUNTIME_ALLOW_IN_PROCESS=true. Install it: apt-get install libseccomp2" >&2
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	@touch $(STAMP)

run: $(STAMP)
	@$(BIN)/backfill up

# The console's browser tests drive Debian's Chromium (Playwright cannot download its own here).
# A no-op when it is present; as root with apt-get it is installed; otherwise say so plainly.
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make: installing chromium with apt-get for the console's browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
	      || echo "make: apt-get could not install chromium; the console browser tests will be skipped" >&2; \
	  else \
	    echo "make: $(CHROMIUM) is missing and cannot be installed here (needs root and apt-get);" \
	      "install Debian's chromium, or the console browser tests will be skipped" >&2; \
	  fi; }

# Four workers, each with its own broker and Valkey (tests/harness.py): the suite mostly waits
# (consumer joins, restarts, timeouts), so two cores carry four (since a zygote's first answer
# may take ZYGOTE_BOOT_S, services start under that load). A file's tests stay together
# on one worker, and files sharing a wider fixture (the console's stack, the robustness live
# suite) too, long ones first (tests/scheduling.py).
test: $(STAMP) browser
	@$(BIN)/python -m pytest -n 4 --dist loadfile --durations=15

# The robustness sweeps with a large budget: fresh fuzz examples every run (docs/reliability.md).
fuzz: $(STAMP)
	@BACKFILL_FUZZ_EXAMPLES=$${BACKFILL_FUZZ_EXAMPLES:-200} BACKFILL_FUZZ_RANDOM=1 \
		$(BIN)/python -m pytest -q -s -p no:cacheprovider tests/robustness/test_fuzz.py tests/robustness/test_webhook_fuzz.py

# The crash matrix with long storms and repeated kills (docs/reliability.md).
crash: $(STAMP)
	@BACKFILL_CRASH_ROUNDS=$${BACKFILL_CRASH_ROUNDS:-5} $(BIN)/python -m pytest -q -s -p no:cacheprovider tests/robustness/test_crash_matrix.py

# Every command block of docs/walkthrough-*.md, in order, against a fresh suite (minutes;
# `make test` runs the registry walkthrough alone).
walkthroughs: $(STAMP)
	@BACKFILL_WALKTHROUGHS=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/docs/test_walkthroughs.py

# After changing a message type: commit the next schema version of its topic (docs/topics.md).
schemas: $(STAMP)
	@$(BIN)/python -m contracts.compatibility

# Past one machine (docs/scaling.md): every registry test on a 3-node Valkey Cluster, then the
# replica session (two replicas of each service, one SIGKILLed mid-load) with a larger load.
replicas: $(STAMP)
	@BACKFILL_TEST_VALKEY_CLUSTER=3 $(BIN)/python -m pytest -q -p no:cacheprovider tests/registry
	@BACKFILL_REPLICA_LOAD=$${BACKFILL_REPLICA_LOAD:-300} BACKFILL_REPLICA_INSTALLATIONS=$${BACKFILL_REPLICA_INSTALLATIONS:-16} \
		$(BIN)/python -m pytest -q -s -p no:cacheprovider tests/replicas

lint: $(STAMP)
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/lint-imports

format: $(STAMP)
	@$(BIN)/ruff format .
	@$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	@$(BIN)/mypy contracts services runtime sdk

# Refresh the console screenshots in docs/console/ (the browser journey, saving each page).
screenshots: $(STAMP) browser
	@BACKFILL_SCREENSHOTS=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/console/test_app.py tests/console/test_versions.py tests/console/test_charts.py

bench: $(STAMP)
	@$(BIN)/python -m bench.ingress

bench-logs: $(STAMP)
	@$(BIN)/python -m bench.logs

bench-sync: $(STAMP)
	@$(BIN)/python -m bench.sync

bench-scale: $(STAMP)
	@$(BIN)/python -m bench.scale

bench-cutover: $(STAMP)
	@$(BIN)/python -m bench.cutover

bench-hooks: $(STAMP)
	@$(BIN)/python -m bench.hooks

clean:
	rm -rf $(VENV) .backfill .pytest_cache .ruff_cache .mypy_cache
