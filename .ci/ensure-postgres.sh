#!/usr/bin/env bash
# Make sure a PostgreSQL server answers on 127.0.0.1:5432 for billhub's test suite, and export
# BILLHUB_TEST_POSTGRES_URL.
#
#   bash .ci/ensure-postgres.sh          run it alone (prints the URL to export)
#   source .ci/ensure-postgres.sh        from .ci/run: defines the functions, then call
#   ensure_postgres                      (it exports BILLHUB_TEST_POSTGRES_URL into the caller)
#
# What it does, in order, and only as far as needed:
#   1. If something already answers on 127.0.0.1:PORT, use it as it is (nothing is reconfigured).
#   2. Otherwise install Debian's `postgresql` package (apt-get update once), create a cluster if
#      there is none, make it listen on PORT with `trust` for TCP connections from 127.0.0.1 and ::1,
#      start it, and wait (bounded) until it answers.
#   3. Export BILLHUB_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:PORT/postgres) and
#      check it with `psql ... -c 'select 1'` when psql is present.
#
# Under CI=true a PostgreSQL that cannot be reached is an error (exit status 1); the PostgreSQL
# half of the store suite is never skipped. Outside CI it is a warning, the URL is still exported,
# and the PostgreSQL tests then fail loudly.
#
# Knobs (environment): BILLHUB_TEST_POSTGRES_URL (use this server instead of the default),
# BILLHUB_PG_PORT (default 5432), BILLHUB_PG_CLUSTER (Debian cluster name, default main),
# BILLHUB_PG_WAIT_SECONDS (default 60).
#
# The `trust` rule is for throw-away CI machines and is only written into a cluster this script
# had to start itself; a server that already answers is never touched.

# ---------------------------------------------------------------------------------------------
# Small helpers, shared with .ci/run (which sources this file).

bh_log() { printf '%s\n' "$*"; }
bh_warn() { printf 'warning: %s\n' "$*" >&2; }
bh_error() { printf 'error: %s\n' "$*" >&2; }

# True when running under CI (CI=true, as GitHub Actions, GitLab and most runners set it; 1/yes too).
bh_is_ci() {
    case "${CI:-}" in
        [Tt][Rr][Uu][Ee] | 1 | [Yy][Ee][Ss]) return 0 ;;
        *) return 1 ;;
    esac
}

