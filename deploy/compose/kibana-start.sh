#!/bin/sh
# Kibana's start in the compose stack: its secrets (the elastic/kibana service account token that
# `setup` made, the encryption key) go into Kibana's keystore, read from files. Environment variables
# would show in `docker inspect`, and the image turns them into command-line arguments that `ps` shows.
set -eu

secrets=/run/newsingest
keystore=/usr/share/kibana/bin/kibana-keystore

for name in kibana-token kibana-encryption-key; do
    if [ ! -s "$secrets/$name" ]; then
        echo "kibana-start: $secrets/$name is missing or empty: run the setup service (docker-compose up setup)" >&2
        exit 1
    fi
done

# A new keystore at every start, so a rotated token or key takes effect with a restart.
rm -f /usr/share/kibana/config/kibana.keystore
"$keystore" create --silent
"$keystore" add --stdin --silent elasticsearch.serviceAccountToken <"$secrets/kibana-token"
"$keystore" add --stdin --silent xpack.security.encryptionKey <"$secrets/kibana-encryption-key"
"$keystore" add --stdin --silent xpack.encryptedSavedObjects.encryptionKey <"$secrets/kibana-encryption-key"

exec /usr/local/bin/kibana-docker "$@"
