#!/usr/bin/env bash
# `make up`: the whole platform on this machine, in the background.
#
#   1. Postgres and NATS (scripts/infra.sh: DATABASE_URL / NATS_URL, a running
#      server, the local server started, or embedded ones);
#   2. each service's migrations (the manifest's optional "migrate" entry);
#   3. the development key pair and token (scripts/dev-token.ts);
#   4. every service of the manifest (deploy/services.json) as
#      `node --import tsx <entry>`, logs in .run/logs/<name>.log, pid in
#      .run/pids/<name>.pid, ports in .run/endpoints.json and .run/http-endpoints.json;
#   5. a wait until every service's gRPC health check says SERVING.
#
# Running it again is harmless: servers and services that are running are left
# alone and keep their ports; only what is missing is started. `make down`
# (scripts/down.sh) stops what this started and nothing else.
#
# Settings (all optional), besides those of scripts/infra.sh:
#   PAYCORE_SERVICES_MANIFEST  services manifest (default deploy/services.json)
#   PAYCORE_GRPC_PORT_BASE     first gRPC port to try (default 50051)
#   PAYCORE_HTTP_PORT_BASE     first HTTP (metrics) port to try (default 9464)
#   PAYCORE_HEALTH_TIMEOUT_MS  bound on the health wait (default 60000)
#   LOG_LEVEL                  passed to the services (default info)

set -euo pipefail
# shellcheck source=scripts/infra.sh
source "$(dirname "${BASH_SOURCE[0]}")/infra.sh"
cd "$PAYCORE_ROOT"

MANIFEST="$(realpath -m "${PAYCORE_SERVICES_MANIFEST:-$PAYCORE_ROOT/deploy/services.json}")"
GRPC_PORT_BASE="${PAYCORE_GRPC_PORT_BASE:-50051}"
HTTP_PORT_BASE="${PAYCORE_HTTP_PORT_BASE:-9464}"
# How far past a base to look for a free port before giving up.
PORT_SEARCH_MAX=500
MIGRATION_TIMEOUT_S=300
TSX="$PAYCORE_ROOT/node_modules/.bin/tsx"

[[ -f "$MANIFEST" ]] || die "services manifest not found: $MANIFEST"
[[ -x "$TSX" ]] || die "node_modules is missing: run 'make setup' first"

# Prints one "name<TAB>entry<TAB>migrate" line per service, after checking the
# manifest: names fit SERVICE_NAME, are unique, and every file exists.
manifest_services() {
  # shellcheck disable=SC2016 # JavaScript, not shell
  node -e '
    const fs = require("fs");
    const path = require("path");
    const [file, root] = process.argv.slice(1);
    const fail = (message) => { console.error(`error: ${file}: ${message}`); process.exit(1); };
    let manifest;
    try { manifest = JSON.parse(fs.readFileSync(file, "utf8")); } catch (err) { fail(err.message); }
    if (!manifest || !Array.isArray(manifest.services)) fail("expected {\"services\": [...]}");
    if (manifest.services.length > 100) fail("more than 100 services");
    const seen = new Set();
    for (const service of manifest.services) {
      const { name, entry, migrate } = service ?? {};
      if (typeof name !== "string" || !/^[a-z][a-z0-9-]{1,40}$/.test(name)) fail(`bad service name ${JSON.stringify(name)}`);
      if (seen.has(name)) fail(`service ${name} is listed twice`);
      seen.add(name);
      for (const [field, value] of [["entry", entry], ["migrate", migrate]]) {
        if (value === undefined && field === "migrate") continue;
        if (typeof value !== "string" || /[\t\n]/.test(value)) fail(`${name}: "${field}" must be a path`);
        if (!fs.existsSync(path.resolve(root, value))) fail(`${name}: ${field} ${value} does not exist`);
      }
      process.stdout.write(`${name}\t${entry}\t${migrate ?? ""}\n`);
    }
  ' "$MANIFEST" "$PAYCORE_ROOT"
}

# The environment contract of every service (see docs/runbooks/local-infrastructure.md).
# set_service_env NAME GRPC_PORT HTTP_PORT: fills SERVICE_ENV for `env "${SERVICE_ENV[@]}" ...`.
# (An array rather than a wrapper function: a function run with `&` forks a
# subshell, and $! would then name that subshell instead of the service.)
declare -a SERVICE_ENV=()
set_service_env() {
  SERVICE_ENV=(
    SERVICE_NAME="$1" GRPC_HOST="$LOCAL_HOST" GRPC_PORT="$2" HTTP_PORT="$3"
    DATABASE_URL="$DATABASE_URL" NATS_URL="$NATS_URL"
    AUTH_JWT_PUBLIC_KEY_FILE="$RUN_DIR/jwt/public.pem" AUTH_JWT_ISSUER=paycore-dev AUTH_JWT_AUDIENCE=paycore
    BIZ_CATALOGUE_FILE="$PAYCORE_ROOT/config/biz-catalogue.json" LOG_LEVEL="${LOG_LEVEL:-info}"
    ENDPOINTS_FILE="$RUN_DIR/endpoints.json" SERVICE_TOKEN_FILE="$RUN_DIR/dev-token"
    # Local webhooks (make demo's merchant) listen on 127.0.0.1; production leaves this false.
    CASHIER_NOTIFY_ALLOW_PRIVATE_URLS="${CASHIER_NOTIFY_ALLOW_PRIVATE_URLS:-true}"
  )
}

