//! The warm pool's rules, each proven with real containers under runsc. Every test has its own
//! namespace and state directory, so tests (and a developer's own pool) never meet.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use sandbox::challenge::Limits;
use sandbox::distro::{self, Distro};
use sandbox::docker::Engine;
use sandbox::images::{self, ImageKind};
use sandbox::labels;
use sandbox::pool::Pool;
use sandbox::report::Reporter;

use crate::harness::{default_endpoint, Sandbox, TestPoolNamespace};

struct Quiet;

impl Reporter for Quiet {
    fn step(&self, _: &str) {}
    fn step_done(&self, _: &str) {}
    fn ansible_line(&self, _: u8, _: &str) {}
    fn verified(&self, _: u8, _: &str, _: i64, _: &str) {}
    fn notice(&self, _: &str) {}
    fn build_line(&self, _: &str) {}
    fn output(&self, _: &str) {}
}

/// A pool of its own, removed (with everything in it) when the test ends.
struct TestPool {
    pool: Pool,
    engine: Engine,
    namespace: String,
    _state: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
}

impl TestPool {
    fn new(name: &str) -> TestPool {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let engine = runtime.block_on(Engine::connect(&default_endpoint())).unwrap();
        let state = tempfile::tempdir().unwrap();
        let namespace = format!("test-{name}-{}", std::process::id());
        let pool = Pool::new(engine.clone(), &namespace, "runsc", state.path());
        TestPool { pool, engine, namespace, _state: state, runtime }
    }

    fn pooled(&self) -> usize {
        let label = format!("{}={}", labels::POOL, self.namespace);
        self.runtime.block_on(self.engine.list_labelled(&label)).unwrap().len()
    }

    fn image(&self, distro: &'static Distro) -> String {
        self.runtime.block_on(images::ensure(&self.engine, ImageKind::Target(distro), &Quiet)).unwrap()
    }
}

impl Drop for TestPool {
    fn drop(&mut self) {
        let label = format!("{}={}", labels::POOL, self.namespace);
        self.runtime.block_on(async {
            // Claimed containers too (a run would remove those), then the parking network.
            for container in self.engine.list_labelled(&label).await.unwrap_or_default() {
                let _ = self.engine.remove_container(&container.id).await;
            }
            let _ = self.pool.down().await;
        });
    }
}

fn debian(version: &str) -> &'static Distro {
    distro::builtin(&format!("debian-{version}")).unwrap()
}

#[test]
fn a_container_killed_behind_the_pools_back_is_never_handed_out() {
    let t = TestPool::new("killed");
    let d12 = debian("12");
    t.runtime.block_on(t.pool.up(&[(ImageKind::Target(d12), 1)], &Quiet)).unwrap();
    let status = t.runtime.block_on(t.pool.status(&sandbox::distro::Catalog::builtin())).unwrap();
    assert_eq!((status[0].ready, status[0].target), (1, 1));

    let label = format!("{}={}", labels::POOL, t.namespace);
    let victim = t.runtime.block_on(t.engine.list_labelled(&label)).unwrap().remove(0);
    t.runtime.block_on(t.engine.kill_container(&victim.id));
    let claimed = t
        .runtime
        .block_on(t.pool.claim("run1", u64::MAX / 2, &[(ImageKind::Target(d12), t.image(d12))], &Limits::default()))
        .unwrap();
    assert!(claimed[0].is_none(), "a dead container was handed out");
    assert_eq!(t.pooled(), 0, "the dead container was removed, silently");
}

#[test]
fn a_container_from_a_stale_image_is_replaced_not_handed_out() {
    let t = TestPool::new("stale");
    let d12 = debian("12");
    t.runtime.block_on(t.pool.up(&[(ImageKind::Target(d12), 1)], &Quiet)).unwrap();
    // As if the prepared image had been rebuilt since: the pooled container's image differs.
    let other = t.image(debian("11"));
    let claimed = t
        .runtime
        .block_on(t.pool.claim("run1", u64::MAX / 2, &[(ImageKind::Target(d12), other)], &Limits::default()))
        .unwrap();
    assert!(claimed[0].is_none());
    assert_eq!(t.pooled(), 0);
    assert_eq!(
        t.runtime.block_on(t.pool.refill(ImageKind::Target(d12), &t.image(d12))).unwrap(),
        1,
        "a replacement warms"
    );
}

