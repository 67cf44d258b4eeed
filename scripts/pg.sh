#!/usr/bin/env bash
# A private, throw-away PostgreSQL cluster for the tests, separate from any system cluster
# (Debian's own cluster on port 5432 is never used or started here).
#
#   scripts/pg.sh start DIR   create a cluster in DIR (e.g. target/pg), start it on a free port
#                             of 127.0.0.1 and print its URL, the only line on stdout:
#                               postgres://kairos@127.0.0.1:PORT/kairos
#                             If DIR already holds a cluster this script started and it is still
#                             running, print its URL again. A stale one (crashed, rebooted) is
#                             wiped and recreated: the data is throw-away.
#   scripts/pg.sh url DIR     print the URL if the cluster in DIR is running, exit 1 otherwise.
#   scripts/pg.sh stop DIR    stop the cluster (immediate shutdown) and remove DIR.
#
# Tuned for test speed, not durability: fsync, synchronous_commit and full_page_writes are off,
# authentication is `trust`, and the superuser is `kairos` (initdb -U kairos) with a database
# `kairos`. The server listens on 127.0.0.1 only, with its unix socket inside the data directory.
# Its log is DIR/log; everything but the URL goes to stderr.
#
# initdb and postgres refuse to run as root, so as root the cluster belongs to the system user
# `kairos-pg` (created if missing). If that user cannot reach DIR (a parent directory it may not
# traverse), the data goes to a mktemp directory under /tmp instead, recorded in DIR/datadir.
# PostgreSQL itself comes from scripts/setup.sh (Debian's `postgresql` package).
set -euo pipefail

die() { echo "pg.sh: $*" >&2; exit 1; }
note() { echo "pg.sh: $*" >&2; }

usage() { die "usage: $0 start|stop|url DIR"; }
[ $# -eq 2 ] || usage
cmd=$1
[ -n "$2" ] || usage
# Absolute, because the server commands run from / (the cluster user may not read our cwd).
dir=$(realpath -m -- "$2")
[ "$dir" != / ] || die "refusing to use / as the cluster directory"

# PG* variables in the caller's environment (PGHOST, PGPORT, PGUSER, ...) would redirect the
# client commands below; everything here is passed explicitly.
while read -r var; do unset "$var"; done < <(compgen -e | grep '^PG' || true)

# The newest installed major version (Debian keeps each under /usr/lib/postgresql/<ver>).
# shellcheck disable=SC2012  # version directory names are plain numbers
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ] || [ ! -x "$bin/pg_ctl" ]; then
    die "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); run scripts/setup.sh"
fi

# The user that owns and runs the cluster: ourselves, or kairos-pg when we are root.
pg_user=$(id -un)
if [ "$(id -u)" = 0 ]; then
    pg_user=kairos-pg
fi

ensure_user() {
    [ "$(id -u)" = 0 ] || return 0
    getent passwd "$pg_user" >/dev/null && return 0
    # Two concurrent starts may both get here: useradd then fails (user exists, or passwd is
    # locked), so retry and re-check rather than fail.
    for _ in 1 2 3 4 5; do
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
            --comment "Kairos test PostgreSQL" "$pg_user" >/dev/null 2>&1 || true
        getent passwd "$pg_user" >/dev/null && return 0
        sleep 0.5
    done
    note "could not create the system user $pg_user; using nobody"
    pg_user=nobody
}

# Runs a command as the cluster user, from / so that an unreadable cwd does not matter, and
# without fd 9: a postmaster that inherited the lock below would hold it for its whole life.
as_pg() {
    if [ "$(id -u)" != 0 ]; then
        (cd / && "$@") 9>&-
    elif command -v runuser >/dev/null 2>&1; then
        (cd / && runuser -u "$pg_user" -- "$@") 9>&-
    else
        (cd / && setpriv --reuid="$pg_user" --regid="$(id -g "$pg_user")" --init-groups -- "$@") 9>&-
    fi
}

# The data directory: DIR itself, or the /tmp fallback recorded in DIR/datadir.
data_dir() {
    if [ -f "$dir/datadir" ]; then cat "$dir/datadir"; else echo "$dir"; fi
}

# The postmaster's pid if the cluster in DIR is running, else fails.
running_pid() {
    local data pid
    data=$(data_dir)
    [ -f "$data/postmaster.pid" ] || return 1
    pid=$(head -1 "$data/postmaster.pid" 2>/dev/null) || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    # /proc works for another user's process too (kill -0 would not, as non-root); the name
    # check guards against a recycled pid.
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ] || return 1
    echo "$pid"
}

# Whether DIR is safe to delete: empty, or made by this script.
ours() {
    [ -d "$dir" ] || return 0
    [ -z "$(ls -A "$dir")" ] || [ -f "$dir/PG_VERSION" ] || [ -f "$dir/datadir" ] || [ -f "$dir/url" ]
}

