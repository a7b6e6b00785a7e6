//! The binary itself: static, and needing no tool of the target's.

use std::fs;

use super::harness::{mock_binary, repo, service, Sys};

/// The ELF program headers' types of the file at PATH.
fn program_header_types(path: &std::path::Path) -> Vec<u32> {
    let elf = fs::read(path).unwrap();
    assert_eq!(&elf[..4], b"\x7fELF", "{} is not an ELF file", path.display());
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (size, count) = (u16_at(0x36), u16_at(0x38));
    (0..count).map(|i| u32::from_le_bytes(elf[phoff + i * size..][..4].try_into().unwrap())).collect()
}

/// It runs in every catalog family (Debian, Ubuntu, Rocky, Alpine's musl): no program
/// interpreter, so no C library of the target's is involved.
#[test]
fn binary_is_static_and_says_why_it_exists() {
    const PT_INTERP: u32 = 3;
    let types = program_header_types(&mock_binary());
    assert!(!types.is_empty());
    assert!(!types.contains(&PT_INTERP), "the systemctl binary is dynamically linked: {types:?}");
    let main = fs::read_to_string(repo().join("mocks/sandbox-systemctl/src/main.rs")).unwrap();
    assert!(main.starts_with("//! "), "main.rs opens with a module comment");
    assert!(main.contains("systemd"), "which should say why the stand-in exists");
}

/// Nothing outside the binary is run, in mock or supervised mode: PATH holds no tool at all.
#[test]
fn binary_needs_no_external_tools() {
    let s = Sys::supervised();
    let root = s.root_str();
    s.nginx();
    s.unit("tool.service", &service(&format!("Type=oneshot\nExecStart=/bin/sh -c 'echo ran > {root}/ran'")));
    let out = s.run_as("systemctl", &["start", "tool"]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(s.read("/ran"), "ran\n", "commands are exec'd by absolute path, whatever PATH is");
    assert_eq!(
        s.ok(&["list-unit-files", "--no-legend"]),
        "nginx.service disabled enabled\ntool.service  disabled enabled\n"
    );
    assert!(s.journal(&["-u", "tool"]).stdout.contains("Started tool.service - Test service."));
    assert_eq!(fs::read_dir(s.bin.path()).unwrap().count(), 2, "PATH has only systemctl and journalctl");
}
