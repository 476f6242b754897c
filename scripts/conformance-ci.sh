#!/usr/bin/env bash
# Starts the whole system from this checkout with the demo dataset on a fresh database and runs
# the full conformance suite against it (issue 6: every automatable test passes, none skipped for
# lack of data). Usage: scripts/conformance-ci.sh embedded|postgres [report dir]
#   embedded: PGlite in a temporary data folder.
#   postgres: a fresh database `conformance_ci` on the PostgreSQL at 127.0.0.1:5432, Redis at 127.0.0.1:6379.
set -euo pipefail
cd "$(dirname "$0")/.."
# Node 22 from the node@22 devDependency (oidc-provider 9 needs it; the machine's node is 20).
export PATH="$PWD/node_modules/.bin:$PATH"
mode="${1:?usage: scripts/conformance-ci.sh embedded|postgres [report dir]}"
out="${2:-conformance-report/$mode}"
port="${CONFORMANCE_PORT:-18081}"
data=$(mktemp -d)

case "$mode" in
  embedded) ;;
  postgres)
    psql -h 127.0.0.1 -U postgres -d postgres -q -c 'drop database if exists conformance_ci' -c 'create database conformance_ci'
    # A PostgreSQL deployment is production by default: ask for the demo dataset explicitly.
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/conformance_ci REDIS_URL=redis://127.0.0.1:6379 DEMO_DATA=true
    ;;
  *) echo "unknown mode $mode (embedded|postgres)" >&2; exit 2 ;;
esac

DATA_DIR="$data" PORT="$port" node scripts/dist/start.js > "$data/server.log" 2>&1 &
server=$!
stop() { kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
trap stop EXIT

for _ in $(seq 1 180); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$data/server.log"; echo "the server exited during start-up" >&2; exit 1; }
  sleep 1
done

status=0
DATA_DIR="$data" node conformance/dist/cli.js --out "$out" --no-screenshots > "$data/conformance.log" 2>&1 || status=$?
# The per-test lines that did not pass, then the summary.
grep -E '^(FAIL|SKIP)' "$data/conformance.log" || true
sed -n '/^== Summary/,$p' "$data/conformance.log" | grep -E '^Overall|^Report|^Results|failed, [1-9]|skipped \([1-9]' || true
if [ "$status" -ne 0 ]; then
  echo "conformance ($mode) failed with status $status; server log tail:" >&2
  tail -20 "$data/server.log" >&2
fi
exit "$status"