# Stops the cluster in DIR if it runs, and removes DIR (and a /tmp fallback data directory).
teardown() {
    local data pid
    [ -e "$dir" ] || return 0
    ours || die "$dir holds files that pg.sh did not make; not touching it"
    data=$(data_dir)
    if pid=$(running_pid); then
        as_pg "$bin/pg_ctl" stop -D "$data" -m immediate -w -t 30 >/dev/null 2>&1 \
            || kill -QUIT "$pid" 2>/dev/null || true
        for _ in $(seq 100); do
            [ -e "/proc/$pid" ] || break
            sleep 0.1
        done
        [ ! -e "/proc/$pid" ] || die "postgres (pid $pid) did not stop; see $data/log"
    fi
    if [ "$data" != "$dir" ]; then
        case "$data" in
            /tmp/kairos-pg.*) rm -rf -- "$data" ;;
        esac
    fi
    rm -rf -- "$dir"
}

# A TCP port on 127.0.0.1 that is free now (the kernel's pick), or a random unused one.
free_port() {
    if command -v python3 >/dev/null 2>&1 && python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' 2>/dev/null; then
        return 0
    fi
    local port
    for _ in $(seq 200); do
        port=$((20000 + RANDOM % 30000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    die "no free TCP port found on 127.0.0.1"
}

# Quotes a value for postgresql.conf.
conf_quote() { printf "'%s'" "${1//\'/\'\'}"; }

start() {
    local url data out port started
    if [ -f "$dir/url" ] && running_pid >/dev/null; then
        cat "$dir/url"
        return 0
    fi
    # Not running: whatever is left in DIR is a stale cluster of ours (or nothing).
    teardown
    ensure_user

    mkdir -p -- "$dir"
    data=$dir
    if [ "$(id -u)" = 0 ]; then
        chown "$pg_user:" "$dir"
        chmod 700 "$dir"
        if ! as_pg test -w "$dir" -a -x "$dir" 2>/dev/null; then
            data=$(mktemp -d /tmp/kairos-pg.XXXXXX)
            chown "$pg_user:" "$data"
            chown root: "$dir"
            echo "$data" >"$dir/datadir"
            note "$pg_user cannot reach $dir (a parent directory is not traversable);" \
                "the cluster's data is in $data instead (recorded in $dir/datadir)"
        fi
    fi

    out=$(as_pg "$bin/initdb" -D "$data" -U kairos --auth=trust --locale=C --encoding=UTF8 \
        --no-sync 2>&1) || { echo "$out" >&2; die "initdb failed in $data"; }

    # The unix socket sits in the data directory, unless its path would pass the kernel's
    # 107-byte limit; then there is none (everything here connects over TCP anyway).
    local sockdir=$data
    [ ${#data} -le 90 ] || sockdir=
    cat >>"$data/postgresql.conf" <<EOF

# pg.sh: a private test cluster, tuned for speed over durability.
listen_addresses = '127.0.0.1'
unix_socket_directories = $(conf_quote "$sockdir")
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
    if [ "$data" != "$dir" ]; then
        ln -sfn "$data/log" "$dir/log"
    fi

    # The port is free when picked but another process may take it before postgres binds it
    # (two starts at once, say): then pick again.
    started=
    for _ in 1 2 3 4 5; do
        port=$(free_port)
        rm -f -- "$data/log"  # so the check below sees this attempt only
        if as_pg "$bin/pg_ctl" start -D "$data" -l "$data/log" -o "-p $port" -w -t 60 \
            >/dev/null 2>&1; then
            started=1
            break
        fi
        grep -q 'could not bind\|Address already in use' "$data/log" 2>/dev/null || break
        note "port $port was taken; retrying"
    done
    if [ -z "$started" ]; then
        tail -20 "$data/log" >&2 2>/dev/null || true
        die "postgres did not start; see $dir/log"
    fi

    for _ in $(seq 300); do
        "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U kairos -d postgres && break
        sleep 0.1
    done
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U kairos -d postgres \
        || die "postgres on port $port is not ready; see $dir/log"

    out=$("$bin/createdb" -h 127.0.0.1 -p "$port" -U kairos kairos 2>&1) \
        || { echo "$out" >&2; die "createdb kairos failed"; }

    url="postgres://kairos@127.0.0.1:$port/kairos"
    echo "$url" >"$dir/url.tmp"
    mv "$dir/url.tmp" "$dir/url"
    echo "$url"
}

# One pg.sh at a time per DIR: concurrent test processes may all call `start DIR`.
# The lock file is left behind (deleting it would let a waiter and a newcomer both lock). An
# existing one is opened read-only: /tmp's protected_regular forbids creating-opens of another
# user's file there, even for root.
lock="${TMPDIR:-/tmp}/kairos-pg-lock.$(printf %s "$dir" | md5sum | cut -c1-16)"
if [ -e "$lock" ]; then exec 9<"$lock"; else exec 9>>"$lock"; fi || die "cannot open $lock"
flock 9

case "$cmd" in
    start) start ;;
    stop) teardown ;;
    url)
        if [ -f "$dir/url" ] && running_pid >/dev/null; then
            cat "$dir/url"
        else
            echo "pg.sh: no cluster running in $dir" >&2
            exit 1
        fi
        ;;
    *) usage ;;
esac
