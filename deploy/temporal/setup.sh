#!/bin/sh
# One-shot, in the temporalio/admin-tools image (or anywhere the `temporal` CLI is on PATH):
# prepare the namespace the API and the worker use, then exit 0. Safe to run again.
#
#   1. wait until the server answers (a fresh server takes a while after its port opens);
#   2. create the namespace with its retention, or set the retention if it exists;
#   3. register each custom search attribute, and wait until the server lists it: a workflow
#      that sets an attribute the server does not know yet stalls or is refused.
#
# Reads TEMPORAL_ADDRESS (host:port), TEMPORAL_NAMESPACE, TEMPORAL_RETENTION (e.g. 72h),
# TEMPORAL_SEARCH_ATTRIBUTES ("Name=Type Name=Type ...", types as the CLI spells them) and
# SETUP_TIMEOUT_S (how long all of it may take, 180 by default).
set -euf  # -f: the lists below are split on spaces, never globbed

: "${TEMPORAL_ADDRESS:?set TEMPORAL_ADDRESS, e.g. temporal:7233}"
: "${TEMPORAL_NAMESPACE:?set TEMPORAL_NAMESPACE}"
: "${TEMPORAL_RETENTION:?set TEMPORAL_RETENTION, e.g. 72h}"
: "${TEMPORAL_SEARCH_ATTRIBUTES:=}"
timeout_s=${SETUP_TIMEOUT_S:-180}
deadline=$(($(date +%s) + timeout_s))

say() { echo "temporal-setup: $*"; }

tctl() {
    temporal "$@" --address "$TEMPORAL_ADDRESS" --command-timeout 10s
}

# Run "$@" until it succeeds; give up at the deadline. Each condition here becomes true on its
# own (the server finishing its start, a new namespace reaching the server's caches).
until_ok() {
    while ! "$@"; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            say "gave up after ${timeout_s}s waiting for: $*" >&2
            return 1
        fi
        sleep 2
    done
}

server_answers() {
    tctl operator cluster health >/dev/null 2>&1
}

namespace_has_retention() {
    if tctl operator namespace describe --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1; then
        tctl operator namespace update --namespace "$TEMPORAL_NAMESPACE" \
            --retention "$TEMPORAL_RETENTION"
    else
        tctl operator namespace create --namespace "$TEMPORAL_NAMESPACE" \
            --retention "$TEMPORAL_RETENTION"
    fi
}

attribute_listed() {
    tctl operator search-attribute list --namespace "$TEMPORAL_NAMESPACE" --output json 2>/dev/null \
        | grep -q "\"$1\""
}

# Listed means done. Otherwise ask for it and report "not yet": the next round checks again,
# since a just-created namespace or attribute reaches the server's caches some seconds later.
attribute_registered() {
    name=$1
    kind=$2
    if attribute_listed "$name"; then
        return 0
    fi
    tctl operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" \
        --name "$name" --type "$kind" >/dev/null 2>&1 || true
    return 1
}

# A typo in the list is a mistake to report now, not after waiting for the server.
for pair in $TEMPORAL_SEARCH_ATTRIBUTES; do
    case $pair in
        ?*=?*) ;;
        *)
            say "bad entry '$pair' in TEMPORAL_SEARCH_ATTRIBUTES: expected Name=Type" >&2
            exit 2
            ;;
    esac
done

say "waiting for Temporal at $TEMPORAL_ADDRESS"
until_ok server_answers
say "namespace $TEMPORAL_NAMESPACE: retention $TEMPORAL_RETENTION"
until_ok namespace_has_retention
for pair in $TEMPORAL_SEARCH_ATTRIBUTES; do
    name=${pair%%=*}
    kind=${pair#*=}
    say "search attribute $name ($kind)"
    until_ok attribute_registered "$name" "$kind"
done
say "done"
