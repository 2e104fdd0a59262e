#!/usr/bin/env bash
# Re-take the Temporal UI screenshots beside this script, from a real `make dev`.
#
# Starts `make dev` on free loopback ports (never the default ones, so a `make dev` running
# elsewhere on the machine is left alone), submits a batch of two pages and a single essay with
# curl, stops the content store to catch a batch chunk's activity and an essay retrying, brings
# it back, and photographs the UI with Debian's headless Chromium (`apt-get install -y chromium`).
# Then it stops `make dev`. Not part of `make test`; run it by hand: docs/screenshots/take.sh
#
# `make dev` keeps its state in this checkout's .state/, so do not run this while `make dev`
# runs in the same checkout. The ids carry the time of day (class-9b-143012) because an id, once
# used, stays taken for the namespace's retention.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
STAMP=$(date +%H%M%S)
BATCH=class-9b-$STAMP        # runs to the end: the list, a chunk's page
OUTAGE_BATCH=class-9c-$STAMP # created while the content store is down: a retrying activity
ESSAY=tom-$STAMP             # a single essay
OUTAGE_ESSAY=eve-$STAMP      # a single essay posted while the content store is down
# The backoff starts at 1 s and doubles: attempt 7 is scheduled about 31 s into the outage, 32 s
# after attempt 6, so the page still shows its "Next Retry" ahead when the shot is taken.
OUTAGE_ATTEMPTS=7

fail() {
    echo "take.sh: $*" >&2
    exit 1
}

[[ -x $CHROMIUM ]] || fail "no Chromium at $CHROMIUM: apt-get install -y chromium (or set CHROMIUM)"
command -v curl >/dev/null || fail "curl is needed"

WORK=$(mktemp -d)
DEV_PID=

# Five ports the OS hands out right now: its ephemeral range never includes make dev's defaults.
# A sixth, left closed, is the dead proxy the Chromium shots send unwanted requests to.
read -r TEMPORAL_PORT TEMPORAL_UI_PORT KAFKA_PORT CONTENT_STORE_PORT API_PORT DEAD_PORT < <(
    python3 -c '
import socket
socks = [socket.socket() for _ in range(6)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))'
)
API=http://127.0.0.1:$API_PORT

# --- waiting on conditions -------------------------------------------------------------------

# wait_for WHAT SECONDS COMMAND...: run COMMAND until it succeeds; give up naming WHAT.
wait_for() {
    local what=$1 seconds=$2
    local deadline=$((SECONDS + seconds))
    shift 2
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || fail "timed out after $seconds s waiting for $what (make dev's output: $WORK/dev.log)"
        sleep 0.5
    done
}

json() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }
temporal() { "$REPO/.venv/bin/temporal" "$@" --address "127.0.0.1:$TEMPORAL_PORT"; }

ready() { curl -sf "$API/readyz"; }
port_open() { curl -s -o /dev/null "http://127.0.0.1:$1/"; }
port_closed() { ! port_open "$1"; }
batch_is() { [[ $(curl -sf "$API/v1/batch/$1/status" | json '["state"]') == "$2" ]]; }
essay_is() { [[ $(curl -sf "$API/v1/essays/$1/status" | json '["state"]') == "$2" ]]; }
activity_attempts_reach() {
    local attempt
    attempt=$(temporal workflow describe -w "$1" -o json | json '.get("pendingActivities", [{}])[0].get("attempt", 0)')
    ((attempt >= $2))
}
run_id() { temporal workflow describe -w "$1" -o json | json '["workflowExecutionInfo"]["execution"]["runId"]'; }

# --- make dev, driven through its console ----------------------------------------------------

