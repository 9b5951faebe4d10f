#!/usr/bin/env bash
# Tools the test suite runs besides node: Debian's `prometheus` (with
# `promtool`), for test/monitoring.test.ts. `make test` calls this first.
#
# Idempotent: a tool already on PATH is left alone. Installs only as root with
# apt-get (CI runs as root on Debian); anywhere else it says what is missing
# and returns 0, and the tests that need the tool skip with that message.
#
# Usage: scripts/ensure-tools.sh

set -euo pipefail

missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)

if ((${#missing[@]} == 0)); then
  echo "tools: prometheus and promtool present"
  exit 0
fi

if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "tools: prometheus/promtool missing and not root with apt-get: install the Debian package 'prometheus' (the monitoring test skips without it)"
  exit 0
fi

echo "tools: installing prometheus (Debian package; the service is not started)"
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d 101: the package's post-install must not start a system Prometheus.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  created_policy=1
fi
cleanup() { if ((created_policy)); then rm -f "$policy"; fi; }
trap cleanup EXIT
if ! apt-get install -y --no-install-recommends prometheus >/tmp/paycore-ensure-tools.log 2>&1; then
  apt-get update >>/tmp/paycore-ensure-tools.log 2>&1 || true
  apt-get install -y --no-install-recommends prometheus >>/tmp/paycore-ensure-tools.log 2>&1 || {
    tail -n 20 /tmp/paycore-ensure-tools.log >&2
    echo "tools: apt-get could not install prometheus (log: /tmp/paycore-ensure-tools.log)" >&2
    exit 1
  }
fi
command -v prometheus >/dev/null && command -v promtool >/dev/null ||
  { echo "tools: the prometheus package did not provide prometheus and promtool" >&2; exit 1; }
echo "tools: $(prometheus --version 2>&1 | head -n 1)"
