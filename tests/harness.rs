//! A small builder around the built binary and temporary challenge directories.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The engine the tests' `sandbox` reaches: Docker's own variables, else the local socket.
pub fn default_endpoint() -> sandbox::docker::Endpoint {
    sandbox::docker::Endpoint::from_docker_variables(|name| std::env::var(name).ok()).unwrap()
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What a finished command printed and returned.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|err| panic!("stdout is not JSON ({err}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }

    /// Platform `distro` of a `--json` report.
    pub fn platform(&self, distro: &str) -> serde_json::Value {
        let json = self.json();
        json["platforms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["distro"] == distro)
            .unwrap_or_else(|| panic!("no platform {distro} in {json}"))
            .clone()
    }

    /// The run id the binary announced on stderr (`run <id> of …`).
    pub fn run_id(&self) -> String {
        run_id_in(&self.stderr).expect("the run announces its id")
    }
}

pub fn run_id_in(text: &str) -> Option<String> {
    let start = text.find("run ")? + 4;
    let id: String = text[start..].chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    (id.len() == 10).then_some(id)
}

/// `sandbox ARGS…`, with what it must print and exit with (just's `Test` builder): `run()`
/// checks everything in one place, for every test, including that nothing panicked and that
/// nothing of a run it announced is left on the daemon.
#[must_use]
pub struct Sandbox {
    command: Command,
    status: Option<i32>,
    stdout_has: Vec<String>,
    stderr_has: Vec<String>,
}

impl Sandbox {
    pub fn new<I, S>(args: I) -> Sandbox
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sandbox"));
        command.args(args).current_dir(repo()).env("NO_COLOR", "1").env_remove("SANDBOX_RUNTIME");
        Sandbox { command, status: None, stdout_has: Vec::new(), stderr_has: Vec::new() }
    }

    /// The exit code it must end with.
    pub fn status(mut self, code: i32) -> Sandbox {
        self.status = Some(code);
        self
    }

    /// A text stdout must contain.
    pub fn stdout_has(mut self, needle: &str) -> Sandbox {
        self.stdout_has.push(needle.to_string());
        self
    }

    /// A text stderr must contain.
    pub fn stderr_has(mut self, needle: &str) -> Sandbox {
        self.stderr_has.push(needle.to_string());
        self
    }

    /// Runs to the end and checks what was asked (`status`, `stdout_has`, `stderr_has`), that
    /// nothing panicked, and that a run it announced left no container or network.
    pub fn run(self) -> Output {
        let (status, stdout_has, stderr_has) = (self.status, self.stdout_has.clone(), self.stderr_has.clone());
        let out = self.output();
        let context = || format!("stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
        if let Some(code) = status {
            assert_eq!(out.code, code, "exit code; {}", context());
        }
        for needle in &stdout_has {
            assert!(out.stdout.contains(needle.as_str()), "stdout lacks {needle:?}; {}", context());
        }
        for needle in &stderr_has {
            assert!(out.stderr.contains(needle.as_str()), "stderr lacks {needle:?}; {}", context());
        }
        assert!(!out.stderr.contains("panicked"), "{}", context());
        if let Some(run) = run_id_in(&out.stderr) {
            assert_eq!(leftovers(&run), (0, 0), "run {run} left containers or networks; {}", context());
        }
        out
    }

    /// Where it runs (default: the repository).
    pub fn current_dir(mut self, dir: &Path) -> Sandbox {
        self.command.current_dir(dir);
        self
    }

    pub fn env_remove(mut self, key: &str) -> Sandbox {
        self.command.env_remove(key);
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Sandbox {
        self.command.env(key, value);
        self
    }

    pub fn output(mut self) -> Output {
        let out = self.command.output().expect("the sandbox binary runs");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Started with its output piped; the test owns the process (see `Spawned`).
    pub fn spawn(mut self) -> Spawned {
        let child =
            self.command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the sandbox binary runs");
        Spawned { child: Some(child), pools: Vec::new() }
    }
}

/// A `sandbox` process a test started. A test that fails (panics) before it has waited for the
/// process would leave it running, and what it started with it: when dropped, a process still
/// running is interrupted as Ctrl-C would (so it cleans up after itself), killed if that takes
/// too long, and the pools it was said to work in (`owns_pool`) are removed.
pub struct Spawned {
    child: Option<Child>,
    pools: Vec<String>,
}

/// How long an interrupted process may take to clean up before it is killed.
const INTERRUPT_GRACE: Duration = Duration::from_secs(60);

impl Spawned {
    /// The pool namespace the process works in (a watch's own `watch-PID`): removed after it.
    pub fn owns_pool(&mut self, namespace: &str) {
        self.pools.push(namespace.to_string());
    }

    /// The process itself, for a test that waits for it to the end (`wait_with_output`).
    pub fn into_child(mut self) -> Child {
        self.child.take().expect("the process is still owned")
    }
}

impl std::ops::Deref for Spawned {
    type Target = Child;

    fn deref(&self) -> &Child {
        self.child.as_ref().expect("the process is still owned")
    }
}

impl std::ops::DerefMut for Spawned {
    fn deref_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("the process is still owned")
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
                if wait_with_bound(child, INTERRUPT_GRACE).is_none() {
                    let _ = child.wait();
                }
            }
        }
        for namespace in &self.pools {
            remove_pool(namespace);
        }
    }
}

/// A pool namespace and state directory of a test's own, for the `sandbox` processes it runs
/// (`with`). When the test ends, passed or failed, the pool goes with everything it holds
/// (warm containers, the parking network `sandbox-pool-NAME`), and any refill still working
/// for it is ended first.
pub struct TestPoolNamespace {
    pub name: String,
    state: tempfile::TempDir,
}

impl TestPoolNamespace {
    /// `PREFIX-PID`: no other test process, and no developer's pool, shares it.
    pub fn new(prefix: &str) -> TestPoolNamespace {
        let name = format!("{prefix}-{}", std::process::id());
        TestPoolNamespace { name, state: tempfile::tempdir().unwrap() }
    }

    /// `sandbox` working in this pool and state directory.
    pub fn with(&self, sandbox: Sandbox) -> Sandbox {
        sandbox
            .env("SANDBOX_STATE_DIR", &self.state.path().display().to_string())
            .env("SANDBOX_POOL_NAMESPACE", &self.name)
    }
}

impl Drop for TestPoolNamespace {
    fn drop(&mut self) {
        remove_pool(&self.name);
    }
}

/// Ends the processes still working for pool `namespace` (a refill a run handed off, detached
/// from the test), then removes what carries the pool's label. Best effort, and silent: it runs
/// while a failed test unwinds.
pub fn remove_pool(namespace: &str) {
    for pid in processes_of_pool(namespace) {
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    }
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
    runtime.block_on(async {
        if let Ok(engine) = sandbox::docker::Engine::connect(&default_endpoint()).await {
            let _ = engine.remove_labelled(&format!("{}={namespace}", sandbox::labels::POOL)).await;
        }
    });
}

/// `sandbox` processes working for pool `namespace`: told so by `--namespace` (a refill) or by
/// `SANDBOX_POOL_NAMESPACE`. The namespace ends in the test process's id, so nobody else's match.
fn processes_of_pool(namespace: &str) -> Vec<u32> {
    let by_argument = format!("\0--namespace\0{namespace}\0");
    let by_variable = format!("\0SANDBOX_POOL_NAMESPACE={namespace}\0");
    let read = |pid: &str, file: &str| std::fs::read(format!("/proc/{pid}/{file}")).unwrap_or_default();
    let has = |bytes: Vec<u8>, needle: &str| {
        let text = [b"\0".as_slice(), &bytes].concat();
        String::from_utf8_lossy(&text).contains(needle)
    };
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != std::process::id())
        .filter(|pid| {
            let pid = pid.to_string();
            has(read(&pid, "cmdline"), &by_argument) || has(read(&pid, "environ"), &by_variable)
        })
        .collect()
}