# make dev reads commands (stop content, start content, quit) on stdin: a fifo held open here
# on fd 3, so it never sees end-of-file while this script runs.
start_dev() {
    mkfifo "$WORK/console"
    exec 3<>"$WORK/console"
    echo "make dev on ports: temporal $TEMPORAL_PORT, UI $TEMPORAL_UI_PORT, broker $KAFKA_PORT," \
        "content $CONTENT_STORE_PORT, API $API_PORT (output: $WORK/dev.log)"
    # Its own session, so the fallback in stop_dev can signal make and the launcher together.
    TEMPORAL_PORT=$TEMPORAL_PORT TEMPORAL_UI_PORT=$TEMPORAL_UI_PORT KAFKA_PORT=$KAFKA_PORT \
        CONTENT_STORE_PORT=$CONTENT_STORE_PORT PORT=$API_PORT \
        setsid make -C "$REPO" dev <&3 >"$WORK/dev.log" 2>&1 &
    DEV_PID=$!
    # The first run also builds .venv (about a minute); every piece must start in order after.
    wait_for "make dev to answer on $API/readyz" 600 ready
}

console() { echo "$*" >&3; }

dev_exited() { ! kill -0 "$DEV_PID" 2>/dev/null; }

stop_dev() {
    [[ -n $DEV_PID ]] || return 0
    console quit || true
    local deadline=$((SECONDS + 60))
    until dev_exited; do
        if ((SECONDS >= deadline)); then
            echo "make dev did not stop on quit: SIGTERM to its session" >&2
            kill -TERM -- "-$DEV_PID" 2>/dev/null || true
            break
        fi
        sleep 0.5
    done
    wait "$DEV_PID" 2>/dev/null || true
    DEV_PID=
}

cleanup() {
    local code=$?
    stop_dev
    if ((code == 0)); then rm -rf "$WORK"; else echo "kept $WORK for a look" >&2; fi
}
trap cleanup EXIT

# --- the shots -------------------------------------------------------------------------------

# Chromium's --virtual-time-budget ends only while no request is open, but the UI keeps one
# open on a running workflow's page (a long poll for new history events). A PAC file refuses
# that one request, and anything meant for another host (the UI's news feed), so every page
# settles. Chromium never sends loopback addresses through a proxy, hence the made-up host
# name mapped to 127.0.0.1. The refused poll raises a "Failed to fetch" toast at the foot of the
# window, so each shot is taken TOAST_ROOM pixels taller than wanted and cut back afterwards.
UI_HOST=temporal-ui.test
PAC="function FindProxyForURL(url, host) {
  if (host !== '$UI_HOST' || url.indexOf('waitNewEvent=true') >= 0) return 'PROXY 127.0.0.1:$DEAD_PORT';
  return 'DIRECT';
}"
PAC_URL="data:application/x-ns-proxy-autoconfig;base64,$(printf '%s' "$PAC" | base64 -w0)"
TOAST_ROOM=200

# shoot NAME WIDTH HEIGHT UI_PATH: one page of the UI into NAME.png, with a fresh profile.
shoot() {
    local name=$1 width=$2 height=$3 path=$4 out=$HERE/$1.png bytes
    timeout 180 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$(mktemp -d "$WORK/profile.XXXX")" \
        --window-size="$width,$((height + TOAST_ROOM))" --hide-scrollbars \
        --virtual-time-budget=10000 \
        --host-resolver-rules="MAP $UI_HOST 127.0.0.1" --proxy-pac-url="$PAC_URL" \
        --screenshot="$out" "http://$UI_HOST:$TEMPORAL_UI_PORT$path" >>"$WORK/chromium.log" 2>&1 ||
        fail "Chromium failed on $path (see $WORK/chromium.log)"
    # Chromium's own PNG of a page still loading is a few KB of flat colour; one showing a run
    # is well over 30 KB.
    bytes=$(stat -c %s "$out")
    ((bytes > 30000)) || fail "$name.png is only $bytes bytes: the page did not render"
    # Cut the toast room off, and keep 128 colours: the UI's flat colours and grey text look the
    # same and the file is a third of the size. Pillow comes with the venv (through matplotlib,
    # which the bench charts use).
    "$REPO/.venv/bin/python" -c '
import sys
from PIL import Image
path, width, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
shot = Image.open(path).convert("RGB").crop((0, 0, width, height))
shot.quantize(128, dither=Image.Dither.NONE).save(path, optimize=True)' "$out" "$width" "$height"
    echo "  $name.png ($(($(stat -c %s "$out") / 1024)) KiB): $path"
}

workflow_page() { echo "/namespaces/default/workflows/$1/$(run_id "$1")/$2"; }

