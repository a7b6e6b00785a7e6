#!/bin/bash
# Installs the dependencies listed in deps.txt from vendor/ into lib/ (next to this script).
# Like a real package manager it is slow: every package is verified and "compiled".
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p lib
while read -r name version; do
    case $name in ''|'#'*) continue ;; esac
    package=vendor/$name-$version
    [ -d "$package" ] || { echo "install-deps: $name $version is not in vendor/" >&2; exit 1; }
    echo "install-deps: $name $version"
    (cd "$package" && sha256sum --quiet --check SHA256SUMS)
    for module in "$package"/*.pm; do
        perl -c "$module" 2>/dev/null || { echo "install-deps: $module does not compile" >&2; exit 1; }
        cp "$module" lib/
    done
    sleep 2   # resolving, downloading, building: the part a cache should spare you
done < deps.txt
echo "install-deps: $(ls lib | wc -l) modules in $(pwd)/lib"
