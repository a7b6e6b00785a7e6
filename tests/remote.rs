//! A run against a Docker engine that is not the local default one: a second, private
//! dockerd this test starts on a loopback TCP port with TLS certificates it makes, reached
//! through `DOCKER_HOST`, `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH` as Docker's own clients
//! read them.
//!
//! The second daemon must never touch the first one's `docker0` (a daemon started with
//! `"bridge": "none"` deletes it, see ENVIRONMENT.md): it gets a bridge of its own, no
//! iptables or masquerading, its own data root, exec root (so its own containerd), pid file
//! and socket, and a config file of its own, so it does not read /etc/docker/daemon.json.
//!
//! Without iptables of its own, its bridged traffic still crosses the host's FORWARD chain
//! (br_netfilter), whose policy the first daemon set to DROP: controller and targets could
//! not reach each other. One rule in DOCKER-USER (the chain Docker leaves to users) accepts
//! traffic within the second daemon's own address pool, and goes with it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sandbox::docker::{Endpoint, Engine};

use crate::harness::{default_endpoint, finish, labelled, lines_of, run_id_in, wait_for_line, Sandbox};

/// The second daemon's bridge and address ranges: none of the first daemon's.
const BRIDGE: &str = "sbxci0";
const BRIDGE_ADDRESS: &str = "10.232.7.1/24";
const ADDRESS_POOL: &str = "10.233.0.0/16";

