//! Command-line interface. The `///` comments are the `--help` text.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::challenge::{ServicesMode, Strategy, TrackKind};
use crate::suite::select::Partition;
use crate::units;

#[derive(Debug, Parser)]
#[command(name = "sandbox", version, about = "Run hands-on Ansible challenges in hardened gVisor containers")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a challenge's playbook twice on every platform and verify it after each pass
    Run(RunArgs),
    /// Prove challenges: each solution must pass on every platform and each starter must fail
    Test(TestArgs),
    /// Check challenges without Docker: manifest, files, check.sh, playbooks
    Lint(LintArgs),
    /// Scaffold a new challenge that passes `lint` and `test` as written
    New(NewArgs),
    /// Run a challenge's playbook once, then open a shell in a target; removed on exit
    Shell(ShellArgs),
    /// Apply the reference solution once, then write a goss file describing what it set up
    /// (the packages, services, users, groups and files its tasks name) for you to edit
    DraftGoss(DraftGossArgs),
    /// Run the challenge again whenever one of its files changes, on warm targets; Ctrl-C
    /// removes everything
    Watch(WatchArgs),
    /// Keep warm targets between runs: up, status, down
    #[command(subcommand)]
    Pool(PoolCommand),
    /// List the library's challenges with your progress: new, attempted, solved
    List(ListArgs),
    /// Copy a challenge into a workspace of your own (without its solution) and say what next
    Start(StartArgs),
    /// Print a challenge's task
    Show(TargetArgs),
    /// Print a challenge's next hint (one more each time)
    Hint(TargetArgs),
    /// Put a workspace's starter files back (your edits are discarded)
    Reset(ResetArgs),
    /// Check that Docker, the runtime and the images are ready
    Doctor(DoctorArgs),
    /// Build or list the prepared images
    #[command(subcommand)]
    Images(ImagesCommand),
    /// Print shell completions
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
}

