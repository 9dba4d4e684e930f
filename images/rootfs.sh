#!/bin/sh
# Copies programs and every shared library they load (their ldd closure) into a root filesystem
# folder, at their canonical paths (Debian's merged /usr), for images built FROM scratch: the image
# holds what its programs run and nothing else (no shell, no package manager).
#   rootfs.sh DEST [--skip BASE] FILE...   FILE: a program or a shared object; --skip: leave out
#   libraries BASE already holds (the layer below has them).
# Runs in the build stages only; it is not part of any image.
set -eu
dest="$1"; shift
skip=""
if [ "${1:-}" = --skip ]; then skip="$2"; shift 2; fi
copy() { # copy PATH: the file behind PATH, under its canonical folder and its own name
  dir="$(readlink -f "$(dirname "$1")")"
  case "$dir/" in "$dest"/*) return 0 ;; esac # already in the root filesystem
  target="$dest$dir/$(basename "$1")"
  [ -e "$target" ] && return 0
  [ -n "$skip" ] && [ -e "$skip$dir/$(basename "$1")" ] && return 0
  mkdir -p "$dest$dir"
  cp -L --preserve=mode "$1" "$target"
}
for file in "$@"; do
  copy "$file"
  # "libx.so => /path (0x..)" and the loader's own "/lib64/ld-linux-x86-64.so.2 (0x..)" line.
  for lib in $(ldd "$file" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do copy "$lib"; done
  if ldd "$file" | grep -q 'not found'; then echo "rootfs.sh: $file: $(ldd "$file" | grep 'not found')" >&2; exit 1; fi
done
