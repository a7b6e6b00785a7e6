//! Builds the targets' systemctl (`mocks/sandbox-systemctl`) as a static binary, so that
//! `src/images/mod.rs` can embed it in the target images and the tests can run it.
//!
//! It is a nested `cargo build` with a target directory of its own under OUT_DIR: the binary
//! must be linked with `+crt-static` for x86_64-unknown-linux-gnu (it runs in every catalog
//! family, Alpine included), which the sandbox binary itself must not be. A plain
//! `cargo build`/`cargo test` on a clean clone therefore builds both.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const CRATE_DIR: &str = "mocks/sandbox-systemctl";
const PACKAGE: &str = "sandbox-systemctl";
/// glibc's libc.a is on the build machines; static-pie binaries of this target run under runsc.
const TARGET: &str = "x86_64-unknown-linux-gnu";

fn main() {
    for path in [&format!("{CRATE_DIR}/src"), &format!("{CRATE_DIR}/Cargo.toml"), "Cargo.lock"] {
        println!("cargo:rerun-if-changed={path}");
    }
    let target_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("systemctl");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "-p", PACKAGE, "--target", TARGET, "--target-dir"])
        .arg(&target_dir)
        // The outer build's flags are not this binary's.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env("RUSTFLAGS", "-C target-feature=+crt-static -C strip=symbols")
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build {PACKAGE}: {e}"));
    assert!(status.success(), "building {PACKAGE} (the targets' systemctl) failed: {status}");
    let binary = target_dir.join(TARGET).join("release").join(PACKAGE);
    assert!(binary.is_file(), "{} was not built", binary.display());
    println!("cargo:rustc-env=SANDBOX_SYSTEMCTL_BIN={}", binary.display());
}