# post PATH [JSON]: fail unless the API answers 2xx. A 503 means Temporal was too slow or away
# (likely on a busy machine just after start-up) and asks for a retry, which every POST here
# survives: the batch and essay ids make them idempotent.
post() {
    local args=(-s -o "$WORK/answer" -w '%{http_code}' -X POST "$API$1" -H 'Content-Type: application/json')
    [[ $# -lt 2 ]] || args+=(-d "$2")
    local deadline=$((SECONDS + 120)) code
    while true; do
        code=$(curl "${args[@]}") || code=000
        [[ $code == 2?? ]] && return 0
        if [[ $code != 503 ]] || ((SECONDS >= deadline)); then
            fail "POST $1: $code $(cat "$WORK/answer" 2>/dev/null)"
        fi
        sleep 1
    done
}

# --- the story -------------------------------------------------------------------------------

start_dev

echo "batch $BATCH (two pages, so two chunks) and single essay $ESSAY"
post /v1/batch "{\"batch_id\": \"$BATCH\", \"metadata\": {\"teacher\": \"Ms Berg\"},
  \"essays\": [{\"text\": \"Helo wrold\", \"essay_id\": \"anna-1\"},
               {\"text\": \"Anuther essay\", \"essay_id\": \"ben-1\"}]}"
post "/v1/batch/$BATCH/essays" '{"essays": [{"text": "Thrid essay", "essay_id": "cara-1"}]}'
post "/v1/batch/$BATCH/spellcheck"
post /v1/trigger-spellcheck "{\"text\": \"Helo wrold\", \"essay_id\": \"$ESSAY\"}"
wait_for "batch $BATCH to complete" 120 batch_is "$BATCH" completed
wait_for "essay $ESSAY to be published" 120 essay_is "$ESSAY" published

query=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "BatchId=\"$BATCH\"")
shoot batch-list 1400 470 "/namespaces/default/workflows?query=$query"
shoot chunk 1400 1000 "$(workflow_page "batch-$BATCH-c1" timeline)"
shoot chunk-summary 1400 560 "$(workflow_page "batch-$BATCH-c1" user-metadata)"
shoot essay 1400 900 "$(workflow_page "essay-$ESSAY" timeline)"

echo "content store down; batch $OUTAGE_BATCH and essay $OUTAGE_ESSAY posted meanwhile"
console stop content
wait_for "the content store to stop" 60 port_closed "$CONTENT_STORE_PORT"
post /v1/batch "{\"batch_id\": \"$OUTAGE_BATCH\",
  \"essays\": [{\"text\": \"Helo wrold\", \"essay_id\": \"dan-1\"},
               {\"text\": \"Anuther essay\", \"essay_id\": \"fay-1\"}]}"
post /v1/trigger-spellcheck "{\"text\": \"Helo wrold\", \"essay_id\": \"$OUTAGE_ESSAY\"}"
wait_for "attempt $OUTAGE_ATTEMPTS of the chunk's store activity" 180 \
    activity_attempts_reach "batch-$OUTAGE_BATCH-c1" "$OUTAGE_ATTEMPTS"
shoot outage-pending-activity 1400 800 "$(workflow_page "batch-$OUTAGE_BATCH-c1" pending-activities)"
shoot outage-batch-memo 1400 1000 "$(workflow_page "batch-$OUTAGE_BATCH" memo)"
shoot outage-essay 1400 1000 "$(workflow_page "essay-$OUTAGE_ESSAY" history)"

echo "content store back; the outage batch and essay finish"
console start content
wait_for "the content store to start" 60 port_open "$CONTENT_STORE_PORT"
# The retry after the shot is up to a minute away (the backoff's cap).
wait_for "batch $OUTAGE_BATCH to store its texts" 120 batch_is "$OUTAGE_BATCH" ready
post "/v1/batch/$OUTAGE_BATCH/spellcheck"
wait_for "batch $OUTAGE_BATCH to complete" 120 batch_is "$OUTAGE_BATCH" completed
wait_for "essay $OUTAGE_ESSAY to be published" 120 essay_is "$OUTAGE_ESSAY" published

stop_dev
echo "done: $HERE/*.png"
