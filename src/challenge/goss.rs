//! goss files (`[checks] goss` of an Ansible challenge): the resource types, their keys and
//! the matchers of goss 0.4, read with yaml-rust2's marked events so that a typo points at its
//! line when the challenge loads (and so in `sandbox lint`), not when goss runs in a target.
//! goss itself runs the file; this only refuses what goss would reject or silently ignore.
//!
//! A goss file is a Go template (`{{ .Env.SANDBOX_DISTRO }}`): each template action is masked
//! with spaces of its own length before the YAML is read, so spans stay where they were.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use miette::NamedSource;

use super::error::ChallengeError;
use super::image::RawChecks;
use super::parsed::Parsed;
use super::structure::{bytes_of, error, load, Marked, Node, StructureError};

/// Every resource type of goss 0.4 and its keys (besides `title`, `meta` and `skip`, which
/// every resource has). The first key of a type is its main one, which `goss add` writes.
pub const RESOURCE_TYPES: &[(&str, &[&str])] = &[
    ("package", &["installed", "versions", "name"]),
    (
        "file",
        &[
            "exists",
            "mode",
            "size",
            "owner",
            "uid",
            "group",
            "gid",
            "filetype",
            "contents",
            "contains",
            "md5",
            "sha256",
            "sha512",
            "linked-to",
            "path",
        ],
    ),
    ("service", &["enabled", "running", "runlevels", "name"]),
    ("user", &["exists", "uid", "gid", "groups", "home", "shell", "username"]),
    ("group", &["exists", "gid", "groupname"]),
    ("port", &["listening", "ip", "port"]),
    ("process", &["running", "comm"]),
    ("command", &["exit-status", "stdout", "stderr", "timeout", "exec"]),
    (
        "http",
        &[
            "status",
            "allow-insecure",
            "no-follow-redirects",
            "timeout",
            "body",
            "username",
            "password",
            "headers",
            "request-headers",
            "request-body",
            "method",
            "ca-file",
            "cert-file",
            "key-file",
            "proxy",
            "url",
        ],
    ),
    ("addr", &["reachable", "timeout", "local-address", "address"]),
    ("dns", &["resolvable", "resolveable", "addrs", "timeout", "server", "resolve"]),
    ("mount", &["exists", "opts", "vfs-opts", "source", "filesystem", "usage", "timeout", "mountpoint"]),
    ("kernel-param", &["value", "key"]),
    ("interface", &["exists", "addrs", "mtu", "name"]),
    ("gossfile", &["path"]),
    ("matching", &["content", "matches", "as-reader"]),
];

/// Keys every resource has.
const COMMON_KEYS: &[&str] = &["title", "meta", "skip"];

/// goss's matchers, the keys of a mapping used as a value.
pub const MATCHERS: &[&str] = &[
    "equal",
    "not",
    "and",
    "or",
    "gt",
    "ge",
    "lt",
    "le",
    "have-len",
    "have-key",
    "have-prefix",
    "have-suffix",
    "have-patterns",
    "match-regexp",
    "contain-element",
    "contain-elements",
    "contain-substring",
    "consist-of",
    "semver-constraint",
];

/// `[checks] goss` of an Ansible challenge: the file (relative to the challenge), what it
/// holds, and the author's hints keyed by `type:id` (`"package:nginx"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GossChecks {
    pub file: PathBuf,
    /// The files its `gossfile:` resources include (and theirs), relative to the challenge.
    pub includes: Vec<PathBuf>,
    /// The resources of the file and of its includes.
    pub parsed: GossFile,
    pub hints: BTreeMap<String, String>,
}

impl GossChecks {
    /// The file, then its includes: what a target needs, at these paths relative to the challenge.
    pub fn files(&self) -> impl Iterator<Item = &PathBuf> {
        std::iter::once(&self.file).chain(&self.includes)
    }

    /// The hint for a resource goss's JSON names (`Package`, `nginx`).
    pub fn hint_for(&self, json_type: &str, id: &str) -> Option<&String> {
        self.hints.get(&format!("{}:{id}", file_name_of_type(json_type)))
    }
}

