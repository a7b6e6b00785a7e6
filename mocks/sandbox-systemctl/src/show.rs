//! `systemctl show`: unit properties as `Key=value` lines, the ones Ansible's systemd module
//! and service_facts read first among them (LoadState, ActiveState, SubState,
//! UnitFileState, LoadError only when a unit is not loaded). Properties not modelled are read
//! raw from the unit's files; without a unit, the manager's own properties.

use crate::ctx::Ctx;
use crate::loaded::Loaded;
use crate::root::UNIT_DIRS;
use crate::state::{self, Active};
use crate::unit::{self, is_yes, LoadState};

pub const SD_VERSION: &str = "252";
pub const SD_VERSION_FULL: &str = "252.30-1~deb12u2";
pub const SD_FEATURES: &str = "+PAM +AUDIT +SELINUX +APPARMOR +IMA +SMACK +SECCOMP +GCRYPT -GNUTLS +OPENSSL +ACL +BLKID +CURL +ELFUTILS +FIDO2 +IDN2 -IDN +IPTC +KMOD +LIBCRYPTSETUP +LIBFDISK +PCRE2 -PWQUALITY +P11KIT +QRENCODE +TPM2 +BZIP2 +LZ4 +XZ +ZLIB +ZSTD -BPF_FRAMEWORK -XKBCOMMON +UTMP +SYSVINIT default-hierarchy=unified";
pub const MANAGER_ENVIRONMENT: &str = "LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const DEFAULT_PROPS: [&str; 25] = [
    "Id",
    "Names",
    "Description",
    "LoadState",
    "ActiveState",
    "SubState",
    "UnitFileState",
    "UnitFilePreset",
    "FragmentPath",
    "SourcePath",
    "DropInPaths",
    "Documentation",
    "StatusErrno",
    "Result",
    "CanStart",
    "CanStop",
    "CanReload",
    "CanIsolate",
    "ActiveEnterTimestamp",
    "InactiveEnterTimestamp",
    "StateChangeTimestamp",
    "Transient",
    "NeedDaemonReload",
    "WantedBy",
    "LoadError",
];
const SERVICE_PROPS: [&str; 8] =
    ["Type", "Restart", "RemainAfterExit", "MainPID", "ExecMainPID", "ExecMainCode", "ExecMainStatus", "NRestarts"];
const MANAGER_PROPS: [&str; 15] = [
    "Version",
    "Features",
    "Virtualization",
    "Tainted",
    "SystemState",
    "NJobs",
    "NFailedUnits",
    "DefaultStandardOutput",
    "DefaultStandardError",
    "LogLevel",
    "LogTarget",
    "ShowStatus",
    "ConfirmSpawn",
    "UnitPath",
    "Environment",
];

