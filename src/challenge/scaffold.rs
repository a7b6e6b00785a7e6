//! `sandbox new NAME`: a challenge that passes `lint` and whose solution passes `test` as
//! written, so an author starts from something green and changes one thing at a time.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use miette::Diagnostic;

use crate::distro::{Catalog, Distro};

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum ScaffoldError {
    #[error("{} already exists", dir.display())]
    #[diagnostic(code(sandbox::new::exists), help("pick another name, or remove the directory first"))]
    Exists { dir: PathBuf },

    #[error("unknown distro `{name}`")]
    #[diagnostic(code(sandbox::new::unknown_distro), help("supported distros: {supported}"))]
    UnknownDistro { name: String, supported: String },

    #[error("a Docker challenge cannot have a goss file")]
    #[diagnostic(
        code(sandbox::new::goss_for_docker),
        help("goss checks Ansible targets; a Docker challenge's checks are `[checks]` keys or a container-structure-test file")
    )]
    GossForDocker,

    #[error("cannot write {}", path.display())]
    #[diagnostic(code(sandbox::new::io))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Creates the challenge directory `dir` for `distros` of `catalog` (default debian-12), a
/// Docker challenge when `docker` (its distros: the base images it may build from), an
/// Ansible one checked by a goss file instead of check.sh when `goss`.
pub fn create(
    dir: &Path,
    distro_names: &[String],
    catalog: &Catalog,
    docker: bool,
    goss: bool,
) -> Result<(), ScaffoldError> {
    if docker && goss {
        return Err(ScaffoldError::GossForDocker);
    }
    if dir.exists() {
        return Err(ScaffoldError::Exists { dir: dir.to_path_buf() });
    }
    let mut distros: Vec<&'static Distro> = Vec::new();
    for name in distro_names {
        let found = catalog.find(name).ok_or_else(|| ScaffoldError::UnknownDistro {
            name: name.clone(),
            supported: catalog.names().join(", "),
        })?;
        if !distros.contains(&found) {
            distros.push(found);
        }
    }
    if distros.is_empty() && !docker {
        distros.push(crate::distro::builtin("debian-12").expect("debian-12 is in the catalog"));
    }
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "challenge".into());
    let title = title_of(&name);
    let distro_list = distros.iter().map(|d| format!("\"{}\"", d.name)).collect::<Vec<_>>().join(", ");
    let files = match (docker, goss) {
        (true, _) => docker_files(&title, &name, &distro_list),
        (false, false) => ansible_files(&title, &name, &distro_list),
        (false, true) => goss_files(&title, &name, &distro_list),
    };
    write_all(dir, files)
}

fn ansible_files(title: &str, name: &str, distro_list: &str) -> Vec<(&'static str, String, u32)> {
    vec![
        ("challenge.toml", manifest(title, distro_list), 0o644),
        ("README.md", readme(title, name), 0o644),
        ("playbook.yml", STARTER.to_string(), 0o644),
        ("solution/playbook.yml", SOLUTION.to_string(), 0o644),
        ("check.sh", CHECK.to_string(), 0o755),
    ]
}

/// An Ansible challenge checked by a goss file: the same task, its checks as data.
fn goss_files(title: &str, name: &str, distro_list: &str) -> Vec<(&'static str, String, u32)> {
    let manifest = manifest(title, distro_list).replace("# check = \"check.sh\"\n", "") + GOSS_MANIFEST;
    vec![
        ("challenge.toml", manifest, 0o644),
        ("README.md", readme(title, name), 0o644),
        ("playbook.yml", STARTER.to_string(), 0o644),
        ("solution/playbook.yml", SOLUTION.to_string(), 0o644),
        ("goss.yaml", GOSS.to_string(), 0o644),
    ]
}

const GOSS_MANIFEST: &str = "
# goss validates each target after each pass: each assertion is a named check in the
# report. A check.sh beside it (logic goss cannot express) also runs; both must pass.
[checks]
goss = \"goss.yaml\"

# Shown with a failed assertion of that resource (`type:id`).
[checks.hints]
\"file:/etc/motd\" = \"ansible.builtin.copy writes it: `dest: /etc/motd`, `content:`, `owner: root`, `mode: \\\"0644\\\"`.\"
";

const GOSS: &str = "# Validated by goss inside each target after each pass (https://goss.readthedocs.io).
# {{ .Env.SANDBOX_DISTRO }} and {{ .Env.SANDBOX_PASS }} (or .Vars.distro, .Vars.pass) are
# there for templates. `sandbox goss-add DIR` drafts assertions from the solution's target.
file:
  /etc/motd:
    exists: true
    owner: root
    mode: \"0644\"
    contents:
      - \"/^Welcome to the challenge$/\"
";