impl Parsed {
    /// An Ansible challenge's `[checks]`: `goss` and its `hints`, keyed by `type:id` of a
    /// resource of the file; the Docker track's checks are refused here.
    pub(super) fn goss_checks(&self, raw: &RawChecks) -> Result<Option<GossChecks>, ChallengeError> {
        if let Some(key) = raw.docker_only_key() {
            return Err(self.missing(key, "only a `track = \"docker\"` challenge has this check"));
        }
        let Some(value) = &raw.goss else {
            return Err(
                self.missing("goss", "an Ansible challenge's `[checks]` names a goss file: `goss = \"goss.yaml\"`")
            );
        };
        let file = self.file_in_challenge("goss file", "goss", Some(value), "")?;
        let (parsed, includes) = self.goss_file_with_includes(&file, value)?;
        let mut hints = std::collections::BTreeMap::new();
        for (key, hint) in &raw.hints {
            let resource = key.get_ref().split_once(':').filter(|(kind, _)| is_resource_type(kind));
            let Some((kind, id)) = resource else {
                let message = "a hint's key is a resource of the goss file: `type:id`, e.g. \"package:nginx\"";
                return Err(self.invalid("hints", message, key.span()));
            };
            if !parsed.has(kind, id) {
                let message = format!("the goss file has no {kind} `{id}`");
                return Err(self.invalid("hints", &message, key.span()));
            }
            hints.insert(key.get_ref().clone(), hint.clone());
        }
        Ok(Some(GossChecks { file, includes, parsed, hints }))
    }

    /// The goss file and every file its `gossfile:` resources include, each read and linted:
    /// a target gets them all, at the same paths relative to each other. An include is a
    /// literal relative path of a file in the challenge (goss resolves it from the including
    /// file's directory); a templated one is left to goss.
    fn goss_file_with_includes(
        &self,
        file: &Path,
        value: &toml::Spanned<String>,
    ) -> Result<(GossFile, Vec<PathBuf>), ChallengeError> {
        let mut parsed = self.goss_file(file)?;
        let mut includes: Vec<PathBuf> = Vec::new();
        let mut next = 0;
        let mut from = vec![(file.to_path_buf(), parsed.clone())];
        while let Some((including, contents)) = from.pop() {
            for resource in contents.resources.iter().filter(|r| r.kind == "gossfile" && !r.templated) {
                let relative = including.parent().unwrap_or(Path::new("")).join(&resource.id);
                let inside = !resource.id.starts_with('/')
                    && !resource.id.contains(['*', '?', '['])
                    && relative.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
                    && self
                        .dir
                        .join(&relative)
                        .canonicalize()
                        .is_ok_and(|real| real.starts_with(&self.dir) && real.is_file());
                if !inside {
                    let message = format!(
                        "{} includes `{}`: an include is a relative path of a file in the challenge",
                        including.display(),
                        resource.id
                    );
                    return Err(self.invalid("goss", &message, value.span()));
                }
                if relative == file || includes.contains(&relative) {
                    continue;
                }
                next += 1;
                if next > MAX_INCLUDES {
                    return Err(self.invalid(
                        "goss",
                        &format!("more than {MAX_INCLUDES} included goss files"),
                        value.span(),
                    ));
                }
                let included = self.goss_file(&relative)?;
                parsed.resources.extend(included.resources.iter().cloned());
                includes.push(relative.clone());
                from.push((relative, included));
            }
        }
        Ok((parsed, includes))
    }

    /// One goss file of the challenge, read and linted.
    fn goss_file(&self, relative: &Path) -> Result<GossFile, ChallengeError> {
        let path = self.dir.join(relative);
        let text =
            std::fs::read_to_string(&path).map_err(|source| ChallengeError::Io { path: path.clone(), source })?;
        parse(&text).map_err(|err| ChallengeError::GossFile {
            message: err.message,
            src: NamedSource::new(path.display().to_string(), text.clone()),
            span: err.span.into(),
            path: path.clone(),
        })
    }
}

/// How many files a goss file may include, all levels together.
const MAX_INCLUDES: usize = 32;

