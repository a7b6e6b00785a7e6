#!/bin/bash
# Fetches the app's dependencies from the private package mirror into DEST.
# The mirror only serves clients that present the deploy token.
# usage: fetch-deps.sh TOKEN_FILE DEST
set -euo pipefail
token_file=${1:?usage: fetch-deps.sh TOKEN_FILE DEST}
dest=${2:?usage: fetch-deps.sh TOKEN_FILE DEST}
mirror=$(dirname "$0")/mirror

token=$(tr -d '[:space:]' < "$token_file" 2>/dev/null || true)
if [ -z "$token" ]; then
    echo "fetch-deps: no deploy token in $token_file: the mirror refuses anonymous clients" >&2
    exit 1
fi
if [ "$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)" != "$(cat "$mirror/ACCESS")" ]; then
    echo "fetch-deps: the mirror rejected the deploy token (401)" >&2
    exit 1
fi
echo "fetch-deps: authenticated to the mirror"
mkdir -p "$dest"
for package in "$mirror"/*/; do
    cp "$package"*.pm "$dest"/
    echo "fetch-deps: fetched $(basename "$package")"
    sleep 1
done
