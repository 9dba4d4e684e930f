#!/usr/bin/env bash
# Runs the scene tests (exact PySceneDetect cuts, libs/media/test/scenes.test.ts) and the poster tests
# (libs/media/test/poster.test.ts: seeks, tiles, MJPEG) with the ffmpeg and ffprobe of a built image: every decode, probe and conversion goes through the image's binaries; only
# the test inputs are encoded by the machine's ffmpeg (libx264 and lavfi sources are not in the image).
# Exits non-zero when a test fails or when the image's ffmpeg decoded nothing.
#   bash tools/images/ffmpeg-parity.sh [IMAGE [TEST_FILE...]]
#     IMAGE default localhost/finevideo/stage-dynamism:dev; TEST_FILE default the two above
set -euo pipefail
cd "$(dirname "$0")/../.."
image="${1:-localhost/finevideo/stage-dynamism:dev}"
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- libs/media/test/scenes.test.ts libs/media/test/poster.test.ts
host_ffmpeg="$(command -v ffmpeg)" || { echo "ffmpeg-parity: the machine's ffmpeg encodes the test videos: apt-get install ffmpeg" >&2; exit 2; }
work="$(mktemp -d)"
container=""
trap '[ -z "$container" ] || podman rm -f "$container" >/dev/null; rm -rf "$work"' EXIT

container="$(podman create --pull=never "$image")"
podman cp "$container:/usr/bin/ffmpeg" "$work/image-ffmpeg"
podman cp "$container:/usr/bin/ffprobe" "$work/image-ffprobe"
echo "== ffmpeg-parity: $image: $("$work/image-ffmpeg" -hide_banner -version | head -1)"
echo "== ffmpeg-parity: machine:  $("$host_ffmpeg" -hide_banner -version | head -1)"

# The test inputs (libx264, lavfi) are encoded by the machine's ffmpeg; every other call is the image's, counted.
cat > "$work/ffmpeg" <<WRAP
#!/bin/sh
for a in "\$@"; do case "\$a" in libx264|lavfi) exec "$host_ffmpeg" "\$@" ;; esac; done
echo call >> "$work/image-calls"
exec "$work/image-ffmpeg" "\$@"
WRAP
chmod +x "$work/ffmpeg"

FFMPEG_PATH="$work/ffmpeg" FFPROBE_PATH="$work/image-ffprobe" \
  node node_modules/mocha/bin/mocha.js --config .mocharc.json "$@"
calls="$(wc -l < "$work/image-calls" 2>/dev/null || echo 0)"
[ "$calls" -gt 0 ] || { echo "ffmpeg-parity: the image's ffmpeg ran 0 times: the tests did not use it" >&2; exit 1; }
echo "== ffmpeg-parity: $* passed with $image's ffmpeg ($calls runs of it) and ffprobe"