/// The value of a modelled property of unit L; None for properties not modelled.
pub fn property(ctx: &Ctx, l: &Loaded, name: &str) -> Option<String> {
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
    let supervised = ctx.supervises(&l.r);
    let failed = *l.active() == Active::Failed;
    let active = *l.active() == Active::Active;
    let v = match name {
        "Id" => l.r.id.clone(),
        "Names" => l.r.names.clone(),
        "Description" => l.file.description.clone(),
        "LoadState" => l.r.load.as_str().into(),
        "ActiveState" => l.active().as_str().into(),
        "SubState" => l.sub_state().into(),
        "UnitFileState" => l.install.state.clone(),
        "UnitFilePreset" => l.preset.clone(),
        "FragmentPath" => l.r.frag.clone(),
        "SourcePath" => l.r.src.clone(),
        "DropInPaths" => l.file.dropins.join(" "),
        "Documentation" => l.file.documentation.join(" "),
        "NRestarts" => l.main.restarts.to_string(),
        "StatusErrno" | "ControlPID" => "0".into(),
        "MainPID" if l.sup_sub == Some("running") => l.main.pid.to_string(),
        "MainPID" => "0".into(),
        "ExecMainPID" => l.main.pid.to_string(),
        "ExecMainCode" if supervised => l.main.code.to_string(),
        "ExecMainStatus" if supervised => l.main.status.to_string(),
        "Result" if supervised => l.main.result.clone(),
        "Result" if failed => "exit-code".into(),
        "Result" => "success".into(),
        "ExecMainCode" | "ExecMainStatus" => if failed { "1" } else { "0" }.into(),
        "CanStart" | "CanStop" => yes_no(l.r.load == LoadState::Loaded && !unit::is_template(&l.r.id)),
        "CanReload" => yes_no(l.r.load == LoadState::Loaded && l.file.has_reload),
        "CanIsolate" => yes_no(is_yes(&l.file.allow_isolate)),
        "ActiveEnterTimestamp" if active => l.recorded.since.clone(),
        "InactiveEnterTimestamp" if !active => l.recorded.since.clone(),
        "ActiveEnterTimestamp" | "InactiveEnterTimestamp" => String::new(),
        "StateChangeTimestamp" => l.recorded.since.clone(),
        "Transient" | "NeedDaemonReload" => "no".into(),
        "Type" => l.file.service_type.clone(),
        "Restart" => l.file.restart.clone(),
        "RemainAfterExit" => l.file.remain_after_exit.clone(),
        "WantedBy" => link_targets(l, ".wants/"),
        "RequiredBy" => link_targets(l, ".requires/"),
        "LoadError" => match l.r.load {
            LoadState::NotFound => format!("org.freedesktop.systemd1.NoSuchUnit \"Unit {} not found.\"", l.r.id),
            LoadState::Masked => format!("org.freedesktop.systemd1.UnitMasked \"Unit {} is masked.\"", l.r.id),
            LoadState::Loaded => " \"\"".into(),
        },
        _ => return None,
    };
    Some(v)
}

