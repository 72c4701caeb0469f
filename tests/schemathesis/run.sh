#!/usr/bin/env bash
# Schemathesis (PyPI, pinned) against a real gateway process with a seeded store: every
# operation of config/openapi.json, positive and negative data, the coverage, fuzzing and
# stateful phases, within a time budget. Passes only with no 5xx, every answer matching its
# schema and content type, and no status the description does not name.
#
#   bash tests/schemathesis/run.sh [SECONDS]     (default 150)
set -euo pipefail
cd "$(dirname "$0")/../.."
budget="${1:-150}"
root="$PWD"
here="$root/tests/schemathesis"
venv="$PWD/target/schemathesis-venv"
# The venv is rebuilt whenever the pinned list changes (its copy inside the venv differs).
if ! cmp -s "$here/requirements.txt" "$venv/requirements.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$venv/requirements.txt"
fi
bin="$PWD/target/debug/sekimori"
[ -x "$bin" ] || cargo build --locked --bin sekimori
work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat > "$work/sekimori.toml" <<TOML
[store]
sqlite_path = "$work/data/sekimori.db"
[server]
listen = "127.0.0.1:$port"
public_url = "http://localhost:$port"
danger_insecure_cookies = true
[log]
level = "error"
[systems.emr]
kind = "web"
hosts = ["emr.localhost"]
TOML
"$bin" --config "$work/sekimori.toml" serve > "$work/serve.log" 2>&1 &
gw=$!
trap 'kill $gw 2>/dev/null; wait $gw 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
# Seed: an administrator with a session of its own and a registered server for the PAM
# calls; another account and another device for the administrators' operations to act on
# (revoking or disabling those must not end the run's own session or credential).
printf 'maple-harbor-3-cinder-x\n' | "$bin" --config "$work/sekimori.toml" user add ops --display-name Ops --role it_admin --password-stdin >/dev/null
printf 'maple-harbor-3-cinder-x\n' | "$bin" --config "$work/sekimori.toml" user add nurse1 --display-name Nurse --role nurse --password-stdin >/dev/null
"$bin" --config "$work/sekimori.toml" device add old-pc --kind terminal >/dev/null
token="$("$bin" --config "$work/sekimori.toml" device add pam-host --kind server | awk '/pam-host /{print $2}' | tail -1)"
login() { curl -fsS -i -X POST "http://127.0.0.1:$port/api/v1/login" -H 'content-type: application/json' -d "$1"; }
flow="$(login '{"username":"ops","password":"maple-harbor-3-cinder-x"}' | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["flow_id"])')"
cookie="$(login "{\"flow_id\":\"$flow\",\"new_password\":\"ocean-walnut-7-lantern-x\"}" | awk -F'[ ;]' 'tolower($1)=="set-cookie:"{print $2}')"
[ -n "$cookie" ] && [ -n "$token" ] || { echo "seeding the gateway failed" >&2; cat "$work/serve.log" >&2; exit 1; }
# Run from the scratch directory: Schemathesis keeps its cache in the working directory.
cd "$work"
status=0
"$venv/bin/st" --config-file "$here/schemathesis.toml" --no-color run "http://127.0.0.1:$port/api/v1/openapi.json" \
  --url "http://127.0.0.1:$port" \
  -H "Cookie: $cookie" -H "Authorization: Bearer $token" \
  --exclude-path /api/v1/logout \
  --checks not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance \
  --phases coverage,fuzzing,stateful \
  --report har --report-har-path "$work/answers.har" \
  --max-time "$budget" --workers 1 --seed 20261206 || status=$?
# One worker: Python 3.11 can fail to parse source in two threads at once ("AST constructor
# recursion depth mismatch"), which Hypothesis does while describing its strategies.
"$venv/bin/python" "$here/shares.py" "$work/answers.har" "$root/config/openapi.json" /api/v1/logout || status=1
cp "$work/answers.har" "$root/target/schemathesis-answers.har" 2>/dev/null || true
if grep -qi "panicked" "$work/serve.log"; then
  echo "the gateway panicked:" >&2; grep -i -A5 panicked "$work/serve.log" >&2; status=1
fi
exit $status