/// A goss file, as far as sandbox needs it: its resources (for hints and `goss-add`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GossFile {
    pub resources: Vec<Resource>,
}

impl GossFile {
    /// Whether `type:id` names a resource of the file (a templated id matches any).
    /// Where an assertion of goss's JSON (`Package`, `nginx`, `installed`) is written in the
    /// file: (resource, attribute) positions, for ordering results as the author wrote them.
    pub fn position(&self, json_type: &str, id: &str, property: &str) -> (usize, usize) {
        let kind = file_name_of_type(json_type);
        let found = self.resources.iter().position(|r| r.kind == kind && r.id == id);
        let Some(at) = found.or_else(|| self.resources.iter().position(|r| r.kind == kind && r.templated)) else {
            return (usize::MAX, usize::MAX);
        };
        let attribute = self.resources[at].attributes.iter().position(|a| a == property).unwrap_or(usize::MAX);
        (at, attribute)
    }

    pub fn has(&self, kind: &str, id: &str) -> bool {
        self.resources.iter().any(|r| r.kind == kind && (r.id == id || r.templated))
    }
}

/// One resource: `package: {nginx: …}` is kind `package`, id `nginx`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub kind: String,
    pub id: String,
    /// The id is (partly) a template action: known only when goss renders the file.
    pub templated: bool,
    /// Its attributes, in the file's order.
    pub attributes: Vec<String>,
}

/// Reads a goss file, refusing unknown resource types and keys and bad matchers.
pub fn parse(text: &str) -> Result<GossFile, StructureError> {
    let masked = mask_templates(text);
    read(&masked, text)
        .map_err(|err| StructureError { span: bytes_of(text, err.span.start)..bytes_of(text, err.span.end), ..err })
}

/// The text with every `{{ … }}` masked, character for character (newlines kept), so the
/// YAML around a template action reads as YAML and every offset stays the same: an action
/// alone on its line (`{{ if … }}`) becomes spaces, one inside a key or value `x`s.
fn mask_templates(text: &str) -> String {
    let mut masked = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(length) = rest[start..].find("}}").map(|end| end + 2) else { break };
        masked.push_str(&rest[..start]);
        let line_start = masked.rfind('\n').map_or(0, |at| at + 1);
        let after = &rest[start + length..];
        let alone = masked[line_start..].trim().is_empty() && after.split('\n').next().unwrap_or("").trim().is_empty();
        let fill = if alone { ' ' } else { 'x' };
        masked.extend(rest[start..start + length].chars().map(|c| if c == '\n' { '\n' } else { fill }));
        rest = after;
    }
    masked.push_str(rest);
    masked
}

/// `parse`, with spans in characters; `original` is the text before masking.
fn read(text: &str, original: &str) -> Result<GossFile, StructureError> {
    let Some(root) = load(text)? else { return Ok(GossFile::default()) };
    let Node::Map(types) = &root.node else {
        return Err(error(format!("a goss file is a mapping of resource types, not {}", root.kind()), root.span()));
    };
    let mut file = GossFile::default();
    for (kind, resources) in types {
        let kind_name = kind.scalar("a resource type")?;
        let Some((_, keys)) = RESOURCE_TYPES.iter().find(|(name, _)| *name == kind_name) else {
            let known: Vec<&str> = RESOURCE_TYPES.iter().map(|(name, _)| *name).collect();
            return Err(error(
                format!("unknown resource type `{kind_name}` (goss has {})", known.join(", ")),
                kind.span(),
            ));
        };
        let Node::Map(entries) = &resources.node else {
            if matches!(&resources.node, Node::Scalar(text) if text.trim().is_empty()) {
                continue;
            }
            return Err(error(
                format!("{kind_name} is a mapping of resources, not {}", resources.kind()),
                resources.span(),
            ));
        };
        for (id, attributes) in entries {
            let id_text = id.scalar("a resource")?;
            let attributes = resource(kind_name, id_text, keys, attributes)?;
            let span = id.span();
            let templated = original[bytes_of(original, span.start)..bytes_of(original, span.end)].contains("{{");
            file.resources.push(Resource {
                kind: kind_name.to_string(),
                id: id_text.to_string(),
                templated,
                attributes,
            });
        }
    }
    Ok(file)
}

