# The two commands of README.md: `make deploy` (bring up the lab, deploy the cloud) and
# `make test` (everything CI checks). Every other target is a stage of those two.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
STAGE := tools/stage

# The strategy of every play the targets run: ansible.cfg's mitogen_linear (Mitogen) unless
# STRATEGY names another; `make deploy STRATEGY=linear` runs them with plain SSH (docs/speed.md).
STRATEGY ?=
ifneq ($(STRATEGY),)
export ANSIBLE_STRATEGY := $(STRATEGY)
endif

.PHONY: help venv deps lint unit sanity integration molecule test deploy lab-up lab-down lab-status build clean

help:
	@echo "make deploy   bring up the 12-node lab and deploy the cloud on it"
	@echo "make test     lint, unit, sanity, integration and molecule stages"

# The venv is rebuilt only when the pins change.
$(VENV)/.installed: requirements.txt constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	tools/retry $(PY) -m pip install --quiet --upgrade pip
	tools/retry $(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	touch $@

# Link this checkout where Ansible looks for cloudlab.openstack.
.collections/ansible_collections/cloudlab/openstack:
	mkdir -p .collections/ansible_collections/cloudlab
	ln -sfn ../../.. $@

venv: $(VENV)/.installed .collections/ansible_collections/cloudlab/openstack

# Host packages the test stages need (podman for the lab, python3-swift for the ring module, ...).
deps:
	tools/host-deps

lint: venv
	$(STAGE) lint $(BIN)/ansible-lint --profile production

unit: venv
	$(STAGE) unit tools/pytest-stage tests/unit

sanity: venv
	$(STAGE) sanity tools/sanity

# No task of ours runs for 20 minutes: a task that hangs (a stalled download, a stuck service)
# fails with its name instead of holding the stage until the test's own limit.
TEST_TASK_TIMEOUT := ANSIBLE_TASK_TIMEOUT=1200

integration: venv deps
	$(TEST_TASK_TIMEOUT) $(STAGE) integration tools/pytest-stage tests/integration

molecule: venv deps
	$(TEST_TASK_TIMEOUT) $(STAGE) molecule tools/molecule-all

# The lab stays up between the integration and molecule stages (a warm `up` is a no-op) and is
# taken down at the end whatever the result. The whole output also goes to .cache/test.log; on a
# failure its digest (failed tasks, tests, stages) is printed last, where CI's short tail keeps it.
test: venv deps
	@mkdir -p .cache
	set -o pipefail; $(STAGE) total $(MAKE) --no-print-directory lint unit sanity integration molecule 2>&1 \
	  | tee .cache/test.log; \
	rc=$$?; tools/lab down >/dev/null 2>&1 || echo "make test: lab down failed" >&2; \
	[ $$rc -eq 0 ] || tools/failure-digest .cache/test.log; exit $$rc

lab-up: venv
	tools/lab up

lab-down: venv
	tools/lab down

lab-status: venv
	tools/lab status

build: venv
	$(BIN)/ansible-galaxy collection build --force --output-path .cache/build

# The whole table on the lab: the secrets, every node up, then site.yml (prechecks first). New
# nodes come from their baked images, made first by the same install tasks when the install path
# changed (docs/lab.md, "Baked node images"). Safe to run again: existing nodes are left as they
# are, a converged site.yml changes nothing.
deploy: venv deps
	$(STAGE) secrets ansible-playbook -i inventory/lab playbooks/secrets.yml
	$(STAGE) lab-up tools/lab up --baked
	$(STAGE) site ansible-playbook -i inventory/lab site.yml

clean:
	rm -rf .cache tests/output