/// A Docker challenge whose starter runs as root and whose solution does not.
fn docker_files(title: &str, name: &str, distro_list: &str) -> Vec<(&'static str, String, u32)> {
    let distros = if distro_list.is_empty() { String::new() } else { format!("distros = [{distro_list}]\n") };
    vec![
        ("challenge.toml", docker_manifest(title, &distros), 0o644),
        ("README.md", docker_readme(title, name), 0o644),
        ("Dockerfile", DOCKER_STARTER.to_string(), 0o644),
        ("solution/Dockerfile", DOCKER_SOLUTION.to_string(), 0o644),
        ("app/server.pl", DOCKER_APP.replace("NAME", name), 0o644),
        ("check.sh", DOCKER_CHECK.replace("NAME", name), 0o755),
    ]
}

fn write_all(dir: &Path, files: Vec<(&'static str, String, u32)>) -> Result<(), ScaffoldError> {
    for (relative, contents, mode) in files {
        let path = dir.join(relative);
        let io = |source| ScaffoldError::Io { path: path.clone(), source };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&path, contents).map_err(io)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).map_err(io)?;
    }
    Ok(())
}

/// `log-rotation` → `Log rotation`.
fn title_of(name: &str) -> String {
    let words = name.replace(['-', '_'], " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "Challenge".into(),
    }
}

fn manifest(title: &str, distros: &str) -> String {
    format!(
        "title = \"{title}\"\n\
         topic = \"files\"\n\
         difficulty = \"easy\"\n\
         # Shown one at a time by `sandbox hint`: a nudge first, the last close to the answer.\n\
         hints = [\n\
         \x20   \"Which module writes a file with the content you give it?\",\n\
         \x20   \"ansible.builtin.copy with `dest: /etc/motd`, `content:`, `owner: root` and `mode: \\\"0644\\\"`.\",\n\
         ]\n\
         distros = [{distros}]\n\
         \n\
         # Optional; the defaults are shown.\n\
         # playbook = \"playbook.yml\"\n\
         # solution = \"solution/playbook.yml\"\n\
         # check = \"check.sh\"\n\
         \n\
         [run]\n\
         timeout = \"10m\"\n\
         # idempotent = true      # pass 2 must change nothing\n\
         # network = \"egress\"     # or \"none\": no route out\n\
         \n\
         # [limits]\n\
         # memory = \"1536m\"\n\
         # cpus = 2.0\n\
         # pids = 256\n"
    )
}

fn readme(title: &str, name: &str) -> String {
    format!(
        "# {title}\n\
         \n\
         Describe the goal here: what the learner's playbook must leave on each target.\n\
         \n\
         ## Requirements\n\
         \n\
         1. `/etc/motd` contains exactly the line `Welcome to {name}` (owner `root`, mode `0644`).\n\
         \n\
         ## Hints\n\
         \n\
         - `ansible.builtin.copy`\n\
         \n\
         Run it with `sandbox run {name}`; `sandbox test {name}` proves the reference solution\n\
         passes and the starter does not.\n"
    )
}

fn docker_manifest(title: &str, distros: &str) -> String {
    format!(
        "track = \"docker\"\n\
         title = \"{title}\"\n\
         topic = \"USER\"\n\
         difficulty = \"easy\"\n\
         # Shown one at a time by `sandbox hint`: a nudge first, the last close to the answer.\n\
         hints = [\n\
         \x20   \"Which user does the app run as when the Dockerfile does not say?\",\n\
         \x20   \"`RUN useradd --system --no-create-home app`, then `USER app` before CMD.\",\n\
         ]\n\
         {distros}\
         \n\
         # Optional; the defaults are shown.\n\
         # dockerfile = \"Dockerfile\"\n\
         # solution = \"solution/Dockerfile\"\n\
         # check = \"check.sh\"\n\
         \n\
         [image]\n\
         context = \"app\"\n\
         touch = \"app/server.pl\"   # changed before the second build\n\
         port = 8080\n\
         \n\
         [checks]\n\
         http = {{ path = \"/\", status = 200, body = \"hello\" }}\n\
         non_root = true\n\
         # healthy_within = \"20s\"\n\
         # max_size = \"150MB\"\n\
         # max_layers = 12\n\
         # secrets = [\"a-token-the-context-holds\"]\n\
         # stops_within = \"5s\"\n\
         # cached = [\"install\"]\n\
         \n\
         [checks.hints]\n\
         non_root = \"add a user with useradd and switch to it with USER before CMD\"\n"
    )
}

fn docker_readme(title: &str, name: &str) -> String {
    format!(
        "# {title}\n\
         \n\
         Describe the goal here: what the learner's Dockerfile must build.\n\
         \n\
         ## Requirements\n\
         \n\
         1. The app (`app/server.pl`) answers `GET /` on port 8080.\n\
         2. Its process does not run as root.\n\
         \n\
         Builds have no network and start from the local base images (`debian:12` …).\n\
         \n\
         Run it with `sandbox run {name}`; `sandbox test {name}` proves the reference solution\n\
         passes and the starter does not.\n"
    )
}