fn sh(script: &str) {
    let out = Command::new("sh").args(["-ec", script]).output().expect("sh runs");
    assert!(
        out.status.success(),
        "{script}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, the client's three
/// files in `client/` under the names DOCKER_CERT_PATH expects.
fn make_certificates(dir: &Path) {
    std::fs::create_dir_all(dir.join("client")).unwrap();
    sh(&format!(
        "cd '{}'
        openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=sandbox-test-ca \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
            -keyout ca-key.pem -out ca.pem 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server-key.pem -out server.csr 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > server.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 1 \
            -extfile server.ext -out server-cert.pem 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj /CN=sandbox-test-client -keyout client/key.pem -out client.csr 2>/dev/null
        printf 'extendedKeyUsage=clientAuth\\n' > client.ext
        openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 1 \
            -extfile client.ext -out client/cert.pem 2>/dev/null
        cp ca.pem client/ca.pem",
        dir.display()
    ));
}

/// `iptables ACTION …`: accept forwarding within the second daemon's pool (DOCKER-USER
/// when the first daemon made it, else FORWARD).
fn forward_rule(action: &str) -> Vec<String> {
    let docker_user =
        Command::new("iptables").args(["-n", "-L", "DOCKER-USER"]).output().is_ok_and(|o| o.status.success());
    let chain = if docker_user { "DOCKER-USER" } else { "FORWARD" };
    [
        action,
        chain,
        "-s",
        ADDRESS_POOL,
        "-d",
        ADDRESS_POOL,
        "-m",
        "comment",
        "--comment",
        "sandbox-remote-test",
        "-j",
        "ACCEPT",
    ]
    .map(String::from)
    .to_vec()
}

/// The second dockerd, stopped (and its bridge removed) on drop, whatever the test did.
struct SecondDaemon {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
}

impl SecondDaemon {
    fn start(runtimes: serde_json::Value) -> SecondDaemon {
        let dir = tempfile::Builder::new().prefix("sandbox-dockerd-").tempdir().unwrap();
        make_certificates(dir.path());
        // A bridge left by an interrupted earlier run of this test is ours to replace.
        let _ = Command::new("ip").args(["link", "del", BRIDGE]).output();
        sh(&format!(
            "ip link add {BRIDGE} type bridge; ip addr add {BRIDGE_ADDRESS} dev {BRIDGE}; ip link set {BRIDGE} up"
        ));
        let _ = Command::new("iptables").args(forward_rule("-D")).output();
        sh(&format!("iptables {}", forward_rule("-I").join(" ")));
        let config = serde_json::json!({
            "runtimes": runtimes,
            "default-address-pools": [{ "base": ADDRESS_POOL, "size": 24 }],
        });
        std::fs::write(dir.path().join("daemon.json"), config.to_string()).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let path = |name: &str| dir.path().join(name).display().to_string();
        let log = std::fs::File::create(dir.path().join("dockerd.log")).unwrap();
        let child = Command::new("dockerd")
            .args(["--config-file", &path("daemon.json")])
            .args(["--data-root", &path("data"), "--exec-root", &path("exec"), "--pidfile", &path("dockerd.pid")])
            .args(["-H", &format!("unix://{}", path("docker.sock")), "-H", &format!("tcp://127.0.0.1:{port}")])
            .args(["--tlsverify", "--tlscacert", &path("ca.pem")])
            .args(["--tlscert", &path("server-cert.pem"), "--tlskey", &path("server-key.pem")])
            .args([&format!("--bridge={BRIDGE}"), "--iptables=false", "--ip-masq=false"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("dockerd runs");
        SecondDaemon { dir, child, port }
    }

    fn host(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    fn certs(&self) -> PathBuf {
        self.dir.path().join("client")
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint::Tls { host: self.host(), certs: self.certs() }
    }

    fn socket(&self) -> String {
        format!("unix://{}", self.dir.path().join("docker.sock").display())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }
}

impl Drop for SecondDaemon {
    fn drop(&mut self) {
        let managed_containerd = std::fs::read_to_string(self.dir.path().join("exec/containerd/containerd.pid"));
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // The containerd this daemon started under its own exec root, should it outlive it.
        if let Ok(pid) = managed_containerd {
            let _ = Command::new("kill").args(["-KILL", pid.trim()]).stderr(Stdio::null()).status();
        }
        let _ = Command::new("ip").args(["link", "del", BRIDGE]).output();
        let _ = Command::new("iptables").args(forward_rule("-D")).output();
        // Layers stay mounted only while a daemon runs; what cannot be removed stays in /tmp.
        let _ = Command::new("umount").arg("-R").arg(self.dir.path().join("data")).stderr(Stdio::null()).status();
    }
}

/// Containers (running or not) labelled `label` on `engine`'s daemon.
fn containers_on(runtime: &tokio::runtime::Runtime, engine: &Engine, label: &str) -> usize {
    runtime.block_on(engine.list_labelled(label)).unwrap().len()
}

/// The tags `sandbox images list` reports ready for the controller and debian-12.
fn prepared_tags() -> Vec<String> {
    let out = Sandbox::new(["images", "list"]).output();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let tags: Vec<String> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("controller image") || l.starts_with("target image for debian-12 "))
        .filter_map(|l| l.split_whitespace().last().filter(|t| t.contains(':')).map(String::from))
        .collect();
    assert_eq!(tags.len(), 2, "the controller and debian-12 images must be built first:\n{}", out.stdout);
    tags
}

#[test]
// The figures go to the test's output (`--nocapture`): how long the second daemon costs.
#[allow(clippy::print_stderr)]
fn a_run_through_docker_host_with_tls_uses_that_daemon_and_not_the_default_one() {
    for tool in ["dockerd", "openssl", "ip", "docker"] {
        let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().unwrap();
        assert!(found.status.success(), "{tool} is needed for this test (scripts/setup.sh installs it)");
    }
    // One runtime for every engine call: the clients' connections belong to it.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let local = runtime.block_on(Engine::connect(&default_endpoint())).expect("the default daemon answers");
    let runtimes = runtime.block_on(local.runtimes()).unwrap().clone();
    let runsc = runtimes.get("runsc").expect("runsc is registered with the default daemon");
    let registered = serde_json::json!({ "runsc": { "path": runsc.path, "runtimeArgs": runsc.args } });
    let tags = prepared_tags();

    let started = Instant::now();
    let daemon = SecondDaemon::start(registered);
    let deadline = Instant::now() + Duration::from_secs(60);
    let remote = loop {
        match runtime.block_on(Engine::connect(&daemon.endpoint())) {
            Ok(engine) => break engine,
            Err(err) if Instant::now() > deadline => {
                panic!("the second dockerd did not answer: {err:?}\n{}", daemon.log())
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    };
    let up = started.elapsed();

    // The second daemon has no images: the base image and the prepared ones, from the first
    // (the run finds them by their content-hashed tags and builds nothing).
    let images = format!("debian:12 {}", tags.join(" "));
    sh(&format!("docker save {images} | docker -H '{}' load >/dev/null", daemon.socket()));
    let loaded = started.elapsed() - up;

    let fixture = tempfile::Builder::new().prefix("sandbox-remote-").tempdir().unwrap();
    let challenge = fixture.path().join("remote");
    let out = Sandbox::new(["new".to_string(), challenge.display().to_string()]).output();
    assert_eq!(out.code, 0, "{}", out.stderr);

    let state = fixture.path().join("state");
    let mut child = Sandbox::new(["run", &challenge.display().to_string(), "--solution", "--no-pool", "--json"])
        .env("DOCKER_HOST", &daemon.host())
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", &daemon.certs().display().to_string())
        .env("SANDBOX_POOL_NAMESPACE", "ci-remote")
        .env("SANDBOX_STATE_DIR", &state.display().to_string())
        .spawn();
    let lines = lines_of(child.stderr.take().unwrap());
    let (_, seen) = wait_for_line(&lines, "run ", Duration::from_secs(120)).expect("the run announces its id");
    let run = seen.iter().find_map(|l| run_id_in(l)).expect("a run id");
    let label = format!("{}={run}", sandbox::labels::RUN);

    // While it runs, its containers are on the second daemon and none on the default one.
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut on_remote = 0;
    while on_remote == 0 && Instant::now() < deadline && child.try_wait().unwrap().is_none() {
        on_remote = containers_on(&runtime, &remote, &label);
        if on_remote == 0 {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let on_local = labelled(&label);
    let out = finish(child);
    let rest: Vec<String> = lines.try_iter().map(|(_, l)| l).collect();
    assert!(on_remote > 0, "no container of run {run} appeared on the second daemon\n{}", rest.join("\n"));
    assert_eq!(on_local, (0, 0), "run {run} created containers or networks on the default daemon");
    assert_eq!(out.code, 0, "stdout:\n{}\nstderr:\n{}\n{}", out.stdout, seen.join("\n"), rest.join("\n"));
    assert_eq!(out.json()["passed"], true);
    // Cleaned up where it ran, by the teardown the run hands to a process of its own once its
    // verdict is printed (polled, bounded).
    let networks = || {
        let listed = Command::new("docker")
            .args(["-H", &daemon.socket(), "network", "ls", "-q", "--filter", &format!("label={label}")])
            .output()
            .unwrap();
        assert!(listed.status.success());
        listed.stdout.len()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while (containers_on(&runtime, &remote, &label) > 0 || networks() > 0) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(containers_on(&runtime, &remote, &label), 0, "run {run} left containers on the second daemon");
    assert_eq!(networks(), 0, "run {run} left networks on the second daemon");
    eprintln!(
        "second dockerd answered after {:.1}s, images loaded in {:.1}s, run took {:.1}s",
        up.as_secs_f64(),
        loaded.as_secs_f64(),
        started.elapsed().as_secs_f64() - up.as_secs_f64() - loaded.as_secs_f64()
    );
}
