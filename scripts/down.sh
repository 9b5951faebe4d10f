#!/usr/bin/env bash
# `make down`: stops what `make up` (or `scripts/infra.sh ensure`) started, and
# nothing else. It acts only on the records under .run/pids/: a pid whose start
# time no longer matches the record belongs to some other process now and is
# left alone; servers that were already running when `make up` came are never
# recorded, so never stopped. Services first (they drain on SIGTERM), then NATS,
# then Postgres. Running it twice is harmless.
#
# Settings: PAYCORE_RUN_DIR (default <repo>/.run); PAYCORE_STOP_TIMEOUT_S, how
# long a service may take to drain before SIGKILL (default 20, above the
# services' own SHUTDOWN_GRACE_MS of 10 s).

set -euo pipefail
# shellcheck source=scripts/infra.sh
source "$(dirname "${BASH_SOURCE[0]}")/infra.sh"

STOP_TIMEOUT_S="${PAYCORE_STOP_TIMEOUT_S:-20}"

stop_services() {
  local file name pid
  shopt -s nullglob
  for file in "$PID_DIR"/*.pid; do
    name="$(basename "$file" .pid)"
    if pid="$(recorded_pid "$file")"; then
      say "stop: $name (pid $pid)"
      stop_pid "$pid" "$STOP_TIMEOUT_S" "$name"
    else
      say "stop: $name was not running"
    fi
    forget_pid "$file"
    rm -f "$PID_DIR/$name.ports"
  done
  shopt -u nullglob
}

main() {
  [[ -d "$RUN_DIR" ]] || {
    say "down: nothing to stop ($RUN_DIR does not exist)"
    return 0
  }
  take_run_lock
  infra_prepare_dirs
  stop_services
  infra_stop
  # Stale endpoints would send callers to closed ports.
  rm -f "$RUN_DIR/endpoints.json" "$RUN_DIR/http-endpoints.json"
  # Copies of the secrets for the services that ran (the keys themselves stay in secrets/).
  rm -rf "$RUN_DIR/service-env"
  say "down: stopped everything make up started"
}

main "$@"
