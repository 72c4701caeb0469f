#!/usr/bin/env bash
# The container image's build stage, without a container engine: copies exactly what
# docker/Dockerfile's build stage COPYs (read from the Dockerfile, tracked files only, as a
# clean clone has them) into an empty directory, then loads the workspace there with
# `cargo metadata --locked` and builds the gateway the way the image does (`--locked
# --bin sekimori`). A path the workspace needs but the Dockerfile forgets fails here.
#
#   bash tests/docker_copyset.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# COPY lines of the first stage (up to the second FROM), sources only: flags such as
# --from= belong to later stages, the last word is the destination.
mapfile -t sources < <(awk '
  /^FROM /{ stage++ } stage == 1 && /^COPY / {
    for (i = 2; i < NF; i++) if ($i !~ /^--/) print $i
  }' docker/Dockerfile)
((${#sources[@]})) || { echo "no COPY lines found in docker/Dockerfile" >&2; exit 1; }
echo "the build stage copies: ${sources[*]}"
for s in "${sources[@]}"; do
  files="$(git ls-files -- "$s")"
  [ -n "$files" ] || { echo "docker/Dockerfile copies $s, which the repository lacks" >&2; exit 1; }
  while IFS= read -r f; do
    mkdir -p "$work/$(dirname "$f")"
    cp "$f" "$work/$f"
  done <<<"$files"
done

cd "$work"
cargo metadata --locked --format-version 1 >/dev/null
echo "the workspace loads from the copy set"
# The dependencies are already compiled in the repository's target directory. The copies
# are newer than its build, so the gateway's own crate is compiled again, from the copy.
CARGO_TARGET_DIR="$root/target" cargo build --locked --bin sekimori 2>&1 | tail -n 1
echo "the gateway builds from exactly the Dockerfile's COPY set"