/// One resource's attributes: known keys, and each value a valid matcher. Returns their names.
fn resource(kind: &str, id: &str, keys: &[&str], attributes: &Marked) -> Result<Vec<String>, StructureError> {
    let entries = match &attributes.node {
        Node::Map(entries) => entries,
        Node::Scalar(text) if text.trim().is_empty() => return Ok(Vec::new()),
        _ => {
            let message = format!("{kind} `{id}` is a mapping of attributes, not {}", attributes.kind());
            return Err(error(message, attributes.span()));
        }
    };
    let mut names = Vec::new();
    for (key, value) in entries {
        let name = key.scalar("an attribute")?;
        if name.trim().is_empty() || COMMON_KEYS.contains(&name) {
            continue;
        }
        names.push(name.to_string());
        if !keys.contains(&name) {
            return Err(error(
                format!("unknown key `{name}` for {kind} `{id}` (expected one of {})", keys.join(", ")),
                key.span(),
            ));
        }
        if kind != "matching" || name == "matches" {
            matcher(value)?;
        }
    }
    Ok(names)
}

/// A value: a scalar or list (equality, or goss's `/regex/` and `!` patterns for contents
/// and output), or a mapping of matchers.
fn matcher(value: &Marked) -> Result<(), StructureError> {
    match &value.node {
        Node::Scalar(text) => pattern(text, value.span()),
        Node::List(items) => items.iter().try_for_each(matcher),
        Node::Map(entries) => {
            for (key, operand) in entries {
                let name = key.scalar("a matcher")?;
                if !MATCHERS.contains(&name) {
                    return Err(error(
                        format!("unknown matcher `{name}` (goss has {})", MATCHERS.join(", ")),
                        key.span(),
                    ));
                }
                matcher_operand(name, operand)?;
            }
            Ok(())
        }
    }
}

fn matcher_operand(name: &str, operand: &Marked) -> Result<(), StructureError> {
    match (name, &operand.node) {
        ("gt" | "ge" | "lt" | "le" | "have-len", Node::Scalar(text)) => {
            if text.trim().is_empty() || text.trim().parse::<f64>().is_ok() {
                Ok(())
            } else {
                Err(error(format!("`{name}` compares numbers: `{text}` is not one"), operand.span()))
            }
        }
        ("gt" | "ge" | "lt" | "le" | "have-len", _) => {
            Err(error(format!("`{name}` takes a number, not {}", operand.kind()), operand.span()))
        }
        ("match-regexp", Node::Scalar(text)) => regex(text, operand.span()),
        ("and" | "or", Node::List(items)) => items.iter().try_for_each(matcher),
        ("and" | "or", _) => Err(error(format!("`{name}` takes a list of matchers"), operand.span())),
        _ => matcher(operand),
    }
}

/// `/regex/` (possibly after `!`) must compile: goss reports a bad one only when it runs.
fn pattern(text: &str, span: Range<usize>) -> Result<(), StructureError> {
    let text = text.strip_prefix('!').unwrap_or(text);
    match text.strip_prefix('/').and_then(|rest| rest.strip_suffix('/')) {
        Some(inner) if text.len() >= 2 => regex(inner, span),
        _ => Ok(()),
    }
}

fn regex(text: &str, span: Range<usize>) -> Result<(), StructureError> {
    if text.trim().is_empty() {
        return Ok(());
    }
    regex::Regex::new(text)
        .map(|_| ())
        .map_err(|err| error(format!("not a valid regular expression: {}", first_line(&err.to_string())), span))
}

fn first_line(text: &str) -> &str {
    text.lines().last().unwrap_or(text).trim().trim_start_matches("error: ")
}

/// The resource types by name, for the hint keys of `[checks.hints]`.
pub fn is_resource_type(name: &str) -> bool {
    RESOURCE_TYPES.iter().any(|(kind, _)| *kind == name)
}