impl Command {
    /// Whether the command writes JSON on stdout (`--json`): everything else then goes to stderr.
    pub fn json_on_stdout(&self) -> bool {
        match self {
            Command::Run(args) => args.json,
            Command::Test(args) => args.json,
            Command::List(args) => args.json,
            _ => false,
        }
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A challenge's name in the library, or a workspace or challenge directory
    pub dir: PathBuf,
    #[command(flatten)]
    pub setup: RunSetup,
    #[command(flatten)]
    pub scope: RunScope,
    /// Print a JSON report on stdout (live output moves to stderr)
    #[arg(long)]
    pub json: bool,
    /// Print the Ansible inventory the run uses
    #[arg(long)]
    pub show_inventory: bool,
    /// Print where the run's time went, phase by phase (JSON always has `timings`)
    #[arg(long)]
    pub timings: bool,
}

/// What `run` and `shell` share: which playbook, and how the targets are made.
#[derive(Debug, Default, Args)]
pub struct RunSetup {
    /// Apply the reference solution instead of the starter playbook
    #[arg(long, conflicts_with = "playbook")]
    pub solution: bool,
    /// Apply this playbook instead of the starter (relative paths resolve in the challenge)
    #[arg(long, value_name = "FILE")]
    pub playbook: Option<PathBuf>,
    /// Container runtime (default: the config's, else runsc); anything but runsc weakens
    /// isolation and says so
    #[arg(long, env = "SANDBOX_RUNTIME")]
    pub runtime: Option<String>,
    /// Override the challenge's services mode: mock, supervised or systemd
    #[arg(long, value_enum, value_name = "MODE")]
    pub services: Option<ServicesMode>,
    /// Override the challenge's Ansible strategy (default mitogen: Mitogen's accelerated
    /// linear; linear: Ansible's own)
    #[arg(long, value_enum, value_name = "STRATEGY")]
    pub strategy: Option<Strategy>,
    /// No route out: the challenge's prepared packages are the only package source
    #[arg(long)]
    pub offline: bool,
    /// Start every target cold even when `sandbox pool up` keeps warm ones
    #[arg(long)]
    pub no_pool: bool,
    /// Ansible's verbosity, passed to ansible-playbook (-v, -vv, -vvv)
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Show what changed tasks change in both passes (ansible-playbook --diff; pass 2 always
    /// shows it)
    #[arg(long)]
    pub diff: bool,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Challenge directories, or directories holding challenges (default: ./challenges)
    pub dirs: Vec<PathBuf>,
    /// Runs at a time (default: what the machine's cores and memory allow)
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
    /// Write a JUnit XML report here (one testsuite per challenge)
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Print a JSON report on stdout (progress moves to stderr)
    #[arg(long)]
    pub json: bool,
    /// Container runtime (default: the config's, else runsc)
    #[arg(long, env = "SANDBOX_RUNTIME")]
    pub runtime: Option<String>,
    /// Run only share K of N, for CI shards (a matrix job, GitLab's `parallel:`). `K/N`
    /// balances the shares by --durations when given, else by count; `hash:K/N` places each
    /// challenge by a hash of its id, so it keeps its share as others come and go. The same
    /// tree gives the same shares on every machine; the N shares together are every challenge
    #[arg(long, value_name = "K/N")]
    pub partition: Option<Partition>,
    /// Durations of an earlier run to balance --partition K/N by: a --save-durations file,
    /// or the --json report or --junit file of that run (missing: balanced by count)
    #[arg(long, value_name = "FILE", requires = "partition")]
    pub durations: Option<PathBuf>,
    /// After the run, write each challenge's duration here (merged into the file when it
    /// exists, so shards can share one), for a later --durations
    #[arg(long, value_name = "FILE")]
    pub save_durations: Option<PathBuf>,
    /// Only the challenges whose files changed between REF and the work tree (per `git`:
    /// committed, staged, unstaged, untracked), or every challenge when a file they all depend
    /// on changed: mocks/, src/images/ and scripts/setup.sh (sandbox's own image inputs), any
    /// roles/ directory outside a challenge, and each --shared path. Other files (README,
    /// CI files) select nothing. Prints what it selected and why
    #[arg(long, value_name = "REF")]
    pub changed_since: Option<String>,
    /// With --changed-since: a change under PATH selects every challenge (repeatable)
    #[arg(long, value_name = "PATH", requires = "changed_since")]
    pub shared: Vec<PathBuf>,
    /// Print the selected challenges' directories, one a line (with --json, the selection
    /// and why), and run nothing: no Docker needed
    #[arg(long)]
    pub list: bool,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Challenge directories, or directories holding challenges (default: ./challenges)
    pub dirs: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// Directory to create; its name becomes the challenge's id and title
    pub name: PathBuf,
    /// Platforms (repeatable; default debian-12); for a Docker challenge, the base images
    /// its Dockerfile may use (default: every one)
    #[arg(long = "distro", value_name = "NAME")]
    pub distros: Vec<String>,
    /// What the learner writes: a playbook (ansible) or a Dockerfile (docker)
    #[arg(long, value_enum, default_value = "ansible")]
    pub track: TrackKind,
    /// How an Ansible challenge checks its targets: a check.sh script, or a goss file
    /// (assertions as data, each a named check in the report)
    #[arg(long, value_enum, default_value = "script")]
    pub checks: CheckStyle,
}

/// How `sandbox new` scaffolds an Ansible challenge's checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckStyle {
    /// check.sh, one FAIL line per unmet requirement
    Script,
    /// goss.yaml, named by `[checks] goss`
    Goss,
}

#[derive(Debug, Args)]
pub struct ShellArgs {
    /// The challenge directory (holds challenge.toml)
    pub dir: PathBuf,
    /// The target to open the shell in (default: the challenge's first distro)
    #[arg(long, value_name = "NAME")]
    pub distro: Option<String>,
    #[command(flatten)]
    pub setup: RunSetup,
}

#[derive(Debug, Args)]
pub struct DraftGossArgs {
    /// The challenge directory (holds challenge.toml)
    pub dir: PathBuf,
    /// The target to describe (default: the challenge's first distro)
    #[arg(long, value_name = "NAME")]
    pub distro: Option<String>,
    /// Where to write the draft (default: goss.yaml in the challenge); never overwritten
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub setup: RunSetup,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// A challenge's name in the library, or a workspace or challenge directory
    pub dir: PathBuf,
    #[command(flatten)]
    pub setup: RunSetup,
    #[command(flatten)]
    pub scope: RunScope,
}

/// What `run` and `watch` narrow: which platforms, and for how long.
#[derive(Debug, Args)]
pub struct RunScope {
    /// Only these platforms (repeatable); catalog names such as debian-12
    #[arg(long = "distro", value_name = "NAME")]
    pub distros: Vec<String>,
    /// Override the challenge's timeout (e.g. 90s, 10m)
    #[arg(long, value_name = "DURATION", value_parser = units::parse_duration)]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print a JSON array on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// The challenge's name in the library (`sandbox list`)
    pub name: String,
    /// Where to make the workspace (default: ./NAME); it must not exist
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// A challenge named by its library name, or a workspace or challenge directory.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// A challenge's name, or a workspace or challenge directory
    pub target: PathBuf,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// The workspace (its directory, or the challenge's name for ./NAME)
    pub target: PathBuf,
    /// Do not ask: discard the edits
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The runtime to check (default: the config's, else runsc)
    #[arg(long, env = "SANDBOX_RUNTIME")]
    pub runtime: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum PoolCommand {
    /// Start warm targets and keep them (default: 2 each for debian-12, ubuntu-22.04 and
    /// rocky-9 where their images exist, or the config's [pool])
    Up {
        /// Warm targets per distro (with --challenge: warm sets, default 1)
        #[arg(long, value_name = "N")]
        size: Option<usize>,
        /// Only these distros (repeatable)
        #[arg(long = "distro", value_name = "NAME")]
        distros: Vec<String>,
        /// Keep whole attempts of this challenge warm (its targets and a controller,
        /// connected, Ansible loaded): a run of it then only does the learner's work
        #[arg(long, value_name = "NAME|DIR")]
        challenge: Option<PathBuf>,
        /// Container runtime (default: the config's, else runsc)
        #[arg(long, env = "SANDBOX_RUNTIME")]
        runtime: Option<String>,
    },
    /// Ready, warming and target per distro
    Status,
    /// Remove every idle warm target
    Down,
    /// Remove what a run leaves, then warm its replacements (what a run hands over once its
    /// verdict is known)
    #[command(hide = true)]
    Teardown(TeardownArgs),
    /// Warm replacements for one kind up to the pool's size (what a run hands over when it
    /// took warm containers), or for one recipe of warm sets
    #[command(hide = true)]
    Refill {
        /// `controller` or a distro's catalog name
        #[arg(long, required_unless_present = "set", requires = "image")]
        kind: Option<String>,
        /// The image the replacements are made from
        #[arg(long)]
        image: Option<String>,
        /// A recipe of warm sets (its id in the pool's registry)
        #[arg(long, conflicts_with = "kind")]
        set: Option<String>,
        /// The pool's namespace (default: the CLI's)
        #[arg(long)]
        namespace: Option<String>,
        #[arg(long, env = "SANDBOX_RUNTIME")]
        runtime: Option<String>,
    },
}

/// What a run hands over once its verdict is known (`sandbox pool teardown`).
#[derive(Debug, Args)]
pub struct TeardownArgs {
    /// A container claimed from the pool (repeatable)
    #[arg(long = "container", value_name = "ID")]
    pub containers: Vec<String>,
    /// Everything carrying this label (repeatable)
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Warm a replacement set of this recipe afterwards
    #[arg(long, value_name = "RECIPE")]
    pub refill_set: Option<String>,
    /// Warm a replacement of this kind from this image afterwards (repeatable)
    #[arg(long = "refill", value_name = "KIND=IMAGE")]
    pub refills: Vec<String>,
    /// The pool's namespace (default: the CLI's)
    #[arg(long)]
    pub namespace: Option<String>,
    #[arg(long, env = "SANDBOX_RUNTIME")]
    pub runtime: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// Build prepared images (target per distro, and the controller); all available by default
    Build {
        /// Catalog names; default: every distro whose base image is present
        distros: Vec<String>,
    },
    /// Show which base and prepared images exist
    List,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl Shell {
    pub fn generator(self) -> clap_complete::Shell {
        match self {
            Shell::Bash => clap_complete::Shell::Bash,
            Shell::Zsh => clap_complete::Shell::Zsh,
            Shell::Fish => clap_complete::Shell::Fish,
        }
    }

    pub fn file_name(self) -> &'static str {
        match self {
            Shell::Bash => "sandbox.bash",
            Shell::Zsh => "_sandbox",
            Shell::Fish => "sandbox.fish",
        }
    }
}

/// Completions as text, for `completions` and for the test that keeps `completions/` current.
pub fn completions(shell: Shell) -> String {
    let mut command = <Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_complete::generate(shell.generator(), &mut command, "sandbox", &mut out);
    String::from_utf8(out).expect("completions are UTF-8")
}
