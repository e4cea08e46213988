#!/bin/bash
# The compose stack's one-shot security set-up (the `setup-files` and `setup` services of
# docker-compose.yml run it in the Elasticsearch image, as root).
#
#   setup.sh [all]       make what is missing (CA, Elasticsearch's certificate, random passwords, the Redis
#                        ACL), hand each service its own files, then wait for Elasticsearch and create the
#                        newsingest users and Kibana's service account token. Safe to run again: existing
#                        certificates and passwords are kept, users are set to the stored passwords.
#   setup.sh files       only the files (what Redis and Elasticsearch need before they can start)
#   setup.sh users       only the Elasticsearch part (after `files`, once Elasticsearch runs)
#   setup.sh show NAME   print one secret: elastic | writer | reader | redis | api-token | kibana-token
#   setup.sh rotate NAME a new secret for elastic | writer | reader | redis | api-token | kibana-token, or
#                        a new Elasticsearch certificate (NAME: certificate);
#                        Elasticsearch users are changed at once, then restart the services that use it
#                        (README, "Security → Deployment").
#
# Layout: $SETUP_SECRETS_ROOT/setup holds every secret and the CA key (only this service mounts it); the
# other folders are one volume per consumer, holding only what that consumer needs, owned by its user.
set -euo pipefail

ROOT="${SETUP_SECRETS_ROOT:-/secrets}"
ES_URL="${SETUP_ELASTICSEARCH_URL:-https://elasticsearch:9200}"
ES_HOME="${SETUP_ES_HOME:-/usr/share/elasticsearch}"
# Names Elasticsearch's certificate is valid for (add the host name clients outside compose use).
ES_DNS="${SETUP_ES_DNS:-elasticsearch,localhost}"
WAIT_S="${SETUP_WAIT_S:-600}"
CERT_DAYS="${SETUP_CERT_DAYS:-1095}"

STATE="$ROOT/setup"           # every secret, the CA key; the `setup` service's volume only
ES_DIR="$ROOT/elasticsearch"  # Elasticsearch: certificate, key, CA certificate, elastic's password
APP_DIR="$ROOT/app"           # daemon and workers: writer password, Redis password, API tokens, CA
API_DIR="$ROOT/api"           # `newsingest serve`: reader password, API tokens, CA
REDIS_DIR="$ROOT/redis"       # Redis: the ACL file (a password hash) and the password for its health check
KIBANA_DIR="$ROOT/kibana"     # Kibana: its service account token, encryption keys, CA

# The users of the images that read each folder (elasticsearch and kibana images: 1000; redis: 999;
# newsingest's Dockerfile: 10001).
ES_UID=1000 KIBANA_UID=1000 REDIS_UID=999 APP_UID=10001

KIBANA_TOKEN_NAME=newsingest

