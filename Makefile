# SPDX-License-Identifier: Apache-2.0
# Front door for newcomers and CI: `make run` and `make test` work on a fresh Debian 12 machine.

BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
PYTHON := /usr/bin/python3
PREFIX ?= /usr/local

# Debian 12 packages for building, running and testing (see docs/dependencies.md for why each).
DEB_PACKAGES := meson ninja-build pkg-config gcc git libnghttp2-dev protobuf-compiler protobuf-c-compiler \
	libprotobuf-c-dev libjson-c-dev libmicrohttpd-dev zlib1g-dev libgnutls28-dev libcmocka-dev python3-grpcio python3-protobuf python3-h2 \
	python3-pytest clang libclang-rt-14-dev clang-format libssl-dev libsqlite3-dev libarchive-dev libisal-dev \
	libzstd-dev libseccomp-dev libcurl4-openssl-dev libyaml-dev docker-registry skopeo busybox-static python3-cryptography zstd tzdata \
	runc crun conmon containernetworking-plugins iptables iproute2
# Only `make bench` needs these: the peer runtime measured in the same run.
BENCH_PACKAGES := containerd

.PHONY: all deps bench-deps install-packages build run test test-asan install install-policy install-cni promtool bench fuzz format check-format clean

all: build

deps:
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(DEB_PACKAGES)"

bench-deps:
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(DEB_PACKAGES) $(BENCH_PACKAGES)"

install-packages:
	@missing=$$(for p in $(PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing:" $$missing; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=$(PREFIX) --sysconfdir=/etc

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Start the daemon in the foreground with its built-in defaults (root needed: it owns /var/run/crio).
run: deps build install-policy install-cni
	$(BUILD)/crio

test: deps build promtool
	BUILD=$(BUILD) PROMTOOL=$(PROMTOOL) tests/run-all

test-asan: deps promtool
	[ -f $(ASAN_BUILD)/build.ninja ] || meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C $(ASAN_BUILD)
	BUILD=$(ASAN_BUILD) CRIO_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		PROMTOOL=$(PROMTOOL) tests/run-all

# The metrics tests check the exposition with Debian's promtool. Installing the prometheus package
# would also start a server (its init script, on hosts without systemd), so only its promtool is
# unpacked here, from the package file.
PROMTOOL := $(CURDIR)/.cache/prometheus/usr/bin/promtool
promtool: $(PROMTOOL)
$(PROMTOOL):
	@mkdir -p $(CURDIR)/.cache/prometheus && cd $(CURDIR)/.cache/prometheus && \
		{ apt-get download -q prometheus || { apt-get update -q && apt-get download -q prometheus; }; } && \
		dpkg-deb -x prometheus_*.deb . && rm -f prometheus_*.deb && test -x $(PROMTOOL)

install: build install-policy install-cni
	meson install -C $(BUILD)

# Pulls need a signature policy (a missing one is an error, as in CRI-O). Install an accept-anything
# default only where the host has none, so an administrator's policy is never replaced.
POLICY := $(DESTDIR)/etc/containers/policy.json
install-policy:
	@[ -e $(POLICY) ] || { install -D -m 0644 contrib/policy.json $(POLICY) && echo "Installed $(POLICY)"; }

# Pods need a CNI network. Like CRI-O, ship a single-node bridge (10.85.0.0/16) and install it only
# where the node has no CNI configuration at all, so a cluster's network plugin is never overridden.
CNI_DIR := $(DESTDIR)/etc/cni/net.d
install-cni:
	@[ -n "$$(find $(CNI_DIR) -maxdepth 1 \( -name '*.conf' -o -name '*.conflist' -o -name '*.json' \) \
		2>/dev/null)" ] || { \
		install -D -m 0644 contrib/cni/10-crio-c-bridge.conflist $(CNI_DIR)/10-crio-c-bridge.conflist && \
		echo "Installed $(CNI_DIR)/10-crio-c-bridge.conflist"; }

bench: bench-deps build
	BUILD=$(BUILD) $(PYTHON) bench/bench.py
	BUILD=$(BUILD) $(PYTHON) bench/bench_pull.py
	BUILD=$(BUILD) $(PYTHON) bench/bench_pods.py
	BUILD=$(BUILD) $(PYTHON) bench/bench_network.py
	BUILD=$(BUILD) $(PYTHON) bench/bench_stats.py
	BUILD=$(BUILD) $(PYTHON) bench/bench_stream.py

fuzz: deps
	[ -f $(FUZZ_BUILD)/build.ninja ] || CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fno-sanitize-recover=all
	ninja -C $(FUZZ_BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

check-format:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