/// The targets whose `.wants/` (or `.requires/`) directories link the unit.
fn link_targets(l: &Loaded, kind: &str) -> String {
    l.install
        .links
        .iter()
        .filter(|link| link.contains(kind))
        .map(|link| unit::stem(crate::root::base(crate::root::dir(link))).to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn manager_property(ctx: &Ctx, name: &str) -> String {
    match name {
        "Version" => SD_VERSION_FULL.into(),
        "Features" => SD_FEATURES.into(),
        "Virtualization" => "container-other".into(),
        "SystemState" => "running".into(),
        "NJobs" => "0".into(),
        "NFailedUnits" => state::failed_units(&ctx.root).len().to_string(),
        "DefaultStandardOutput" => "journal".into(),
        "DefaultStandardError" => "inherit".into(),
        "LogLevel" => "info".into(),
        "LogTarget" => "journal-or-kmsg".into(),
        "ShowStatus" => "yes".into(),
        "ConfirmSpawn" => "no".into(),
        "UnitPath" => UNIT_DIRS.join(" "),
        "Environment" => MANAGER_ENVIRONMENT.into(),
        _ => String::new(),
    }
}

fn emit(ctx: &Ctx, name: &str, value: &str) {
    if ctx.opts.value {
        ctx.say(value);
    } else {
        ctx.say(&format!("{name}={value}"));
    }
}

/// The lines `show` prints for unit L: the requested properties (even when empty), or the
/// defaults (LoadError only when not loaded, WantedBy only when there is one).
pub fn unit_lines(ctx: &Ctx, l: &Loaded) {
    let requested = ctx.opts.properties();
    let explicit = !requested.is_empty();
    let defaults: Vec<&str> = if l.r.is_service() {
        DEFAULT_PROPS.iter().chain(SERVICE_PROPS.iter()).copied().collect()
    } else {
        DEFAULT_PROPS.to_vec()
    };
    for name in if explicit { requested } else { defaults } {
        let value = property(ctx, l, name).unwrap_or_else(|| unit::raw_key(&ctx.root, &l.r, &l.file, name));
        if !explicit
            && ((name == "LoadError" && l.r.load == LoadState::Loaded) || (name == "WantedBy" && value.is_empty()))
        {
            continue;
        }
        emit(ctx, name, &value);
    }
}

pub fn cmd_show(ctx: &Ctx, units: &[String]) -> i32 {
    if units.is_empty() {
        let requested = ctx.opts.properties();
        let names = if requested.is_empty() { MANAGER_PROPS.to_vec() } else { requested };
        for name in names {
            emit(ctx, name, &manager_property(ctx, name));
        }
        return 0;
    }
    for (i, name) in units.iter().enumerate() {
        if i > 0 {
            ctx.say("");
        }
        unit_lines(ctx, &ctx.load_all(name));
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Options;
    use crate::root::Root;

    /// A scratch target with NGINX-like unit in /lib/systemd/system.
    fn target(name: &str) -> (std::path::PathBuf, Ctx) {
        let dir = std::env::temp_dir().join(format!("sandbox-show-{name}-{}", std::process::id()));
        let units = dir.join("lib/systemd/system");
        std::fs::create_dir_all(&units).unwrap();
        std::fs::write(
            units.join("web.service"),
            "[Unit]\nDescription=Web\n[Service]\nType=forking\nPIDFile=/run/web.pid\nExecStart=/bin/web\nExecReload=/bin/web -s reload\n[Install]\nWantedBy=multi-user.target\n",
        )
        .unwrap();
        let ctx = Ctx::new(Root::new(dir.to_str().unwrap()), Options { legend: true, ..Options::default() });
        (dir, ctx)
    }

    fn prop(ctx: &Ctx, unit: &str, name: &str) -> Option<String> {
        property(ctx, &ctx.load_all(unit), name)
    }

    /// What ansible.builtin.systemd decides from: LoadState (not-found means no such unit),
    /// ActiveState, UnitFileState, and LoadError only for units that did not load.
    #[test]
    fn the_properties_ansible_reads() {
        let (dir, ctx) = target("ansible");
        assert_eq!(prop(&ctx, "web", "LoadState").as_deref(), Some("loaded"));
        assert_eq!(prop(&ctx, "web", "ActiveState").as_deref(), Some("inactive"));
        assert_eq!(prop(&ctx, "web", "SubState").as_deref(), Some("dead"));
        assert_eq!(prop(&ctx, "web", "UnitFileState").as_deref(), Some("disabled"));
        assert_eq!(prop(&ctx, "web", "CanReload").as_deref(), Some("yes"));
        assert_eq!(prop(&ctx, "web", "Type").as_deref(), Some("forking"));
        assert_eq!(prop(&ctx, "web", "PIDFile"), None, "not modelled: read raw from the file");
        assert_eq!(unit::raw_key(&ctx.root, &ctx.load("web").r, &ctx.load("web").file, "PIDFile"), "/run/web.pid");
        assert_eq!(prop(&ctx, "ghost", "LoadState").as_deref(), Some("not-found"));
        assert_eq!(
            prop(&ctx, "ghost", "LoadError").as_deref(),
            Some("org.freedesktop.systemd1.NoSuchUnit \"Unit ghost.service not found.\"")
        );
        crate::state::save(&ctx.root, "web.service", &Active::Active).unwrap();
        assert_eq!(prop(&ctx, "web", "ActiveState").as_deref(), Some("active"));
        assert_eq!(prop(&ctx, "web", "SubState").as_deref(), Some("running"));
        assert!(!prop(&ctx, "web", "ActiveEnterTimestamp").unwrap().is_empty());
        assert_eq!(prop(&ctx, "web", "MainPID").as_deref(), Some("0"), "mock mode runs nothing");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn masked_units_say_so_in_load_state_and_load_error() {
        let (dir, ctx) = target("masked");
        std::fs::create_dir_all(dir.join("etc/systemd/system")).unwrap();
        std::os::unix::fs::symlink("/dev/null", dir.join("etc/systemd/system/web.service")).unwrap();
        assert_eq!(prop(&ctx, "web", "LoadState").as_deref(), Some("masked"));
        assert_eq!(prop(&ctx, "web", "UnitFileState").as_deref(), Some("masked"));
        assert_eq!(prop(&ctx, "web", "CanStart").as_deref(), Some("no"));
        assert_eq!(
            prop(&ctx, "web", "LoadError").as_deref(),
            Some("org.freedesktop.systemd1.UnitMasked \"Unit web.service is masked.\"")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
