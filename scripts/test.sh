#!/usr/bin/env bash
# Sets up the host (scripts/setup.sh) and runs the whole test suite against real Docker,
# real runsc and real Ansible. This is what `.ci/run` calls.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh --no-build
cargo build --quiet
# Build the prepared images once, up front, so parallel tests do not race to build them.
./target/debug/sandbox images build debian-11 debian-12 debian-13
./target/debug/sandbox doctor
cargo test --quiet -- --test-threads="${SANDBOX_TEST_THREADS:-2}"
# The targets' systemctl (a workspace member): its own unit tests.
cargo test --quiet -p sandbox-systemctl
# Every bundled challenge: lint, then its solution must pass and its starter must fail.
./target/debug/sandbox lint
./target/debug/sandbox test --jobs 2 --junit target/challenges-junit.xml
