#!/bin/sh
# Builds ffmpeg and ffprobe from Debian's own source package (the version `apt-get install ffmpeg`
# would install, Debian's patches applied) with only the components the stages run, into PREFIX.
# Debian's binary package loads 246 MB of libraries (x265, codec2, ICU, rsvg, ...); this one loads
# libdav1d (Debian decodes AV1 with it, so the same decoder decodes here), zlib and libc.
# Same source, same assembly (nasm, inline asm, runtime CPU detection) as Debian's build: frames
# decode and convert to the same bytes, which scene parity depends on (tools/images/ffmpeg-parity.sh).
#   ffmpeg-build.sh PREFIX            (in the ffmpeg-build stage of images/Dockerfile)
set -eu
prefix="${1:?usage: ffmpeg-build.sh PREFIX}"

# What runs ffmpeg in the stages (libs/media): scenes (decode, scale to bgr24, transpose/flip for
# rotation tags, remap of gathered pixels, raw frames to a pipe), freeze (split/trim/setpts/
# freezedetect/nullsink, null output), frames (select/scale/setsar/format/showinfo, MJPEG to a pipe;
# posters: one input per seek, trim/concat/settb, and the strip's tile),
# probe (ffprobe JSON), and yt-dlp's merges and fixups (-c copy into mp4/m4a/webm/mkv, aac_adtstoasc).
decoders='h264 hevc vp8 vp9 libdav1d av1 mpeg4 mpeg1video mpeg2video h263 mjpeg png rawvideo
  aac aac_latm mp3 mp3float mp2 opus vorbis flac ac3 eac3 alac pcm_s16le pcm_s16be pcm_s24le pcm_f32le pcm_u8'
demuxers='mov matroska webm_dash_manifest flv mpegts avi ogg mp3 aac wav flac ac3 eac3 rawvideo
  image2 image2pipe mjpeg h264 hevc m4v mpegps hls webvtt'
muxers='mp4 mov ipod matroska webm null rawvideo image2pipe adts mp3 ogg opus'
encoders='mjpeg rawvideo wrapped_avframe pcm_s16le'
filters='scale format transpose hflip vflip remap freezedetect split trim setpts nullsink null select
  setsar showinfo tile concat settb aresample aformat anull atrim asplit anullsink'
parsers='h264 hevc vp8 vp9 av1 mpeg4video mpegvideo mpegaudio aac aac_latm opus vorbis flac mjpeg png ac3 h263'
bsfs='aac_adtstoasc h264_mp4toannexb hevc_mp4toannexb extract_extradata vp9_superframe vp9_superframe_split av1_frame_split null'

list() { # list KIND NAMES: --enable-KIND=a,b,c
  printf -- '--enable-%s=%s' "$1" "$(echo $2 | tr ' ' ',')"
}

cd "$(dirname "$(find /usr/src/ffmpeg -maxdepth 2 -name configure | head -1)")"
./configure --prefix="$prefix" \
  --disable-everything --disable-autodetect --disable-doc --disable-debug --disable-ffplay \
  --disable-network --disable-devices --disable-avdevice --disable-postproc \
  --enable-zlib --enable-libdav1d \
  "$(list decoder "$decoders")" "$(list demuxer "$demuxers")" "$(list muxer "$muxers")" \
  "$(list encoder "$encoders")" "$(list filter "$filters")" "$(list parser "$parsers")" \
  "$(list bsf "$bsfs")" --enable-protocol=file,pipe
make -j"${JOBS:-2}"
make install
"$prefix/bin/ffmpeg" -hide_banner -version | head -1
