//! What a learner's Dockerfile can take from the host: each build step's writes stop at its
//! bound while it writes, and the builder's whole store is a filesystem of fixed size.

use std::path::Path;
use std::time::{Duration, Instant};

use sandbox::dockerfile::{Builder, DEFAULT_SOCKET};

use crate::harness::{Fixture, Sandbox};

/// Free bytes of the filesystem holding `path`.
fn free_bytes(path: &Path) -> u64 {
    let stats = rustix::fs::statvfs(path).unwrap();
    stats.f_bavail * stats.f_frsize
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

/// The host filesystem under the builder's store file (and Docker's own data root).
const HOST_SIDE: &str = "/var/lib/sandbox/builder";

#[test]
fn a_step_writing_past_its_bound_fails_naming_it_and_leaves_the_host_disk_as_it_was() {
    let before = free_bytes(Path::new(HOST_SIDE));
    // 3 GB asked, 64 MiB allowed; the id makes the step new to the cache on every run.
    let dockerfile =
        format!("FROM debian:12\nRUN echo {} >/dev/null; head -c 3000000000 /dev/zero > /big\n", std::process::id());
    let fixture = Fixture::docker("[limits]\nbuild_writes = \"64m\"\n", &dockerfile);
    // The timeout is the bound the attempt ends within: writing 3 GB would outlast it.
    let out = Sandbox::new(["run", &fixture.path_str(), "--json", "--timeout", "90s"]).status(1).run();
    let platform = out.platform("image");
    assert_eq!(platform["verdict"], "failed", "{platform}");
    let reason = platform["reason"].as_str().unwrap();
    assert!(reason.starts_with("build 1 step 2 (RUN echo "), "{reason}");
    assert!(reason.ends_with("wrote past its 64 MiB write bound"), "{reason}");
    // The step's layer goes with its container; btrfs frees it in the background and the
    // loop device's discard hands the blocks back to the host.
    let deadline = Instant::now() + Duration::from_secs(60);
    let lost = loop {
        let lost = before.saturating_sub(free_bytes(Path::new(HOST_SIDE)));
        if lost < 100 << 20 || Instant::now() > deadline {
            break lost;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(lost < 100 << 20, "the host's disk lost {lost} bytes to the attempt");
}

#[test]
fn a_step_that_needs_the_network_says_the_build_has_none() {
    let dockerfile = format!(
        "FROM debian:12\nRUN echo {} >/dev/null && apt-get update && apt-get install -y curl\n",
        std::process::id()
    );
    let fixture = Fixture::docker("", &dockerfile);
    let out = Sandbox::new(["run", &fixture.path_str(), "--json"]).status(1).run();
    let reason = out.platform("image")["reason"].as_str().unwrap().to_string();
    assert!(reason.starts_with("build 1 step 2 (RUN echo "), "{reason}");
    assert!(reason.contains("needs the network, and this challenge's builds have none"), "{reason}");
    assert!(reason.contains("network = \"egress\""), "{reason}");
}

#[test]
fn the_builder_store_is_a_filesystem_of_its_own_whose_size_bounds_what_builds_take() {
    use std::os::unix::fs::MetadataExt;
    let store = block_on(async { Builder::connect(DEFAULT_SOCKET).await.unwrap().store().await.unwrap() });
    let root = block_on(async {
        let builder = Builder::connect(DEFAULT_SOCKET).await.unwrap();
        builder.engine().defaults().await.unwrap().root_dir
    });
    // Its own device: whatever any number of attempts write lands there, not on the host's.
    assert_ne!(std::fs::metadata(&root).unwrap().dev(), std::fs::metadata(HOST_SIDE).unwrap().dev());
    // The file behind it is the most the host can lose: it is never bigger than the store.
    let image = std::fs::metadata(Path::new(HOST_SIDE).join("store.btrfs")).unwrap();
    assert!(image.len() >= store.size, "{} < {}", image.len(), store.size);
    assert!(image.blocks() * 512 <= image.len());
    assert!(store.used + store.free <= store.size);
}
