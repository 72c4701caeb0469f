#!/usr/bin/env bash
# Instructions per forward-auth request and per password sign-in, counted by callgrind on the
# release gateway (a count, so it does not move with the machine's load the way timings do).
# The gateway runs under `valgrind --tool=callgrind`; after a warm-up the counters are zeroed,
# a fixed number of requests is made with curl (one keep-alive connection for forward-auth),
# and the dump's total is divided by that number. Client work is not counted.
#
#   bash tests/bench/instructions.sh [GATEWAY_BINARY ...]   (default: the release build)
#
# Several binaries (an older build for a before/after) are measured one after the other.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
bins=("$@")
if [ ${#bins[@]} -eq 0 ]; then
  cargo build --release --locked --bin sekimori
  bins=(target/release/sekimori)
fi
REQUESTS="${SEKIMORI_BENCH_REQUESTS:-500}"
SIGNINS="${SEKIMORI_BENCH_SIGNINS:-4}"
first='maple-harbor-3-cinder-x'
password='ocean-walnut-7-lantern-x'

# Total instructions (Ir) in the newest dump of a callgrind output prefix.
total() { grep -h '^summary:\|^totals:' $(ls -t "$1".* | head -1) | head -1 | awk '{print $2}'; }

measure() {
  local bin="$1" work port pid out
  work="$(mktemp -d)"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  cat > "$work/c.toml" <<TOML
[store]
sqlite_path = "$work/data/sekimori.db"
[server]
listen = "127.0.0.1:$port"
public_url = "http://localhost:$port"
danger_insecure_cookies = true
[lockout]
ip_limit = 100000
[log]
level = "error"
[systems.emr]
kind = "web"
hosts = ["emr.localhost"]
TOML
  "$bin" --config "$work/c.toml" store migrate >/dev/null
  "$bin" --config "$work/c.toml" user add nurse1 --display-name Nurse --role nurse --password-stdin \
    <<<"$first" >/dev/null 2>&1
  out="$work/cg"
  valgrind --tool=callgrind --callgrind-out-file="$out.%p" "$bin" --config "$work/c.toml" serve \
    >"$work/serve.log" 2>&1 &
  pid=$!
  trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' RETURN
  for _ in $(seq 600); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
  local api="http://127.0.0.1:$port/api/v1/login"
  login() { curl -fsS -X POST "$api" -H 'content-type: application/json' -d "$1"; }
  local flow
  flow="$(login "{\"username\":\"nurse1\",\"password\":\"$first\",\"system\":\"emr\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["flow_id"])')"
  local cookie
  cookie="$(curl -fsS -i -X POST "$api" -H 'content-type: application/json' \
    -d "{\"flow_id\":\"$flow\",\"new_password\":\"$password\"}" | awk -F'[ ;]' 'tolower($1)=="set-cookie:"{print $2}' | head -1)"
  [ -n "$cookie" ] || { echo "no session for the benchmark" >&2; cat "$work/serve.log" >&2; return 1; }
  local urls="$work/urls"
  for _ in $(seq "$REQUESTS"); do
    printf 'url = "http://127.0.0.1:%s/api/v1/authz/auth-request"\noutput = "/dev/null"\n' "$port"
  done > "$urls"
  local gate=(-fsS -H "Cookie: $cookie" -H 'X-Original-URL: http://emr.localhost/chart/1' -H 'X-Original-Method: GET')
  curl "${gate[@]}" -K <(head -n 100 "$urls")   # warm-up: caches, connection, lazy statics
  callgrind_control -z "$pid" >/dev/null 2>&1
  curl "${gate[@]}" -K "$urls"
  callgrind_control -d "$pid" >/dev/null 2>&1
  local fa; fa="$(total "$out.$pid")"
  # The floor of the same server: GET /healthz (routing, the middleware, HTTP), same count.
  sed "s#/api/v1/authz/auth-request#/healthz#" "$urls" > "$work/health"
  callgrind_control -z "$pid" >/dev/null 2>&1
  curl -fsS -K "$work/health"
  callgrind_control -d "$pid" >/dev/null 2>&1
  local floor; floor="$(total "$out.$pid")"
  login "{\"username\":\"nurse1\",\"password\":\"$password\",\"system\":\"emr\"}" >/dev/null
  callgrind_control -z "$pid" >/dev/null 2>&1
  for _ in $(seq "$SIGNINS"); do
    login "{\"username\":\"nurse1\",\"password\":\"$password\",\"system\":\"emr\"}" >/dev/null
  done
  callgrind_control -d "$pid" >/dev/null 2>&1
  local si; si="$(total "$out.$pid")"
  printf '%s: %s instructions per forward-auth request (%s requests; GET /healthz on the same server: %s), %s per password sign-in (%s sign-ins)\n' \
    "$bin" "$((fa / REQUESTS))" "$REQUESTS" "$((floor / REQUESTS))" "$((si / SIGNINS))" "$SIGNINS"
}

for b in "${bins[@]}"; do measure "$b"; done
