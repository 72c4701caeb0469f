#!/usr/bin/env bash
# Runs every test Sekimori has: formatting, lints, unit and property tests, the integration test binary
# (real SQLite files, the real binary, a real server process), and a validation of the
# Docker Compose file. Installs the Debian packages the tests use when they are missing
# (needs root for that; as another user it names what is missing).
#
#   bash tests/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# Debian packages the tests use: redis-server (the Redis state store, started by the tests
# on a free loopback port), nginx (auth_request end to end), caddy (forward_auth end to
# end), oathtool (an independent TOTP client), python3-jwt and
# python3-cryptography (PyJWT verifies the assertions independently), setpriv (read-only
# database test as an unprivileged user), docker-compose (validates docker/compose.yaml; no
# Docker engine needed for `config`), chromium + nodejs/npm (WebAuthn in a real browser with
# its virtual authenticator, driven by playwright-core from tests/e2e) and fonts-noto-cjk
# (Japanese text in the browser's screenshots), libpam0g-dev (links the PAM module),
# pamtester, openssh-server and python3-paramiko (the PAM module through libpam and a real
# sshd), openssl (a test CA for the module over TLS), rsyslog (the collector of the audit
# log's off-box copy), poppler-utils (the printed report's PDF pages as PNG, and their text)
# and python3-jsonschema (the report's JSON against its schema), postgresql-15 (the shared
# store: the tests run initdb into temporary directories as the postgres account), prometheus
# (promtool checks and unit-tests the sample alert rules), python3-venv and curl (Schemathesis
# from PyPI in a virtual environment, against a seeded gateway). The fuzz step uses the
# nightly toolchain and installs cargo-fuzz; the package step installs cargo-deb.
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v caddy >/dev/null 2>&1 || need+=(caddy)
command -v oathtool >/dev/null 2>&1 || need+=(oathtool)
/usr/bin/python3 -c 'import jwt, cryptography' >/dev/null 2>&1 || need+=(python3 python3-jwt python3-cryptography)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
[ -x /usr/bin/chromium ] || need+=(chromium)
{ command -v node && command -v npm; } >/dev/null 2>&1 || need+=(nodejs npm)
fc-list 2>/dev/null | grep -q "Noto Sans CJK" || need+=(fonts-noto-cjk)
[ -e /usr/include/security/pam_modules.h ] || need+=(libpam0g-dev)
command -v pamtester >/dev/null 2>&1 || need+=(pamtester)
[ -x /usr/sbin/sshd ] || need+=(openssh-server openssh-client)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
/usr/bin/python3 -c 'import paramiko' >/dev/null 2>&1 || need+=(python3-paramiko)
[ -x /usr/sbin/rsyslogd ] || need+=(rsyslog)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
/usr/bin/python3 -c 'import jsonschema' >/dev/null 2>&1 || need+=(python3-jsonschema)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
/usr/bin/python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
command -v curl >/dev/null 2>&1 || need+=(curl)
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ]; then
    step "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "missing packages: ${need[*]} (run as root, or install them, to run every test)" >&2
    exit 1
  fi
fi

step "browser test dependencies (playwright-core, pinned in tests/e2e/package-lock.json)"
npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error

step "cargo fmt --check"
cargo fmt --all -- --check

step "PAM module (the integration tests load it through libpam)"
cargo build --locked -p pam_sekimori

step "cargo test (unit + integration, gateway and PAM module)"
cargo test --locked --workspace --lib --bins --tests

step "cargo clippy (warnings are errors)"
cargo clippy --locked --workspace --lib --bins --tests --benches -- -D warnings

step "Prometheus alert rules (promtool check and unit tests)"
(cd docker && promtool check rules prometheus-alerts.yml && promtool test rules prometheus-alerts.test.yml)

step "docker compose file"
docker-compose -f docker/compose.yaml config -q
echo "docker/compose.yaml: valid"

step "OpenAPI description (config/openapi.json is what the gateway serves)"
cargo run --locked --quiet --bin sekimori -- openapi | diff -q - config/openapi.json

step "the container image's build stage, from exactly the Dockerfile's COPY set"
bash tests/docker_copyset.sh

step "the PAM module's .deb: built, installed with dpkg, signed in through with pamtester"
bash tests/deb.sh

step "Schemathesis against a seeded gateway (bounded: 120 s)"
bash tests/schemathesis/run.sh 120

step "fuzzing every parser at the edge (bounded: 20 s per target)"
bash tests/fuzz.sh 20

step "all tests passed"
