#!/usr/bin/env bash
# The PAM module as clinics install it: builds libpam-sekimori's .deb (cargo-deb), checks
# what it holds, installs it with dpkg, signs in through libpam with pamtester against a
# real gateway using the installed module by its bare name (so libpam must find it in the
# package's directory), then removes it and checks that the configuration was kept and the
# module is gone. Needs root (dpkg); CI runs as root.
#
#   bash tests/deb.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-deb >/dev/null 2>&1 || cargo install --locked --quiet cargo-deb
# cargo-deb would build every library of the workspace in release; the module alone is enough.
cargo build --release --locked -p pam_sekimori
deb="$(cargo deb --no-build -p pam_sekimori 2>/dev/null | tail -n 1)"
[ -f "$deb" ] || { echo "cargo deb did not print the package it built" >&2; exit 1; }
echo "built $deb"

lib=/lib/x86_64-linux-gnu/security/pam_sekimori.so
listing="$(dpkg-deb -c "$deb")"
for want in ./lib/x86_64-linux-gnu/security/pam_sekimori.so ./etc/sekimori/pam.toml \
    ./usr/share/doc/libpam-sekimori/README.md ./usr/share/doc/libpam-sekimori/copyright \
    ./usr/share/doc/libpam-sekimori/examples/pam.d-sshd; do
  grep -qF " $want" <<<"$listing" || { echo "the package lacks $want" >&2; exit 1; }
done
[ "$(dpkg-deb -f "$deb" Package)" = libpam-sekimori ]
dpkg-deb -f "$deb" Depends | grep -q libpam0g
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/sekimori/pam.toml

# A module left by an earlier run would make the sign-in below prove nothing.
dpkg -r libpam-sekimori >/dev/null 2>&1 || true
[ ! -e "$lib" ] || { echo "$lib exists before the install" >&2; exit 1; }
dpkg -i "$deb"
trap 'dpkg -r libpam-sekimori >/dev/null 2>&1 || true' EXIT
[ -f "$lib" ] && [ -f /etc/sekimori/pam.toml ]

echo "signing in through libpam with the installed module"
SEKIMORI_PAM_INSTALLED=1 cargo test --locked --test it -- --exact \
  pam::password_and_code_mode_checks_the_gateway_password_first

dpkg -r libpam-sekimori
trap - EXIT
[ ! -e "$lib" ] || { echo "dpkg -r left $lib" >&2; exit 1; }
[ -f /etc/sekimori/pam.toml ] || { echo "dpkg -r removed the configuration (a conffile)" >&2; exit 1; }
dpkg --purge libpam-sekimori >/dev/null
[ ! -e /etc/sekimori/pam.toml ] || { echo "dpkg --purge left the configuration" >&2; exit 1; }
echo "libpam-sekimori: built, installed, signed in through, removed and purged"