run_migrations() {
  local name="$1" migrate="$2" log="$LOG_DIR/$1.migrate.log"
  say "migrate: $name ($migrate)"
  set_service_env "$name" 0 0
  env "${SERVICE_ENV[@]}" timeout "$MIGRATION_TIMEOUT_S" node --import tsx "$migrate" \
    </dev/null >>"$log" 2>&1 9>&- || {
    tail -n 40 "$log" >&2 || true
    die "migrations of $name failed (log: $log)"
  }
}

# Ports handed out in this run, so two services never get the same one.
declare -A PORT_TAKEN=()
PICKED_PORT=0
# pick_port BASE: sets PICKED_PORT to the first port >= BASE that nothing listens on.
pick_port() {
  local port
  for ((port = $1; port < $1 + PORT_SEARCH_MAX && port <= 65535; port++)); do
    [[ -n "${PORT_TAKEN[$port]:-}" ]] && continue
    port_open "$LOCAL_HOST" "$port" && continue
    PORT_TAKEN[$port]=1
    PICKED_PORT="$port"
    return 0
  done
  die "no free port in $1..$(($1 + PORT_SEARCH_MAX - 1))"
}

start_service() {
  local name="$1" entry="$2" grpc="$3" http="$4" pid
  # setsid: the service leads its own process group, so down.sh can signal all of
  # it and a Ctrl-C in this terminal does not reach it.
  set_service_env "$name" "$grpc" "$http"
  env "${SERVICE_ENV[@]}" setsid node --import tsx "$entry" </dev/null >>"$LOG_DIR/$name.log" 2>&1 9>&- &
  pid=$!
  record_pid "$PID_DIR/$name.pid" "$pid"
  printf '%s %s\n' "$grpc" "$http" >"$PID_DIR/$name.ports"
  say "start: $name (pid $pid) grpc 127.0.0.1:$grpc http 127.0.0.1:$http, log $LOG_DIR/$name.log"
}

# write_json_atomically FILE CONTENT: readers never see a half-written file.
write_json_atomically() {
  printf '%s\n' "$2" >"$1.tmp"
  mv -f "$1.tmp" "$1"
}

main() {
  take_run_lock
  infra_ensure

  local services
  services="$(manifest_services)" || exit 1

  local name entry migrate
  while IFS=$'\t' read -r name entry migrate; do
    if [[ -n "$migrate" ]]; then run_migrations "$name" "$migrate"; fi
  done <<<"$services"

  "$TSX" "$PAYCORE_ROOT/scripts/dev-token.ts" 9>&- || die "could not write the development token"

  # Ports: a running service keeps its own; the others get free ones.
  local -a to_start=()
  local grpc_json="" http_json="" grpc http pid separator=""
  while IFS=$'\t' read -r name entry migrate; do
    [[ -n "$name" ]] || continue
    if pid="$(recorded_pid "$PID_DIR/$name.pid")" && [[ -f "$PID_DIR/$name.ports" ]]; then
      read -r grpc http <"$PID_DIR/$name.ports"
      say "running: $name (pid $pid) grpc 127.0.0.1:$grpc, left alone"
      PORT_TAKEN[$grpc]=1
      PORT_TAKEN[$http]=1
    else
      forget_pid "$PID_DIR/$name.pid"
      pick_port "$GRPC_PORT_BASE"
      grpc="$PICKED_PORT"
      pick_port "$HTTP_PORT_BASE"
      http="$PICKED_PORT"
      to_start+=("$name"$'\t'"$entry"$'\t'"$grpc"$'\t'"$http")
    fi
    grpc_json+="$separator\"$name\": \"127.0.0.1:$grpc\""
    http_json+="$separator\"$name\": \"127.0.0.1:$http\""
    separator=", "
  done <<<"$services"

  # Written before any service starts, so each finds the others through ENDPOINTS_FILE.
  write_json_atomically "$RUN_DIR/endpoints.json" "{$grpc_json}"
  write_json_atomically "$RUN_DIR/http-endpoints.json" "{$http_json}"

  local item
  for item in "${to_start[@]}"; do
    IFS=$'\t' read -r name entry grpc http <<<"$item"
    start_service "$name" "$entry" "$grpc" "$http"
  done

  "$TSX" "$PAYCORE_ROOT/scripts/wait-healthy.ts" 9>&- ||
    die "not every service is SERVING; the logs are in $LOG_DIR; 'make down' stops what was started"

  say "up: endpoints in $RUN_DIR/endpoints.json, token in $RUN_DIR/dev-token; 'make down' stops it all"
}

main "$@"