#[test]
fn ten_concurrent_warm_ups_never_exceed_the_target() {
    let t = TestPool::new("ten");
    let d12 = debian("12");
    t.image(d12);
    let done = AtomicBool::new(false);
    let most = AtomicUsize::new(0);
    let label = format!("{}={}", labels::POOL, t.namespace);
    let sizes = [(ImageKind::Target(d12), 3)];
    t.runtime.block_on(async {
        let requests = futures_util::future::join_all((0..10).map(|_| t.pool.up(&sizes, &Quiet)));
        let watch = async {
            while !done.load(Ordering::SeqCst) {
                let seen = t.engine.list_labelled(&label).await.unwrap().len();
                most.fetch_max(seen, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        let requests = async {
            let results = requests.await;
            done.store(true, Ordering::SeqCst);
            results
        };
        let (results, ()) = tokio::join!(requests, watch);
        for result in results {
            result.unwrap();
        }
    });
    assert!(most.load(Ordering::SeqCst) <= 3, "saw {} containers", most.load(Ordering::SeqCst));
    let status = t.runtime.block_on(t.pool.status(&sandbox::distro::Catalog::builtin())).unwrap();
    assert_eq!((status[0].ready, status[0].warming), (3, 0));
}

#[test]
fn two_concurrent_multi_distro_runs_never_share_a_container() {
    let t = TestPool::new("share");
    let (d12, d13) = (debian("12"), debian("13"));
    t.runtime.block_on(t.pool.up(&[(ImageKind::Target(d12), 2), (ImageKind::Target(d13), 2)], &Quiet)).unwrap();
    let wanted = vec![(ImageKind::Target(d12), t.image(d12)), (ImageKind::Target(d13), t.image(d13))];
    let limits = Limits::default();
    let (a, b) = t.runtime.block_on(async {
        tokio::join!(
            t.pool.claim("runa", u64::MAX / 2, &wanted, &limits),
            t.pool.claim("runb", u64::MAX / 2, &wanted, &limits)
        )
    });
    let ids: Vec<String> =
        a.unwrap().into_iter().chain(b.unwrap()).map(|c| c.expect("each run gets both distros").id).collect();
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 4, "{ids:?}");
    let third = t.runtime.block_on(t.pool.claim("runc", u64::MAX / 2, &wanted, &limits)).unwrap();
    assert!(third.iter().all(Option::is_none), "nothing is handed out twice");
}

#[test]
fn a_run_takes_a_container_still_warming_and_its_boot_leaves_it_to_the_run() {
    let t = TestPool::new("warming");
    let d12 = debian("12");
    let kind = ImageKind::Target(d12);
    let image = t.image(d12);
    let label = format!("{}={}", labels::POOL, t.namespace);
    let sizes = [(kind, 1)];
    let claimed = t.runtime.block_on(async {
        let up = t.pool.up(&sizes, &Quiet);
        let claim = async {
            // As soon as the warming container runs (its sshd is not up yet), a run asks.
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            loop {
                for c in t.engine.list_labelled(&label).await.unwrap() {
                    // One the pool gave up on (not warm within its bound on a loaded host) is gone.
                    let Ok(state) = t.engine.container_state(&c.id, "pooled").await else { continue };
                    if c.name.contains("-warming-") && state.running {
                        return t.pool.claim("run1", u64::MAX / 2, &[(kind, image.clone())], &Limits::default()).await;
                    }
                }
                assert!(std::time::Instant::now() < deadline, "no warming container came up");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        let (up, claimed) = tokio::join!(up, claim);
        up.unwrap();
        claimed.unwrap()
    });
    let claim = claimed[0].clone().expect("the warming container was handed out");
    assert!(claim.warming);
    // Its boot finished after the claim: the container kept the run's name, and it boots on.
    let state = t.runtime.block_on(t.engine.container_state(&claim.id, "claimed")).unwrap();
    assert_eq!(state.name, claim.name);
    assert!(state.running);
    let status = t.runtime.block_on(t.pool.status(&sandbox::distro::Catalog::builtin())).unwrap();
    assert_eq!((status[0].ready, status[0].warming), (0, 0), "the claimed one is no longer the pool's");
}

#[test]
fn a_controller_claimed_while_warming_has_its_warm_up_ansible_ended() {
    let t = TestPool::new("warm-up");
    let kind = ImageKind::Controller;
    let image = t.runtime.block_on(images::ensure(&t.engine, kind, &Quiet)).unwrap();
    let label = format!("{}={}", labels::POOL, t.namespace);
    let sizes = [(kind, 1)];
    let ansible_running = |id: String| {
        let engine = t.engine.clone();
        async move {
            let script = "for c in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $c 2>/dev/null; echo; done | grep -c '[a]nsible localhost'";
            // A container the pool gave up on (not warm within its bound) is gone: not running.
            let out = engine.exec_quiet(&id, "controller", &["sh", "-c", script], &[]).await;
            out.is_ok_and(|out| out.output.trim().parse::<u32>().unwrap_or(0) > 0)
        }
    };
    t.runtime.block_on(async {
        let up = t.pool.up(&sizes, &Quiet);
        // While `up` still waits for the warm-up: once its Ansible runs, a run claims the
        // controller and ends the warm-up as a run does.
        let claim_and_end = async {
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            let claim = 'claimed: loop {
                for c in t.engine.list_labelled(&label).await.unwrap() {
                    if c.name.contains("-warming-") && ansible_running(c.id.clone()).await {
                        let (wanted, limits) = ([(kind, image.clone())], Limits::default());
                        let claimed = t.pool.claim("run1", u64::MAX / 2, &wanted, &limits).await;
                        break 'claimed claimed.unwrap()[0].clone().expect("the warming controller was handed out");
                    }
                }
                assert!(std::time::Instant::now() < deadline, "no warm-up Ansible started");
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            assert!(claim.warming);
            // As a run does: polled until the warm-up's session id is there, then it ends it.
            let end = images::end_controller_warm_up();
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while t.engine.exec_quiet(&claim.id, "controller", &["sh", "-c", &end], &[]).await.unwrap().exit_code != 0 {
                assert!(std::time::Instant::now() < deadline, "the warm-up never wrote its session id");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // SIGTERM to its process group ends it within moments; left alone it runs on
            // for about 2 s more (Ansible's start under gVisor), which this bound tells apart.
            let deadline = std::time::Instant::now() + Duration::from_millis(500);
            while ansible_running(claim.id.clone()).await {
                assert!(std::time::Instant::now() < deadline, "the warm-up's Ansible still runs");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        let (up, ()) = tokio::join!(up, claim_and_end);
        up.unwrap();
    });
}

/// Across invocations: `pool up` keeps targets and a controller, `run` takes both and says
/// so, replacements warm, `pool down` removes them all.
#[test]
fn the_cli_pool_serves_runs_and_comes_down_clean() {
    let pool = TestPoolNamespace::new("test-cli");
    let env = |sandbox: Sandbox| pool.with(sandbox);
    let up = env(Sandbox::new(["pool", "up", "--size", "1", "--distro", "debian-12"])).output();
    assert_eq!(up.code, 0, "{}", up.stderr);
    assert!(up.stdout.contains("debian-12          1       0      1"), "{}", up.stdout);
    assert!(up.stdout.contains("controller         1       0      1"), "a warm controller too: {}", up.stdout);

    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("warm");
    sandbox::challenge::scaffold::create(&dir, &[], &sandbox::distro::Catalog::builtin(), false, false).unwrap();
    let run = env(Sandbox::new(["run".to_string(), dir.display().to_string(), "--solution".into(), "--json".into()]))
        .output();
    assert_eq!(run.code, 0, "{}", run.stderr);
    // The target and the controller, which got the challenge's files through an exec (the
    // solution could not pass without them).
    assert!(run.stderr.contains("(2 warm from the pool in "), "{}", run.stderr);
    assert!(run.platform("debian-12")["notes"].to_string().contains("warm target from the pool"));
    assert_eq!(crate::harness::leftovers(&run.run_id()), (0, 0));

    // The run handed its refill to a process of its own: replacements become ready after it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    let refilled = |stdout: &str| {
        stdout.contains("debian-12          1       0      1") && stdout.contains("controller         1       0      1")
    };
    let mut status = env(Sandbox::new(["pool", "status"])).output();
    while !refilled(&status.stdout) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(250));
        status = env(Sandbox::new(["pool", "status"])).output();
    }
    assert!(refilled(&status.stdout), "refilled within 180 s: {}", status.stdout);
    let down = env(Sandbox::new(["pool", "down"])).output();
    assert_eq!(down.code, 0, "{}", down.stderr);
    assert!(down.stdout.contains("removed 2 warm target(s) and controller(s)"), "{}", down.stdout);
}

/// A run that starts while `pool up` is still warming takes what is warming (a cold start
/// already under way) rather than starting more beside it, and passes.
#[test]
fn a_run_during_the_pools_warm_up_takes_the_warming_containers() {
    let pool = TestPoolNamespace::new("test-cli-warming");
    let env = |sandbox: Sandbox| pool.with(sandbox);
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("warming");
    sandbox::challenge::scaffold::create(&dir, &[], &sandbox::distro::Catalog::builtin(), false, false).unwrap();
    // The images first: a warm-up that builds them would outlast the window this test needs.
    let images = env(Sandbox::new(["images", "build", "debian-12"])).output();
    assert_eq!(images.code, 0, "{}", images.stderr);

    let mut up = env(Sandbox::new(["pool", "up", "--size", "1", "--distro", "debian-12"])).spawn();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let warming =
        |stdout: &str| stdout.lines().any(|l| l.starts_with("controller") && l.split_whitespace().nth(2) == Some("1"));
    while !warming(&env(Sandbox::new(["pool", "status"])).output().stdout) {
        assert!(std::time::Instant::now() < deadline, "the controller never showed as warming");
        std::thread::sleep(Duration::from_millis(100));
    }
    let run = env(Sandbox::new(["run".to_string(), dir.display().to_string(), "--solution".into(), "--json".into()]))
        .output();
    assert!(up.wait().unwrap().success());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("(2 warm from the pool in "), "{}", run.stderr);
    assert!(run.platform("debian-12")["notes"].to_string().contains("from the pool"));
    let down = env(Sandbox::new(["pool", "down"])).output();
    assert_eq!(down.code, 0, "{}", down.stderr);
}
