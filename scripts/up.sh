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
#   5. a wait until every service's gRPC health check says SERVING (or, for a
#      service the manifest marks "health": "http", until GET /healthz on its
#      HTTP port answers 200: the channel sandbox speaks HTTP only);
#   6. each service's optional "seed" script, once everything is healthy (the
#      sandbox's points channel-router's registry at it; idempotent).
#
# Manifest fields besides name / entry / migrate / scopes (all optional):
#   "health": "grpc" | "http"   how step 5 checks it ("http": no gRPC port at all)
#   "env": {"K": "V"}           extra environment; "{run}" in a value is the run directory
#   "secrets": ["NAME"]         a random 32-byte key (base64) kept in .run/secrets/NAME
#                               (created once, kept across runs like the JWT key
#                               pair) and given to this service only as NAME
#   "seed": "path.ts"           run with tsx after step 5
# Every service also gets PAYCORE_SPAN_FILE_DIR=.run/spans (spans as JSON lines,
# read by `paycore trace`). Background processes keep no inherited descriptor
# above 2 (without_inherited_fds in infra.sh): a lock the caller holds is free
# as soon as this script returns.
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

# Prints one "name|entry|migrate|health|seed" line per service (separated by the
# ASCII unit separator, not a tab: `read` would merge the tabs around an empty field),
# after checking the manifest: names fit SERVICE_NAME, are unique, and every
# file exists. Writes each service's extra environment ("env" and "secrets") to
# $RUN_DIR/service-env/<name>, NUL-separated K=V (mode 0600: it may hold keys),
# creating the secrets under $RUN_DIR/secrets/ when missing.
manifest_services() {
  # shellcheck disable=SC2016 # JavaScript, not shell
  node -e '
    const fs = require("fs");
    const path = require("path");
    const crypto = require("crypto");
    const [file, root, runDir] = process.argv.slice(1);
    const fail = (message) => { console.error(`error: ${file}: ${message}`); process.exit(1); };
    let manifest;
    try { manifest = JSON.parse(fs.readFileSync(file, "utf8")); } catch (err) { fail(err.message); }
    if (!manifest || !Array.isArray(manifest.services)) fail("expected {\"services\": [...]}");
    if (manifest.services.length > 100) fail("more than 100 services");
    const seen = new Set();
    const envDir = path.join(runDir, "service-env");
    const secretDir = path.join(runDir, "secrets");
    fs.mkdirSync(envDir, { recursive: true, mode: 0o700 });
    for (const service of manifest.services) {
      const { name, entry, migrate, seed } = service ?? {};
      const health = service?.health ?? "grpc";
      if (typeof name !== "string" || !/^[a-z][a-z0-9-]{1,40}$/.test(name)) fail(`bad service name ${JSON.stringify(name)}`);
      if (seen.has(name)) fail(`service ${name} is listed twice`);
      seen.add(name);
      if (health !== "grpc" && health !== "http") fail(`${name}: "health" must be "grpc" or "http"`);
      for (const [field, value] of [["entry", entry], ["migrate", migrate], ["seed", seed]]) {
        if (value === undefined && field !== "entry") continue;
        if (typeof value !== "string" || /[\t\n\x1f]/.test(value)) fail(`${name}: "${field}" must be a path`);
        if (!fs.existsSync(path.resolve(root, value))) fail(`${name}: ${field} ${value} does not exist`);
      }
      const pairs = [];
      const env = service.env ?? {};
      if (typeof env !== "object" || Array.isArray(env)) fail(`${name}: "env" must be an object`);
      for (const [key, value] of Object.entries(env)) {
        if (!/^[A-Z][A-Z0-9_]{0,63}$/.test(key) || typeof value !== "string" || value.includes("\0"))
          fail(`${name}: env ${key} must be NAME: "string"`);
        pairs.push(`${key}=${value.split("{run}").join(runDir)}`);
      }
      const secrets = service.secrets ?? [];
      if (!Array.isArray(secrets) || secrets.length > 20) fail(`${name}: "secrets" must be a list (at most 20)`);
      for (const secret of secrets) {
        if (typeof secret !== "string" || !/^[A-Z][A-Z0-9_]{0,63}$/.test(secret)) fail(`${name}: bad secret name ${secret}`);
        fs.mkdirSync(secretDir, { recursive: true, mode: 0o700 });
        const secretFile = path.join(secretDir, secret);
        if (!fs.existsSync(secretFile))
          fs.writeFileSync(secretFile, crypto.randomBytes(32).toString("base64") + "\n", { mode: 0o600, flag: "wx" });
        pairs.push(`${secret}=${fs.readFileSync(secretFile, "utf8").trim()}`);
      }
      const envFile = path.join(envDir, name);
      fs.writeFileSync(`${envFile}.tmp`, pairs.map((pair) => pair + "\0").join(""), { mode: 0o600 });
      fs.renameSync(`${envFile}.tmp`, envFile);
      process.stdout.write([name, entry, migrate ?? "", health, seed ?? ""].join("\x1f") + "\n");
    }
  ' "$MANIFEST" "$PAYCORE_ROOT" "$RUN_DIR"
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
    PAYCORE_SPAN_FILE_DIR="$RUN_DIR/spans"
    # Local webhooks (make demo's merchant) listen on 127.0.0.1; production leaves this false.
    CASHIER_NOTIFY_ALLOW_PRIVATE_URLS="${CASHIER_NOTIFY_ALLOW_PRIVATE_URLS:-true}"
  )
  local -a extra=()
  if [[ -f "$RUN_DIR/service-env/$1" ]]; then mapfile -d '' -t extra <"$RUN_DIR/service-env/$1"; fi
  SERVICE_ENV+=("${extra[@]}")
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
  # without_inherited_fds: the service keeps no descriptor above 2 (not the run
  # lock, not a lock or pipe of whoever called make up); it execs, so $! is the service.
  set_service_env "$name" "${grpc/#-/0}" "$http"
  without_inherited_fds env "${SERVICE_ENV[@]}" setsid node --import tsx "$entry" \
    </dev/null >>"$LOG_DIR/$name.log" 2>&1 &
  pid=$!
  record_pid "$PID_DIR/$name.pid" "$pid"
  printf '%s %s\n' "$grpc" "$http" >"$PID_DIR/$name.ports"
  if [[ "$grpc" == - ]]; then
    say "start: $name (pid $pid) http 127.0.0.1:$http, log $LOG_DIR/$name.log"
  else
    say "start: $name (pid $pid) grpc 127.0.0.1:$grpc http 127.0.0.1:$http, log $LOG_DIR/$name.log"
  fi
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

  local name entry migrate health seed
  while IFS=$'\x1f' read -r name entry migrate health seed; do
    if [[ -n "$migrate" ]]; then run_migrations "$name" "$migrate"; fi
  done <<<"$services"

  "$TSX" "$PAYCORE_ROOT/scripts/dev-token.ts" 9>&- || die "could not write the development token"
  mkdir -p "$RUN_DIR/spans"

  # Ports: a running service keeps its own; the others get free ones. A service
  # checked over HTTP has no gRPC port ("-") and is not in endpoints.json.
  local -a to_start=() seeds=()
  local grpc_json="" http_json="" grpc http pid grpc_separator="" http_separator=""
  while IFS=$'\x1f' read -r name entry migrate health seed; do
    [[ -n "$name" ]] || continue
    if pid="$(recorded_pid "$PID_DIR/$name.pid")" && [[ -f "$PID_DIR/$name.ports" ]]; then
      read -r grpc http <"$PID_DIR/$name.ports"
      say "running: $name (pid $pid) grpc 127.0.0.1:$grpc http 127.0.0.1:$http, left alone"
      [[ "$grpc" == - ]] || PORT_TAKEN[$grpc]=1
      PORT_TAKEN[$http]=1
    else
      forget_pid "$PID_DIR/$name.pid"
      grpc=-
      if [[ "$health" != http ]]; then
        pick_port "$GRPC_PORT_BASE"
        grpc="$PICKED_PORT"
      fi
      pick_port "$HTTP_PORT_BASE"
      http="$PICKED_PORT"
      to_start+=("$name"$'\t'"$entry"$'\t'"$grpc"$'\t'"$http")
    fi
    if [[ "$grpc" != - ]]; then
      grpc_json+="$grpc_separator\"$name\": \"127.0.0.1:$grpc\""
      grpc_separator=", "
    fi
    http_json+="$http_separator\"$name\": \"127.0.0.1:$http\""
    http_separator=", "
    if [[ -n "$seed" ]]; then seeds+=("$name"$'\t'"$seed"); fi
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

  # Seeds run on every up, not only when their service started: a service left
  # running keeps its state, one restarted beside it may not (the sandbox's port).
  for item in "${seeds[@]}"; do
    IFS=$'\t' read -r name seed <<<"$item"
    say "seed: $name ($seed)"
    "$TSX" "$PAYCORE_ROOT/$seed" </dev/null >>"$LOG_DIR/$name.seed.log" 2>&1 9>&- || {
      tail -n 40 "$LOG_DIR/$name.seed.log" >&2 || true
      die "the seed of $name failed (log: $LOG_DIR/$name.seed.log)"
    }
  done

  say "up: endpoints in $RUN_DIR/endpoints.json, token in $RUN_DIR/dev-token; 'make down' stops it all"
}

main "$@"
