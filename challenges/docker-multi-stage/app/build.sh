#!/bin/bash
# "Compiles" the app: needs the toolchain, turns src/server.pl.in into OUT/server.pl.
# usage: build.sh SRC_DIR OUT_DIR
set -euo pipefail
src=${1:?usage: build.sh SRC_DIR OUT_DIR}
out=${2:?usage: build.sh SRC_DIR OUT_DIR}

toolchain=/opt/toolchain
if [ ! -s "$toolchain/toolchain.img" ]; then
    echo "build.sh: no toolchain in $toolchain (run install-toolchain.sh first)" >&2
    exit 1
fi
build_id="$(cat "$toolchain/VERSION" | tr ' ' '-')-$(sha256sum "$src/server.pl.in" | cut -c1-12)"

mkdir -p "$out"
sed "s/@BUILD@/$build_id/" "$src/server.pl.in" > "$out/server.pl"
perl -c "$out/server.pl"
chmod 0755 "$out/server.pl"
echo "built $out/server.pl ($build_id)"