/// Reads a child's stream line by line on a thread; lines arrive with the instant they did.
pub fn lines_of(stream: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<(Instant, String)> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if sender.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    receiver
}

/// Waits (bounded) for a line containing `needle`; returns every line read so far.
pub fn wait_for_line(
    lines: &std::sync::mpsc::Receiver<(Instant, String)>,
    needle: &str,
    bound: Duration,
) -> Option<(Instant, Vec<String>)> {
    let deadline = Instant::now() + bound;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok((at, line)) => {
                let found = line.contains(needle);
                seen.push(line);
                if found {
                    return Some((at, seen));
                }
            }
            Err(_) => return None,
        }
    }
    None
}

/// Waits (bounded) for a child to exit.
pub fn wait_with_bound(child: &mut Child, bound: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + bound;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A challenge in a temporary directory.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

pub const PASSING_CHECK: &str = "#!/bin/sh\necho checked\n";

/// A Docker fixture's app: perl-base only, `hello` on 8080, exits on SIGTERM.
pub const DOCKER_APP: &str = r#"use IO::Socket::INET;
$SIG{TERM} = sub { exit 0 };
my $server = IO::Socket::INET->new(LocalAddr => "0.0.0.0:8080", Listen => 5, ReuseAddr => 1) or die "listen: $!";
while (my $client = $server->accept) {
    <$client>;
    print $client "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello\n";
    close $client;
}
"#;

impl Fixture {
    /// A challenge with the given manifest, starter playbook and check; the solution is the
    /// starter unless written separately.
    pub fn new(manifest: &str, playbook: &str, check: &str) -> Fixture {
        let dir = tempfile::Builder::new().prefix("sandbox-fixture-").tempdir().unwrap();
        let fixture = Fixture { dir };
        fixture.write("challenge.toml", manifest);
        fixture.write("playbook.yml", playbook);
        fixture.write("solution/playbook.yml", playbook);
        fixture.write("check.sh", check);
        fixture.chmod("check.sh", 0o755);
        fixture
    }

    /// A Docker challenge: the manifest after `track = "docker"`, the learner's Dockerfile
    /// (also the solution), an app context with `server.pl`, and a passing check.sh.
    pub fn docker(manifest: &str, dockerfile: &str) -> Fixture {
        let dir = tempfile::Builder::new().prefix("sandbox-docker-fixture-").tempdir().unwrap();
        let fixture = Fixture { dir };
        fixture.write("challenge.toml", &format!("track = \"docker\"\ntitle = \"fixture\"\n{manifest}"));
        fixture.write("Dockerfile", dockerfile);
        fixture.write("solution/Dockerfile", dockerfile);
        fixture.write("app/server.pl", DOCKER_APP);
        fixture.write("check.sh", "#!/bin/bash\necho checked\n");
        fixture.chmod("check.sh", 0o755);
        fixture
    }

    /// A one-distro challenge on debian-12 with a passing check.
    pub fn debian12(playbook: &str) -> Fixture {
        Fixture::new("title = \"fixture\"\ndistros = [\"debian-12\"]\n", playbook, PASSING_CHECK)
    }

    pub fn write(&self, relative: &str, contents: &str) {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    pub fn chmod(&self, relative: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(self.dir.path().join(relative), std::fs::Permissions::from_mode(mode)).unwrap();
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn path_str(&self) -> String {
        self.dir.path().display().to_string()
    }
}

/// What is left of a run that ended: its containers and networks (see `present`), polled
/// until none is left or a bound passes. `sandbox run` leaves its teardown to a process of
/// its own once the verdict is printed, so "ended" means a moment after it exited.
pub fn leftovers(run: &str) -> (usize, usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = present(run);
        if left == (0, 0) || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Containers and networks carrying the run's label now, asked of Docker through bollard; on
/// the builder too (a Docker challenge's containers and image tags live there).
pub fn present(run: &str) -> (usize, usize) {
    let (containers, networks) = labelled(&format!("io.sandbox.run={run}"));
    let (on_builder, tags) = builder_leftovers(run);
    (containers + on_builder + tags, networks)
}

pub const BUILDER_SOCKET: &str = "/run/sandbox/builder.sock";

/// The builder's containers labelled with the run, and its images tagged or labelled for it.
pub fn builder_leftovers(run: &str) -> (usize, usize) {
    use bollard::query_parameters::ListImagesOptionsBuilder;
    if !Path::new(BUILDER_SOCKET).exists() {
        return (0, 0);
    }
    on_builder(|docker| async move {
        let containers = builder_containers(&docker, run).await;
        let label = HashMap::from([("label".to_string(), vec![format!("io.sandbox.run={run}")])]);
        let reference = HashMap::from([("reference".to_string(), vec![format!("sandbox-image-{run}")])]);
        let images =
            docker.list_images(Some(ListImagesOptionsBuilder::default().filters(&reference).build())).await.unwrap();
        // Images a run committed (structure tests' setup commands) carry its label.
        let committed =
            docker.list_images(Some(ListImagesOptionsBuilder::default().filters(&label).build())).await.unwrap();
        (containers.len(), images.len() + committed.len())
    })
}

/// The latest deadline label on the builder's containers of `run`, if it has any.
pub fn builder_deadline(run: &str) -> Option<u64> {
    let containers = on_builder(|docker| async move { builder_containers(&docker, run).await });
    containers.iter().filter_map(|c| c.labels.as_ref()?.get("io.sandbox.deadline")?.parse().ok()).max()
}

/// `work` with a client of the builder's daemon.
fn on_builder<T, F: std::future::Future<Output = T>>(work: impl FnOnce(bollard::Docker) -> F) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let docker = bollard::Docker::connect_with_unix(BUILDER_SOCKET, 120, bollard::API_DEFAULT_VERSION).unwrap();
        work(docker.negotiate_version().await.unwrap()).await
    })
}

/// The builder's containers labelled with `run`.
async fn builder_containers(docker: &bollard::Docker, run: &str) -> Vec<bollard::models::ContainerSummary> {
    use bollard::query_parameters::ListContainersOptionsBuilder;
    let label = HashMap::from([("label".to_string(), vec![format!("io.sandbox.run={run}")])]);
    let options = ListContainersOptionsBuilder::default().all(true).filters(&label).build();
    docker.list_containers(Some(options)).await.unwrap()
}

/// Whether the builder still has container `id` (a build step's).
pub fn builder_has_container(id: &str) -> bool {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let docker = bollard::Docker::connect_with_unix(BUILDER_SOCKET, 120, bollard::API_DEFAULT_VERSION).unwrap();
        let docker = docker.negotiate_version().await.unwrap();
        docker.inspect_container(id, None).await.is_ok()
    })
}