say() { printf 'setup: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

random_secret() {  # 48 hex characters (192 bits): safe in URLs, ACL files and JSON without quoting
    od -An -N24 -tx1 /dev/urandom | tr -d ' \n'
}

# own PATH UID MODE: hand PATH to the user of the image that reads it (only root can; the container is root).
own() {
    if [[ "$(id -u)" == 0 ]]; then
        chown "$2:0" "$1"
    fi
    chmod "$3" "$1"
}

write_private() {  # write_private FILE < content: written whole (rename), mode 600
    local tmp="$1.tmp"
    (umask 077 && cat >"$tmp")
    mv -f "$tmp" "$1"
}

ensure_secret() {  # ensure_secret NAME: $STATE/NAME, made random if absent
    if [[ ! -s "$STATE/$1" ]]; then
        random_secret | write_private "$STATE/$1"
        say "made a new $1"
    fi
}

certutil() { "$ES_HOME/bin/elasticsearch-certutil" "$@"; }

ensure_certificates() {
    local work
    work="$(mktemp -d)"
    if [[ ! -s "$STATE/ca.crt" || ! -s "$STATE/ca.key" ]]; then
        certutil ca --silent --pem --days "$CERT_DAYS" --out "$work/ca.zip"
        unzip -q "$work/ca.zip" -d "$work"
        (umask 077 && cp "$work/ca/ca.key" "$STATE/ca.key")
        cp "$work/ca/ca.crt" "$STATE/ca.crt"
        rm -f "$STATE/http.crt"  # a new CA: the certificate it signs must be new too
        say "made a certificate authority"
    fi
    if [[ ! -s "$STATE/http.crt" || ! -s "$STATE/http.key" ]]; then
        certutil cert --silent --pem --ca-cert "$STATE/ca.crt" --ca-key "$STATE/ca.key" --name http \
            --dns "$ES_DNS" --ip 127.0.0.1 --days "$CERT_DAYS" --out "$work/http.zip"
        unzip -q "$work/http.zip" -d "$work"
        (umask 077 && cp "$work/http/http.key" "$STATE/http.key")
        cp "$work/http/http.crt" "$STATE/http.crt"
        say "made Elasticsearch's certificate for $ES_DNS, 127.0.0.1"
    fi
    rm -rf "$work"
}

redis_acl() {  # the ACL file: no default user; `newsingest` with the password's SHA-256 (no plain text)
    local hash
    hash="$(tr -d '\n' <"$STATE/redis-password" | sha256sum | cut -d' ' -f1)"
    printf 'user default off resetpass -@all\n'
    # The same rules as ingest/redis_connect.py acl_rules("newsingest:", 0), tested against a real
    # Redis there: the key prefix's keys and channels, the workers' remote-control pattern, no admin.
    printf 'user newsingest on #%s resetkeys resetchannels ~newsingest:* &newsingest:* &newsingest:/0.celery.pidbox +@all -@dangerous\n' "$hash"
}

# give DIR UID FILE...: copy these secrets from $STATE into a consumer's folder, readable by it only.
give() {
    local dir="$1" uid="$2" name
    shift 2
    mkdir -p "$dir"
    chmod 700 "$dir"  # writable while it is filled (again), read-only for its reader after
    for name in "$@"; do
        write_private "$dir/$name" <"$STATE/$name"
        own "$dir/$name" "$uid" 400
    done
    own "$dir" "$uid" 500
}

distribute() {
    give "$ES_DIR" "$ES_UID" ca.crt http.crt http.key elastic-password
    give "$APP_DIR" "$APP_UID" ca.crt writer-password redis-password api-tokens
    give "$API_DIR" "$APP_UID" ca.crt reader-password api-tokens
    redis_acl | write_private "$STATE/users.acl"
    give "$REDIS_DIR" "$REDIS_UID" users.acl redis-password
    if [[ -s "$STATE/kibana-token" ]]; then  # made once Elasticsearch runs
        give "$KIBANA_DIR" "$KIBANA_UID" ca.crt kibana-encryption-key kibana-token
    else
        give "$KIBANA_DIR" "$KIBANA_UID" ca.crt kibana-encryption-key
    fi
}

make_files() {
    mkdir -p "$STATE"
    chmod 700 "$STATE"
    ensure_certificates
    local name
    for name in elastic-password writer-password reader-password redis-password api-tokens kibana-encryption-key; do
        ensure_secret "$name"
    done
    distribute
}

# --- Elasticsearch's security API, as `elastic` (its password travels in a private file, not in argv) ---

WORK=""
start_session() {
    WORK="$(mktemp -d)"
    trap 'rm -rf "$WORK"' EXIT
    printf 'user = "elastic:%s"\n' "$(cat "$STATE/elastic-password")" | write_private "$WORK/auth"
}

# es METHOD PATH [BODY]: the reply body on stdout; fails (naming the request) unless the status is 2xx.
# ES_ALLOW (space-separated statuses) lets a caller accept others, e.g. 404 on a delete.
es() {
    local method="$1" path="$2" status
    local args=(--silent --show-error --cacert "$STATE/ca.crt" --config "$WORK/auth" -X "$method"
                -o "$WORK/reply" -w '%{http_code}' -H 'Content-Type: application/json')
    if [[ $# -ge 3 ]]; then
        printf '%s' "$3" | write_private "$WORK/body"
        args+=(--data-binary "@$WORK/body")
    fi
    status="$(curl "${args[@]}" "$ES_URL$path")" || die "$method $ES_URL$path: no answer"
    if [[ "$status" != 2* && " ${ES_ALLOW:-} " != *" $status "* ]]; then
        die "$method $ES_URL$path: HTTP $status: $(head -c 400 "$WORK/reply")"
    fi
    cat "$WORK/reply"
}

wait_for_elasticsearch() {
    local deadline=$((SECONDS + WAIT_S)) status
    say "waiting for $ES_URL (up to ${WAIT_S}s)"
    while :; do
        status="$(curl --silent --cacert "$STATE/ca.crt" --config "$WORK/auth" -o /dev/null -w '%{http_code}' \
            "$ES_URL/_cluster/health?wait_for_status=yellow&timeout=5s" || true)"
        [[ "$status" == 200 ]] && return 0
        ((SECONDS < deadline)) || die "$ES_URL did not answer 200 to elastic within ${WAIT_S}s (last HTTP status: ${status:-none})"
        sleep 3
    done
}

put_user() {  # put_user NAME ROLE PASSWORD_NAME DESCRIPTION: create it, or reset its password and roles
    es PUT "/_security/user/$1" \
        "{\"password\":\"$(cat "$STATE/$3")\",\"roles\":[\"$2\"],\"full_name\":\"$4\"}" >/dev/null
    say "user $1 (role $2) ready"
}

put_newsingest_user() {  # put_newsingest_user writer|reader
    case "$1" in
        writer) put_user newsingest-writer newsingest_writer writer-password "newsingest daemon and workers" ;;
        reader) put_user newsingest-reader newsingest_reader reader-password "newsingest search and HTTP API" ;;
    esac
}

token_works() {  # does Kibana's stored token still authenticate?
    [[ -s "$STATE/kibana-token" ]] || return 1
    printf 'header = "Authorization: Bearer %s"\n' "$(cat "$STATE/kibana-token")" | write_private "$WORK/bearer"
    [[ "$(curl --silent --cacert "$STATE/ca.crt" --config "$WORK/bearer" -o /dev/null -w '%{http_code}' \
        "$ES_URL/_security/_authenticate" || true)" == 200 ]]
}

ensure_kibana_token() {
    if [[ "${1:-}" != new ]] && token_works; then
        say "Kibana's service account token is valid"
        return 0
    fi
    local path="/_security/service/elastic/kibana/credential/token/$KIBANA_TOKEN_NAME" token
    ES_ALLOW=404 es DELETE "$path" >/dev/null
    token="$(es POST "$path" | sed -n 's/.*"value" *: *"\([^"]*\)".*/\1/p')"
    [[ -n "$token" ]] || die "POST $ES_URL$path: no token in the reply"
    printf '%s' "$token" | write_private "$STATE/kibana-token"
    say "made Kibana's service account token (elastic/kibana/$KIBANA_TOKEN_NAME)"
}

setup_elasticsearch() {
    start_session
    wait_for_elasticsearch
    put_newsingest_user writer
    put_newsingest_user reader
    ensure_kibana_token
    distribute
}

secret_file() {
    case "$1" in
        elastic | writer | reader | redis) printf '%s\n' "$STATE/$1-password" ;;
        api-token) printf '%s\n' "$STATE/api-tokens" ;;
        kibana-token) printf '%s\n' "$STATE/kibana-token" ;;
        *) die "unknown secret '$1': one of elastic, writer, reader, redis, api-token, kibana-token" ;;
    esac
}