/// `Package`, `KernelParam` (goss's JSON names a resource type so) as a goss file writes it:
/// `package`, `kernel-param`.
pub fn file_name_of_type(json_type: &str) -> String {
    let mut name = String::new();
    for (i, c) in json_type.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('-');
        }
        name.push(c.to_ascii_lowercase());
    }
    name
}

/// Used by tests and `goss-add`: the resources by kind.
pub fn by_kind(file: &GossFile) -> HashMap<&str, Vec<&str>> {
    let mut kinds: HashMap<&str, Vec<&str>> = HashMap::new();
    for resource in &file.resources {
        kinds.entry(resource.kind.as_str()).or_default().push(resource.id.as_str());
    }
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_of(text: &str, span: &Range<usize>) -> usize {
        text[..span.start].matches('\n').count() + 1
    }

    const EXAMPLE: &str = "package:\n  nginx:\n    installed: true\n    versions:\n      contain-element: /^1\\./\n\
service:\n  nginx:\n    enabled: true\n    running: true\nfile:\n  /var/www/html/index.html:\n    exists: true\n    \
mode: \"0644\"\n    owner: root\n    contents:\n      - Hello\n      - \"!/error/\"\nport:\n  tcp:80:\n    listening: true\n\
command:\n  nginx -t:\n    exit-status:\n      lt: 1\n    stderr:\n      and:\n        - contain-substring: ok\n        - not:\n            match-regexp: fail\n\
kernel-param:\n  net.ipv4.ip_forward:\n    value: \"0\"\n";

    #[test]
    fn goss_documented_examples_read() {
        let file = parse(EXAMPLE).unwrap();
        assert_eq!(file.resources.len(), 6);
        assert!(file.has("package", "nginx") && file.has("port", "tcp:80") && !file.has("package", "apache2"));
        assert_eq!(by_kind(&file)["file"], ["/var/www/html/index.html"]);
    }

    #[test]
    fn an_unknown_resource_type_is_pointed_at_on_its_line() {
        let text = "package:\n  nginx:\n    installed: true\npackages:\n  curl:\n    installed: true\n";
        let err = parse(text).unwrap_err();
        assert!(err.message.contains("unknown resource type `packages`"), "{}", err.message);
        assert_eq!(&text[err.span.clone()], "packages");
        assert_eq!(line_of(text, &err.span), 4);
    }

    #[test]
    fn unknown_keys_and_bad_matchers_are_refused() {
        let cases = [
            ("package:\n  nginx:\n    instaled: true\n", "unknown key `instaled` for package `nginx`", "instaled"),
            (
                "file:\n  /x:\n    contents:\n      contains-substring: a\n",
                "unknown matcher `contains-substring`",
                "contains-substring",
            ),
            ("command:\n  true:\n    exit-status:\n      lt: one\n", "`lt` compares numbers", "one"),
            ("file:\n  /x:\n    contents: [\"/a(/\"]\n", "not a valid regular expression", "\"/a(/\""),
            ("command:\n  x:\n    stdout:\n      or: a\n", "`or` takes a list", "a"),
        ];
        for (text, message, at) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.message.contains(message), "{text}: {}", err.message);
            assert_eq!(&text[err.span.clone()], at, "{text}");
        }
    }

    #[test]
    fn templates_are_masked_without_moving_spans() {
        let text = "file:\n  /etc/motd:\n    contents: [\"{{ .Env.SANDBOX_DISTRO }}\"]\n{{ if eq .Env.SANDBOX_PASS \"2\" }}\npackage:\n  é{{.Vars.x}}:\n    installd: true\n{{ end }}\n";
        let err = parse(text).unwrap_err();
        assert_eq!(&text[err.span.clone()], "installd");
        let ok = "service:\n  {{ .Vars.svc }}:\n    running: true\n";
        assert!(parse(ok).unwrap().has("service", "anything"));
    }

    #[test]
    fn json_type_names_become_file_names() {
        assert_eq!(file_name_of_type("Package"), "package");
        assert_eq!(file_name_of_type("KernelParam"), "kernel-param");
        assert!(is_resource_type("kernel-param") && !is_resource_type("packages"));
    }
}
