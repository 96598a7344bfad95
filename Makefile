# Every target sets itself up: a fresh clone needs nothing but python3.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Debian packages the tests drive for real: a Prometheus server (and promtool), headless
# Chromium for the report, docker-compose to parse the compose file. Installed when missing
# and apt-get is at hand (as root); otherwise those tests skip and say why.
SYSTEM_TOOLS := prometheus promtool chromium docker-compose
SYSTEM_PACKAGES := prometheus chromium docker-compose

.PHONY: setup system run test lint format wheel-check kafka

$(STAMP): pyproject.toml policies/_finder.c
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

system:
	@missing=""; for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing Debian packages for:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
		else \
			echo "missing:$$missing (apt-get install $(SYSTEM_PACKAGES)); their tests will skip"; \
		fi; \
	fi

# The main job on the embedded broker: scenario, worker, metrics, report in reports/.
run: $(STAMP)
	$(VENV)/bin/policysim run pta-2024

test: $(STAMP) system
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# What `pip install policysim` gives: the wheel, installed without extras into a clean
# environment, run from outside the checkout (CI runs it before `make test`).
wheel-check:
	bash .ci/wheel-check

# Apache Kafka's jars for `--engine apache` (a KRaft broker or cluster without Docker), fetched
# by Maven from streams/kafka/pom.xml into streams/kafka/lib/ (ignored by git). Needs Maven and a
# JDK 17+; about 45 MB, seconds on a fast link. Without them the Apache Kafka tests skip.
KAFKA_LIB := streams/kafka/lib
kafka: $(KAFKA_LIB)/.fetched

$(KAFKA_LIB)/.fetched: streams/kafka/pom.xml
	@command -v mvn >/dev/null && command -v java >/dev/null || \
		{ echo "make kafka: needs Maven and a JDK 17+ (apt-get install maven openjdk-17-jdk-headless)"; exit 2; }
	rm -rf $(KAFKA_LIB)
	mvn -q -B -f streams/kafka/pom.xml dependency:copy-dependencies
	touch $@
