#!/bin/bash
# Installs the "toolchain" the build needs into /opt/toolchain. A stand-in for a compiler,
# SDK or build dependencies: big (60 MB), and needed only while building, never at run time.
set -euo pipefail
mkdir -p /opt/toolchain
dd if=/dev/zero of=/opt/toolchain/toolchain.img bs=1M count=60 status=none
cat > /opt/toolchain/VERSION <<'VERSION'
sbx-toolchain 1.4.2
VERSION
echo "installed $(cat /opt/toolchain/VERSION) into /opt/toolchain ($(du -sh /opt/toolchain | cut -f1))"