const DOCKER_STARTER: &str = "# Starter: it builds and answers, but runs as root. Edit me.
FROM debian:12
COPY server.pl /app/server.pl
EXPOSE 8080
CMD [\"perl\", \"/app/server.pl\"]
";

const DOCKER_SOLUTION: &str = "FROM debian:12
RUN useradd --system --no-create-home app
COPY server.pl /app/server.pl
USER app
EXPOSE 8080
CMD [\"perl\", \"/app/server.pl\"]
";

const DOCKER_APP: &str = "# A tiny HTTP server with perl-base only (the base images have no python or curl).
use IO::Socket::INET;
$SIG{TERM} = sub { exit 0 };
my $server = IO::Socket::INET->new(LocalAddr => '0.0.0.0:8080', Listen => 5, ReuseAddr => 1) or die \"listen: $!\";
while (my $client = $server->accept) {
    while (my $line = <$client>) { last if $line =~ /^\\r?$/ }
    print $client \"HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\nhello from NAME\\n\";
    close $client;
}
";

const DOCKER_CHECK: &str = "#!/bin/bash
# Runs in a probe beside the app after each build: 127.0.0.1:$APP_PORT is the app.
# `http PATH` prints the raw answer (status line, headers, body).
answer=$(http /) || { echo \"FAIL: nothing answers on port $APP_PORT\"; exit 1; }
grep -q 'hello from NAME' <<<\"$answer\" || { echo \"FAIL: GET / did not say hello: $answer\"; exit 1; }
echo \"ok: the app answers\"
";

const STARTER: &str = "---
# Starter: it runs, but it does not solve the task yet. Edit me.
- name: Challenge
  hosts: all
  tasks:
    - name: Say what is to be done
      ansible.builtin.debug:
        msg: \"Write /etc/motd (see README.md)\"
";

const SOLUTION: &str = "---
- name: Challenge
  hosts: all
  tasks:
    - name: Write the message of the day
      ansible.builtin.copy:
        dest: /etc/motd
        content: \"Welcome to the challenge\\n\"
        owner: root
        group: root
        mode: \"0644\"
";

const CHECK: &str = "#!/bin/sh
# Runs as root inside each target after each pass. One line per failed requirement.
status=0
fail() { echo \"FAIL: $*\"; status=1; }

[ \"$(cat /etc/motd 2>/dev/null)\" = \"Welcome to the challenge\" ] || fail \"/etc/motd does not say 'Welcome to the challenge'\"
[ \"$(stat -c '%U %a' /etc/motd 2>/dev/null)\" = \"root 644\" ] || fail \"/etc/motd must be owned by root with mode 0644\"

[ $status -eq 0 ] && echo \"ok: /etc/motd is in place\"
exit $status
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::challenge::{Allowed, Challenge};

    #[test]
    fn the_scaffold_loads_and_lints_clean() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("log-rotation");
        create(&dir, &["debian-12".into(), "debian-13".into()], &Catalog::builtin(), false, false).unwrap();
        let challenge = Challenge::load(&dir, &Allowed::default()).unwrap();
        assert_eq!(challenge.title, "Log rotation");
        assert_eq!(challenge.distros.len(), 2);
        let findings = crate::challenge::lint::lint(&dir, &Allowed::default());
        assert!(findings.is_empty(), "{findings:?}");
    }

    #[test]
    fn the_goss_scaffold_loads_and_lints_clean_without_check_sh() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("motd");
        create(&dir, &[], &Catalog::builtin(), false, true).unwrap();
        let challenge = Challenge::load(&dir, &Allowed::default()).unwrap();
        assert_eq!(challenge.check, None);
        let goss = challenge.goss.expect("a goss file");
        assert!(goss.parsed.has("file", "/etc/motd"));
        assert!(goss.hints.contains_key("file:/etc/motd"), "{:?}", goss.hints);
        let findings = crate::challenge::lint::lint(&dir, &Allowed::default());
        assert!(findings.is_empty(), "{findings:?}");
        assert!(matches!(
            create(&root.path().join("d"), &[], &Catalog::builtin(), true, true),
            Err(ScaffoldError::GossForDocker)
        ));
    }

    #[test]
    fn the_docker_scaffold_loads_and_lints_clean() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("non-root-app");
        create(&dir, &[], &Catalog::builtin(), true, false).unwrap();
        let challenge = Challenge::load(&dir, &Allowed::default()).unwrap();
        assert_eq!(challenge.track.kind(), crate::challenge::TrackKind::Docker);
        let findings = crate::challenge::lint::lint(&dir, &Allowed::default());
        assert!(findings.is_empty(), "{findings:?}");
    }

    #[test]
    fn an_existing_directory_is_never_overwritten() {
        let root = tempfile::tempdir().unwrap();
        assert!(matches!(
            create(root.path(), &[], &Catalog::builtin(), false, false),
            Err(ScaffoldError::Exists { .. })
        ));
    }

    #[test]
    fn unknown_distros_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let result = create(&root.path().join("x"), &["fedora-40".into()], &Catalog::builtin(), false, false);
        assert!(matches!(result, Err(ScaffoldError::UnknownDistro { .. })));
    }
}