rotate() {
    local name="$1" file
    [[ -s "$STATE/ca.crt" ]] || die "nothing to rotate yet: run the setup service first"
    if [[ "$name" == certificate ]]; then  # a new one from the same CA (e.g. near expiry, new names)
        rm -f "$STATE/http.crt" "$STATE/http.key"
        ensure_certificates
        distribute
        say "made a new certificate; restart elasticsearch"
        return 0
    fi
    file="$(secret_file "$name")"
    start_session  # authenticates with the current elastic password, before it changes
    case "$name" in
        elastic)
            random_secret | write_private "$file.new"
            es POST /_security/user/elastic/_password "{\"password\":\"$(cat "$file.new")\"}" >/dev/null
            mv -f "$file.new" "$file"
            ;;
        writer | reader)
            random_secret | write_private "$file"
            put_newsingest_user "$name"
            ;;
        kibana-token) ensure_kibana_token new ;;
        *) random_secret | write_private "$file" ;;
    esac
    distribute
    say "rotated $name; restart the services that use it"
}

main() {
    local command="${1:-all}"
    case "$command" in
        all) make_files && setup_elasticsearch && say "done" ;;
        files) make_files ;;
        users) setup_elasticsearch && say "done" ;;
        show) cat "$(secret_file "${2:?show NAME}")" && echo ;;
        rotate) rotate "${2:?rotate NAME}" ;;
        *) die "unknown command '$command': all, files, users, show NAME or rotate NAME" ;;
    esac
}

main "$@"