# Run a command as root: directly when we are root, through non-interactive sudo otherwise.
bh_as_root() {
    if [[ ${EUID:-$(id -u)} -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
        sudo -n -- "$@"
    else
        bh_error "root is needed to run: $*  (run as root, or allow passwordless sudo)"
        return 1
    fi
}

BH_APT_UPDATED=${BH_APT_UPDATED:-0}

# apt-get install PACKAGE... on Debian/Ubuntu, running `apt-get update` at most once per run.
bh_apt_install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        bh_error "apt-get is not available; install these packages yourself: $*"
        return 1
    fi
    if [[ $BH_APT_UPDATED != 1 ]]; then
        bh_log "apt-get update"
        bh_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q || return 1
        BH_APT_UPDATED=1
    fi
    bh_log "apt-get install $*"
    # C.UTF-8 exists on every Debian; a server package's post-install step creates its first
    # cluster with the current locale, and a UTF-8 cluster is what billhub's names need.
    bh_as_root env DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8 \
        apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL.

# Does a PostgreSQL server answer on 127.0.0.1:$1?
bh_pg_answers() {
    local port=$1
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -h 127.0.0.1 -p "$port" -t 2 -q
    else
        # No client tools yet: an open TCP port is a good enough first answer.
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
    fi
}

# Wait until PostgreSQL answers on 127.0.0.1:$1, at most $2 seconds.
bh_pg_wait() {
    local port=$1 limit=$2 waited=0
    while ((waited < limit)); do
        if bh_pg_answers "$port"; then
            return 0
        fi
        sleep 1
        waited=$((waited + 1))
    done
    bh_pg_answers "$port"
}

# The newest PostgreSQL server version installed from Debian's packages (e.g. 15), or nothing.
bh_pg_installed_version() {
    local d v best=""
    for d in /usr/lib/postgresql/*/bin/postgres; do
        [[ -x $d ]] || continue
        v=${d#/usr/lib/postgresql/}
        v=${v%%/*}
        if [[ -z $best ]] || [[ $(printf '%s\n%s\n' "$best" "$v" | sort -V | tail -n 1) == "$v" ]]; then
            best=$v
        fi
    done
    printf '%s' "$best"
}

# The version of an existing Debian cluster named $1 (newest if several), or nothing.
bh_pg_cluster_version() {
    local name=$1 d v best=""
    for d in /etc/postgresql/*/"$name"; do
        [[ -f $d/postgresql.conf ]] || continue
        v=${d#/etc/postgresql/}
        v=${v%%/*}
        [[ -x /usr/lib/postgresql/$v/bin/postgres ]] || continue
        if [[ -z $best ]] || [[ $(printf '%s\n%s\n' "$best" "$v" | sort -V | tail -n 1) == "$v" ]]; then
            best=$v
        fi
    done
    printf '%s' "$best"
}

# Is the Debian cluster $1/$2 running?
bh_pg_cluster_online() {
    pg_lsclusters -h 2>/dev/null | awk -v v="$1" -v c="$2" '$1 == v && $2 == c && $4 ~ /^online/ { found = 1 } END { exit !found }'
}

# Put `trust` for TCP from 127.0.0.1 and ::1 at the top of the cluster's pg_hba.conf (the first
# matching line wins, and Debian's default file has scram-sha-256 lines for the same addresses).
bh_pg_trust_localhost() {
    local hba=$1 marker='# billhub .ci/ensure-postgres.sh: trust TCP from localhost (CI machines only)'
    if bh_as_root grep -qxF "$marker" "$hba"; then
        return 0
    fi
    local tmp
    tmp=$(mktemp) || return 1
    {
        printf '%s\n' "$marker"
        printf 'host    all    all    127.0.0.1/32    trust\n'
        printf 'host    all    all    ::1/128         trust\n'
        printf '\n'
        bh_as_root cat "$hba"
    } >"$tmp" || {
        rm -f "$tmp"
        return 1
    }
    # `cat >` keeps the file's owner and mode.
    # shellcheck disable=SC2016 # $1 and $2 are expanded by the inner sh
    bh_as_root sh -c 'cat "$1" > "$2"' sh "$tmp" "$hba" || {
        rm -f "$tmp"
        return 1
    }
    rm -f "$tmp"
    bh_log "pg_hba.conf: trust for 127.0.0.1/32 and ::1/128 added to $hba"
}

# Start the Debian cluster $1/$2: pg_ctlcluster outside systemd first, pg_ctl as postgres if that fails.
bh_pg_start_cluster() {
    local ver=$1 name=$2
    bh_log "starting PostgreSQL cluster $ver/$name"
    if bh_as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start; then
        return 0
    fi
    bh_warn "pg_ctlcluster could not start $ver/$name; trying pg_ctl as the postgres user"
    local conf=/etc/postgresql/$ver/$name/postgresql.conf data log
    data=$(bh_as_root pg_conftool -s "$ver" "$name" show data_directory 2>/dev/null || true)
    data=${data:-/var/lib/postgresql/$ver/$name}
    log=/var/log/postgresql/postgresql-$ver-$name.log
    bh_as_root install -d -o postgres -g postgres -m 2775 /var/run/postgresql || return 1
    bh_as_root install -d -o postgres -g postgres -m 0755 /var/log/postgresql || true
    bh_as_root runuser -u postgres -- "/usr/lib/postgresql/$ver/bin/pg_ctl" \
        -D "$data" -l "$log" -o "-c config_file=$conf" -w -t 60 start
}

# Install, configure and start a local cluster on $1 (port). Returns non-zero when it cannot.
bh_pg_provision() {
    local port=$1 name=${BILLHUB_PG_CLUSTER:-main} ver

    if ! command -v pg_ctlcluster >/dev/null 2>&1 || [[ -z $(bh_pg_installed_version) ]]; then
        bh_log "PostgreSQL server not installed: installing Debian's postgresql package"
        bh_apt_install postgresql || return 1
    fi
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        bh_error "pg_ctlcluster is missing after installing postgresql (not a Debian-style installation?)"
        return 1
    fi

    ver=$(bh_pg_cluster_version "$name")
    if [[ -z $ver ]]; then
        ver=$(bh_pg_installed_version)
        if [[ -z $ver ]]; then
            bh_error "no PostgreSQL server binaries found under /usr/lib/postgresql"
            return 1
        fi
        bh_log "creating PostgreSQL cluster $ver/$name on port $port"
        bh_as_root env LANG=C.UTF-8 LC_ALL=C.UTF-8 \
            pg_createcluster --port "$port" --locale C.UTF-8 --encoding UTF8 "$ver" "$name" || return 1
    fi

    BH_PG_LOG=/var/log/postgresql/postgresql-$ver-$name.log
    local confdir=/etc/postgresql/$ver/$name
    local current_port
    current_port=$(bh_as_root pg_conftool -s "$ver" "$name" show port 2>/dev/null || true)
    if [[ $current_port != "$port" ]]; then
        bh_log "cluster $ver/$name: port ${current_port:-unset} -> $port"
        bh_as_root pg_conftool "$ver" "$name" set port "$port" || return 1
        if bh_pg_cluster_online "$ver" "$name"; then
            bh_as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" stop || return 1
        fi
    fi
    # Debian's default listen_addresses is 'localhost' (127.0.0.1 and ::1); keep whatever is set
    # unless it is empty, which would leave only the Unix socket.
    local listen
    listen=$(bh_as_root pg_conftool -s "$ver" "$name" show listen_addresses 2>/dev/null || true)
    if [[ -z ${listen//[\' ]/} ]]; then
        bh_as_root pg_conftool "$ver" "$name" set listen_addresses localhost || return 1
    fi
    local hba
    hba=$(bh_as_root pg_conftool -s "$ver" "$name" show hba_file 2>/dev/null || true)
    hba=${hba//\'/}
    bh_pg_trust_localhost "${hba:-$confdir/pg_hba.conf}" || return 1

    if bh_pg_cluster_online "$ver" "$name"; then
        # Running (for example started by the package's post-install step): pick up pg_hba.conf.
        bh_as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" reload || return 1
    else
        bh_pg_start_cluster "$ver" "$name" || return 1
    fi

    return 0
}

# Entry point: make PostgreSQL answer, export BILLHUB_TEST_POSTGRES_URL, check it.
ensure_postgres() {
    local port=${BILLHUB_PG_PORT:-5432}
    local wait_limit=${BILLHUB_PG_WAIT_SECONDS:-60}
    BH_PG_LOG=""

    # pg_isready and psql come with the small client package; get them first so that a server
    # that already runs (a container, another installation) is recognised and used as it is.
    if ! command -v pg_isready >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
        bh_apt_install postgresql-client || bh_warn "could not install postgresql-client"
    fi

    local ready=0
    if bh_pg_answers "$port"; then
        bh_log "PostgreSQL answers on 127.0.0.1:$port: using it as it is"
        ready=1
    else
        bh_log "nothing answers on 127.0.0.1:$port: setting up a local PostgreSQL"
        if bh_pg_provision "$port"; then
            bh_log "waiting for PostgreSQL on 127.0.0.1:$port (at most ${wait_limit}s)"
            if bh_pg_wait "$port" "$wait_limit"; then
                bh_log "PostgreSQL answers on 127.0.0.1:$port"
                ready=1
            fi
        fi
    fi

    export BILLHUB_TEST_POSTGRES_URL="${BILLHUB_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:$port/postgres}"

    if [[ $ready != 1 ]]; then
        if [[ -n $BH_PG_LOG ]] && bh_as_root test -r "$BH_PG_LOG"; then
            bh_log "--- last lines of $BH_PG_LOG"
            bh_as_root tail -n 30 "$BH_PG_LOG" >&2 || true
        fi
        if bh_is_ci; then
            bh_error "PostgreSQL does not answer on 127.0.0.1:$port. Under CI=true the PostgreSQL store suite is required, never skipped."
            return 1
        fi
        bh_warn "PostgreSQL does not answer on 127.0.0.1:$port; the PostgreSQL tests will fail."
        bh_warn "BILLHUB_TEST_POSTGRES_URL=$BILLHUB_TEST_POSTGRES_URL"
        return 0
    fi

    if command -v psql >/dev/null 2>&1; then
        if PGCONNECT_TIMEOUT=10 psql "$BILLHUB_TEST_POSTGRES_URL" -X -q -t -A -v ON_ERROR_STOP=1 -c 'select 1' >/dev/null; then
            bh_log "connected: $(bh_redact_url "$BILLHUB_TEST_POSTGRES_URL")"
        elif bh_is_ci; then
            bh_error "cannot connect to $(bh_redact_url "$BILLHUB_TEST_POSTGRES_URL") (see psql's message above)"
            return 1
        else
            bh_warn "cannot connect to $(bh_redact_url "$BILLHUB_TEST_POSTGRES_URL"); the PostgreSQL tests will fail"
        fi
    else
        bh_warn "psql is not installed; the connection was not checked"
    fi
    return 0
}

# postgres://user:secret@host/db -> postgres://user:***@host/db (for logs).
bh_redact_url() {
    local url=$1
    if [[ $url =~ ^([a-z]+://[^:/@]+):[^@]*@(.*)$ ]]; then
        printf '%s:***@%s' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
    else
        printf '%s' "$url"
    fi
}

# Run alone: do the work and say what to export.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -euo pipefail
    ensure_postgres
    printf 'export BILLHUB_TEST_POSTGRES_URL=%q\n' "$BILLHUB_TEST_POSTGRES_URL"
fi
