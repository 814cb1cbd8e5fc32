#!/usr/bin/env bash
# The test command: everything a fresh machine needs is installed here, then lint, unit,
# SQL (sqllogictest), end-to-end and independent-reader tests run.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/throughline-target}"
venv="${THROUGHLINE_VENV:-$HOME/.cache/throughline-venv}"

echo "== python tools (independent Parquet readers)"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements.txt

echo "== format, lints, one arrow in the tree"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
if cargo tree --workspace --duplicates -e normal --locked | grep -E '^(arrow|parquet|object_store|datafusion)[a-z_-]* v'; then
    echo "two versions of the arrow family in the tree: upgrade datafusion/arrow/parquet/object_store together" >&2
    exit 1
fi

echo "== the AWS template (cfn-lint)"
PYTHON="$venv/bin/python" scripts/lint-infra.sh

echo "== a local AWS (S3 and DynamoDB) on a free loopback port"
port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"${TMPDIR:-/tmp}/throughline-moto.log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
    curl -sf "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1 && break
    sleep 0.2
done
export THROUGHLINE_TEST_AWS_ENDPOINT="http://127.0.0.1:$port"
export THROUGHLINE_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$port"

echo "== unit, SQL and end-to-end tests (S3 and DynamoDB through the local AWS)"
cargo test --workspace --locked

echo "== every Lambda function through the Lambda runtime API (cargo lambda)"
cargo build --locked --workspace --bins
PATH="$venv/bin:$PATH" "$venv/bin/python" tests/lambda_runtime.py --bin-dir "$CARGO_TARGET_DIR/debug"

echo "== the lake read back by DuckDB and pyarrow"
"$venv/bin/python" tests/read_back.py --bin "$CARGO_TARGET_DIR/debug/throughline"

echo "== jobs, imports, compactions and readers at once on one tenant, and jobs killed with SIGKILL"
"$venv/bin/python" tests/concurrency.py --cli "$CARGO_TARGET_DIR/debug/throughline" --rounds 2

echo "== CRM webhooks, beacons, tracked links and replay end to end through throughline serve"
"$venv/bin/python" tests/ingest_e2e.py --cli "$CARGO_TARGET_DIR/debug/throughline"

echo "== ad costs pulled from replayed Google Ads, Meta, TikTok and Microsoft APIs, then KPIs"
"$venv/bin/python" tests/ads_pull.py --cli "$CARGO_TARGET_DIR/debug/throughline"

echo "== the website snippet (node:test with jsdom)"
(cd tests/snippet && npm ci --no-audit --no-fund --loglevel=error && node --test)

echo "== the ingest load harness at a tiny size (no timing asserted: every acknowledged row must be stored)"
"$venv/bin/python" bench/ingest_load.py --cli "$CARGO_TARGET_DIR/debug/throughline" --duration 2 --connections 4

echo "== the attribution benchmark at a tiny size, Throughline against DuckDB (no timing asserted: the credits must agree)"
"$venv/bin/python" bench/attribution.py --cli "$CARGO_TARGET_DIR/debug/throughline" --touchpoints 2000 --keep "$(mktemp -d)"

echo "== the query latency harness at a tiny size (no timing asserted: rollups and live answers, and Throughline and DuckDB, must agree)"
demo_lake="$(mktemp -d)/demo"
"$CARGO_TARGET_DIR/debug/throughline" demo --keep "$demo_lake" > /dev/null
"$venv/bin/python" bench/query_latency.py --cli "$CARGO_TARGET_DIR/debug/throughline" --lake "$demo_lake" --tenant demo \
    --attribute --requests 2 --live-requests 1 --adhoc --adhoc-repeat 1

echo "== the budget planner's page in a real browser (Debian's chromium, headless), and its benchmark at a tiny size"
if ! command -v chromium >/dev/null 2>&1; then
    apt="apt-get"; [ "$(id -u)" = 0 ] || apt="sudo apt-get"
    $apt install -y -q chromium >/dev/null 2>&1 || { $apt update -q >/dev/null && $apt install -y -q chromium >/dev/null; }
fi
"$venv/bin/python" tests/plan_page.py --cli "$CARGO_TARGET_DIR/debug/throughline" --lake "$demo_lake"
"$venv/bin/python" bench/plan.py --cli "$CARGO_TARGET_DIR/debug/throughline" --channels 3 --days 120 --runs 1 --bootstrap 5

echo "== the Delta log harness at a tiny size (no timing asserted: every acknowledged beacon must be counted, across a checkpoint and a compaction)"
"$venv/bin/python" bench/delta_log.py --cli "$CARGO_TARGET_DIR/debug/throughline" --commits 200 --sample 100