/// Containers and networks carrying `label` (`key=value`).
pub fn labelled(label: &str) -> (usize, usize) {
    use bollard::query_parameters::{ListContainersOptionsBuilder, ListNetworksOptionsBuilder};
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let docker = bollard::Docker::connect_with_local_defaults().unwrap().negotiate_version().await.unwrap();
        let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
        let containers = docker
            .list_containers(Some(ListContainersOptionsBuilder::default().all(true).filters(&filters).build()))
            .await
            .unwrap();
        let networks =
            docker.list_networks(Some(ListNetworksOptionsBuilder::default().filters(&filters).build())).await.unwrap();
        (containers.len(), networks.len())
    })
}

/// Waits until an attempt with `deadline` (Unix seconds) is past the sweep's grace
/// (`lifecycle::SWEEP_GRACE`): from then on a later attempt removes what it left.
pub fn wait_past_grace(deadline: u64) {
    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    while now() <= deadline + sandbox::lifecycle::SWEEP_GRACE.as_secs() + 1 {
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Names of the containers whose name starts with `prefix`.
pub fn names_with_prefix(prefix: &str) -> Vec<String> {
    use bollard::query_parameters::ListContainersOptionsBuilder;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let docker = bollard::Docker::connect_with_local_defaults().unwrap().negotiate_version().await.unwrap();
        let filters = HashMap::from([("name".to_string(), vec![prefix.to_string()])]);
        let options = ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
        let containers = docker.list_containers(Some(options)).await.unwrap();
        containers
            .into_iter()
            .flat_map(|c| c.names.unwrap_or_default())
            .map(|n| n.trim_start_matches('/').to_string())
            .filter(|name| name.starts_with(prefix))
            .collect()
    })
}

/// Removes what a run left, with the product's own engine wrapper.
pub fn remove_run(run: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let engine = sandbox::docker::Engine::connect(&default_endpoint()).await.unwrap();
        engine.remove_labelled(&format!("{}={run}", sandbox::labels::RUN)).await.unwrap();
    });
}

/// Waits for a spawned run to end and collects what it printed.
pub fn finish(child: Spawned) -> Output {
    let out = child.into_child().wait_with_output().expect("the sandbox binary ran");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
