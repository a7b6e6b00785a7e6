//! Google's container-structure-test files (`schemaVersion: 2.0.0`), read for the tests the
//! Docker track can run the way that tool runs them: `commandTests`, `fileExistenceTests`,
//! `fileContentTests` and `metadataTest`. An author who already has such a file names it as
//! `[checks] structure` instead of rewriting it. The YAML is read through yaml-rust2's marked
//! events, so every error points at the line it is about.

use std::collections::HashMap;
use std::ops::Range;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A structure-test file, typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StructureTests {
    /// Set for every command test (`globalEnvVars`).
    pub global_env: Vec<EnvVar>,
    pub commands: Vec<CommandTest>,
    pub files: Vec<FileExistenceTest>,
    pub contents: Vec<FileContentTest>,
    pub metadata: Option<MetadataTest>,
}

impl StructureTests {
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty() && self.files.is_empty() && self.contents.is_empty() && self.metadata.is_none()
    }
}

/// `{key, value}`, for environment variables and labels; `isRegex` makes the value a pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvVar {
    pub key: String,
    pub value: String,
    pub is_regex: bool,
}

/// A command run in a fresh container of the image (its entrypoint cleared), judged by its
/// output, its errors and its exit code.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandTest {
    pub name: String,
    /// Commands run (each in its own container, committed) before the test's.
    pub setup: Vec<Vec<String>>,
    pub env: Vec<EnvVar>,
    pub command: String,
    pub args: Vec<String>,
    pub expected_output: Vec<Pattern>,
    pub excluded_output: Vec<Pattern>,
    pub expected_error: Vec<Pattern>,
    pub excluded_error: Vec<Pattern>,
    pub exit_code: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileExistenceTest {
    pub name: String,
    pub path: String,
    pub should_exist: bool,
    /// Go's notation, as the tool compares it: `-rw-r--r--`, `drwxr-xr-x`.
    pub permissions: Option<String>,
    pub uid: Option<u64>,
    pub gid: Option<u64>,
    pub executable_by: Option<ExecutableBy>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutableBy {
    Owner,
    Group,
    Other,
    Any,
}

impl ExecutableBy {
    /// The permission bits any of which makes the file executable for this party.
    pub fn bits(self) -> u32 {
        match self {
            ExecutableBy::Owner => 0o100,
            ExecutableBy::Group => 0o010,
            ExecutableBy::Other => 0o001,
            ExecutableBy::Any => 0o111,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ExecutableBy::Owner => "owner",
            ExecutableBy::Group => "group",
            ExecutableBy::Other => "other",
            ExecutableBy::Any => "any",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileContentTest {
    pub name: String,
    pub path: String,
    pub expected: Vec<Pattern>,
    pub excluded: Vec<Pattern>,
}

/// The image's configuration; unset fields are not compared.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetadataTest {
    pub env: Vec<EnvVar>,
    pub labels: Vec<EnvVar>,
    pub exposed_ports: Vec<String>,
    pub unexposed_ports: Vec<String>,
    pub volumes: Vec<String>,
    pub unmounted_volumes: Vec<String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub workdir: Option<String>,
    pub user: Option<String>,
}

/// A regular expression as written: the tool's are Go's RE2 syntax, which `regex` implements.
#[derive(Debug, Clone)]
pub struct Pattern(regex::Regex);

impl Pattern {
    pub fn new(text: &str) -> Result<Pattern, regex::Error> {
        regex::Regex::new(text).map(Pattern)
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.as_str() == other.as_str()
    }
}

/// What is wrong with the file, and where (a byte range of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructureError {
    pub message: String,
    pub span: Range<usize>,
}

pub(super) fn error(message: impl Into<String>, span: Range<usize>) -> StructureError {
    StructureError { message: message.into(), span }
}

/// Reads a structure-test file.
pub fn parse(text: &str) -> Result<StructureTests, StructureError> {
    // The YAML parser marks characters; a diagnostic's span is bytes.
    read(text)
        .map_err(|err| StructureError { span: bytes_of(text, err.span.start)..bytes_of(text, err.span.end), ..err })
}

/// The byte offset of character `chars` of `text` (its end past the last).
pub(super) fn bytes_of(text: &str, chars: usize) -> usize {
    text.char_indices().nth(chars).map_or(text.len(), |(at, _)| at)
}

/// `parse`, with spans in characters.
fn read(text: &str) -> Result<StructureTests, StructureError> {
    let root = load(text)?;
    let Some(root) = root else { return Err(error("the file is empty", 0..0)) };
    let fields = root.fields(
        "the file",
        &["schemaVersion", "globalEnvVars", "commandTests", "fileExistenceTests", "fileContentTests", "metadataTest"],
    )?;
    match fields.get("schemaVersion") {
        None => return Err(error("schemaVersion is missing (expected \"2.0.0\")", root.span())),
        Some(version) if version.string("schemaVersion")? != "2.0.0" => {
            return Err(error("only schemaVersion \"2.0.0\" is read", version.span()));
        }
        Some(_) => {}
    }
    let each = |key: &str| optional_list(&fields, key);
    Ok(StructureTests {
        global_env: each("globalEnvVars")?.iter().map(|n| env_var(n, "globalEnvVars")).collect::<Result<_, _>>()?,
        commands: each("commandTests")?.iter().map(command_test).collect::<Result<_, _>>()?,
        files: each("fileExistenceTests")?.iter().map(file_existence_test).collect::<Result<_, _>>()?,
        contents: each("fileContentTests")?.iter().map(file_content_test).collect::<Result<_, _>>()?,
        metadata: fields.get("metadataTest").map(|n| metadata_test(n)).transpose()?,
    })
}

fn command_test(node: &Marked) -> Result<CommandTest, StructureError> {
    let fields = node.fields(
        "a command test",
        &[
            "name",
            "setup",
            "teardown",
            "envVars",
            "command",
            "args",
            "expectedOutput",
            "excludedOutput",
            "expectedError",
            "excludedError",
            "exitCode",
        ],
    )?;
    let name = required(node, &fields, "name")?.string("name")?;
    let setup = optional_list(&fields, "setup")?
        .iter()
        .map(|command| {
            let words = command.strings("setup")?;
            if words.is_empty() {
                return Err(error("a setup command is a non-empty list of words", command.span()));
            }
            Ok(words)
        })
        .collect::<Result<_, _>>()?;
    let exit_code = match fields.get("exitCode") {
        None => 0,
        Some(code) => code.scalar("exitCode")?.parse().map_err(|_| error("exitCode is a number", code.span()))?,
    };
    Ok(CommandTest {
        name,
        setup,
        env: optional_list(&fields, "envVars")?.iter().map(|n| env_var(n, "envVars")).collect::<Result<_, _>>()?,
        command: required(node, &fields, "command")?.string("command")?,
        args: optional_strings(&fields, "args")?,
        expected_output: patterns(&fields, "expectedOutput")?,
        excluded_output: patterns(&fields, "excludedOutput")?,
        expected_error: patterns(&fields, "expectedError")?,
        excluded_error: patterns(&fields, "excludedError")?,
        exit_code,
    })
}

fn file_existence_test(node: &Marked) -> Result<FileExistenceTest, StructureError> {
    let fields = node.fields(
        "a file existence test",
        &["name", "path", "shouldExist", "permissions", "uid", "gid", "isExecutableBy"],
    )?;
    let id = |key: &str| -> Result<Option<u64>, StructureError> {
        let Some(value) = fields.get(key) else { return Ok(None) };
        // -1 is the tool's own "not compared".
        match value.scalar(key)?.parse::<i64>() {
            Ok(-1) => Ok(None),
            Ok(id) if id >= 0 => Ok(Some(id as u64)),
            _ => Err(error(format!("{key} is a number"), value.span())),
        }
    };
    let executable_by = match fields.get("isExecutableBy") {
        None => None,
        Some(value) => Some(match value.scalar("isExecutableBy")? {
            "owner" => ExecutableBy::Owner,
            "group" => ExecutableBy::Group,
            "other" => ExecutableBy::Other,
            "any" => ExecutableBy::Any,
            _ => return Err(error("isExecutableBy is one of owner, group, other, any", value.span())),
        }),
    };
    Ok(FileExistenceTest {
        name: required(node, &fields, "name")?.string("name")?,
        path: required(node, &fields, "path")?.string("path")?,
        should_exist: fields.get("shouldExist").map_or(Ok(true), |v| v.boolean("shouldExist"))?,
        permissions: fields.get("permissions").map(|v| v.string("permissions")).transpose()?,
        uid: id("uid")?,
        gid: id("gid")?,
        executable_by,
    })
}

fn file_content_test(node: &Marked) -> Result<FileContentTest, StructureError> {
    let fields = node.fields("a file content test", &["name", "path", "expectedContents", "excludedContents"])?;
    Ok(FileContentTest {
        name: required(node, &fields, "name")?.string("name")?,
        path: required(node, &fields, "path")?.string("path")?,
        expected: patterns(&fields, "expectedContents")?,
        excluded: patterns(&fields, "excludedContents")?,
    })
}

fn metadata_test(node: &Marked) -> Result<MetadataTest, StructureError> {
    let fields = node.fields(
        "metadataTest",
        &[
            "env",
            "labels",
            "exposedPorts",
            "unexposedPorts",
            "volumes",
            "unmountedVolumes",
            "entrypoint",
            "cmd",
            "workdir",
            "user",
        ],
    )?;
    let pairs = |key: &str| -> Result<Vec<EnvVar>, StructureError> {
        optional_list(&fields, key)?.iter().map(|n| env_var(n, key)).collect()
    };
    let words = |key: &str| fields.get(key).map(|v| v.strings(key)).transpose();
    let text = |key: &str| fields.get(key).map(|v| v.string(key)).transpose();
    Ok(MetadataTest {
        env: pairs("env")?,
        labels: pairs("labels")?,
        exposed_ports: optional_strings(&fields, "exposedPorts")?,
        unexposed_ports: optional_strings(&fields, "unexposedPorts")?,
        volumes: optional_strings(&fields, "volumes")?,
        unmounted_volumes: optional_strings(&fields, "unmountedVolumes")?,
        entrypoint: words("entrypoint")?,
        cmd: words("cmd")?,
        workdir: text("workdir")?,
        user: text("user")?,
    })
}

fn env_var(node: &Marked, list: &str) -> Result<EnvVar, StructureError> {
    let fields = node.fields(list, &["key", "value", "isRegex"])?;
    let is_regex = fields.get("isRegex").map_or(Ok(false), |v| v.boolean("isRegex"))?;
    let value = required(node, &fields, "value")?;
    let text = value.string("value")?;
    if is_regex {
        Pattern::new(&text).map_err(|err| error(format!("not a regular expression: {err}"), value.span()))?;
    }
    Ok(EnvVar { key: required(node, &fields, "key")?.string("key")?, value: text, is_regex })
}

fn required<'a>(node: &Marked, fields: &HashMap<&str, &'a Marked>, key: &str) -> Result<&'a Marked, StructureError> {
    fields.get(key).copied().ok_or_else(|| error(format!("`{key}` is missing"), node.span()))
}

fn optional_list<'a>(fields: &HashMap<&str, &'a Marked>, key: &str) -> Result<&'a [Marked], StructureError> {
    fields.get(key).map_or(Ok(&[][..]), |node| node.list(key))
}

fn optional_strings(fields: &HashMap<&str, &Marked>, key: &str) -> Result<Vec<String>, StructureError> {
    fields.get(key).map_or(Ok(Vec::new()), |node| node.strings(key))
}

fn patterns(fields: &HashMap<&str, &Marked>, key: &str) -> Result<Vec<Pattern>, StructureError> {
    optional_list(fields, key)?
        .iter()
        .map(|node| {
            let text = node.string(key)?;
            Pattern::new(&text).map_err(|err| error(format!("not a regular expression: {err}"), node.span()))
        })
        .collect()
}

/// A YAML node and where it starts; scalars keep their text, whatever it would resolve to.
#[derive(Debug, Clone)]
pub(super) struct Marked {
    pub(super) node: Node,
    pub(super) span: Range<usize>,
}

#[derive(Debug, Clone)]
pub(super) enum Node {
    Scalar(String),
    List(Vec<Marked>),
    Map(Vec<(Marked, Marked)>),
}

impl Marked {
    pub(super) fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    pub(super) fn kind(&self) -> &'static str {
        match self.node {
            Node::Scalar(_) => "a scalar",
            Node::List(_) => "a list",
            Node::Map(_) => "a mapping",
        }
    }

    fn wrong(&self, key: &str, expected: &str) -> StructureError {
        error(format!("{key} is {expected}, not {}", self.kind()), self.span())
    }

    pub(super) fn scalar(&self, key: &str) -> Result<&str, StructureError> {
        match &self.node {
            Node::Scalar(text) => Ok(text),
            _ => Err(self.wrong(key, "a scalar")),
        }
    }

    fn string(&self, key: &str) -> Result<String, StructureError> {
        self.scalar(key).map(str::to_string)
    }

    fn boolean(&self, key: &str) -> Result<bool, StructureError> {
        match self.scalar(key)? {
            "true" | "True" | "TRUE" => Ok(true),
            "false" | "False" | "FALSE" => Ok(false),
            _ => Err(error(format!("{key} is true or false"), self.span())),
        }
    }

    fn list(&self, key: &str) -> Result<&[Marked], StructureError> {
        match &self.node {
            Node::List(items) => Ok(items),
            _ => Err(self.wrong(key, "a list")),
        }
    }

    fn strings(&self, key: &str) -> Result<Vec<String>, StructureError> {
        self.list(key)?.iter().map(|item| item.string(key)).collect()
    }

    /// The mapping's entries by key, refusing keys the format does not have.
    fn fields(&self, what: &str, known: &[&str]) -> Result<HashMap<&str, &Marked>, StructureError> {
        let Node::Map(entries) = &self.node else { return Err(self.wrong(what, "a mapping")) };
        let mut fields = HashMap::new();
        for (key, value) in entries {
            let name = key.scalar("a key")?;
            if let Some(reason) = unsupported(name) {
                return Err(error(format!("`{name}` is not supported: {reason}"), key.span()));
            }
            if !known.contains(&name) {
                return Err(error(
                    format!("unknown key `{name}` in {what} (expected one of {})", known.join(", ")),
                    key.span(),
                ));
            }
            fields.insert(name, value);
        }
        Ok(fields)
    }
}

/// Keys of the format that sandbox refuses rather than ignores, and why.
fn unsupported(key: &str) -> Option<&'static str> {
    match key {
        "licenseTests" => Some("license files are not checked; a fileExistenceTest can require one"),
        "containerRunOptions" => {
            Some("the image always runs hardened (no privileges, capabilities or mounts to ask for)")
        }
        _ => None,
    }
}

/// The document as marked nodes; None for an empty file.
pub(super) fn load(text: &str) -> Result<Option<Marked>, StructureError> {
    let mut tree = Tree::default();
    Parser::new_from_str(text).load(&mut tree, false).map_err(|err| {
        let at = err.marker().index();
        error(format!("not valid YAML: {}", err.info()), at..at)
    })?;
    match tree.failure {
        Some(failure) => Err(failure),
        None => Ok(tree.root),
    }
}

/// Builds marked nodes from the parser's events (spans in characters, as the parser marks).
#[derive(Default)]
struct Tree {
    open: Vec<Open>,
    root: Option<Marked>,
    failure: Option<StructureError>,
}

enum Open {
    List(Vec<Marked>, usize),
    Map(Vec<(Marked, Marked)>, Option<Marked>, usize),
}

impl Tree {
    fn finished(&mut self, node: Marked) {
        match self.open.last_mut() {
            None => self.root = Some(node),
            Some(Open::List(items, _)) => items.push(node),
            Some(Open::Map(entries, key, _)) => match key.take() {
                None => *key = Some(node),
                Some(key) => entries.push((key, node)),
            },
        }
    }
}

impl MarkedEventReceiver for Tree {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let at = mark.index();
        match event {
            Event::Scalar(text, style, ..) => {
                // A quoted scalar's span covers its quotes.
                let quotes =
                    if matches!(style, TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted) { 2 } else { 0 };
                let span = at..at + text.chars().count() + quotes;
                self.finished(Marked { node: Node::Scalar(text), span });
            }
            Event::SequenceStart(..) => self.open.push(Open::List(Vec::new(), at)),
            Event::MappingStart(..) => self.open.push(Open::Map(Vec::new(), None, at)),
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.open.pop() {
                    Some(Open::List(items, start)) => {
                        Marked { node: Node::List(items), span: start..at.max(start + 1) }
                    }
                    Some(Open::Map(entries, _, start)) => {
                        Marked { node: Node::Map(entries), span: start..at.max(start + 1) }
                    }
                    None => return,
                };
                self.finished(node);
            }
            Event::Alias(_) if self.failure.is_none() => {
                self.failure = Some(error("anchors and aliases are not supported: write the value out", at..at + 1));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"schemaVersion: "2.0.0"
globalEnvVars:
  - key: MODE
    value: test
commandTests:
  - name: "python is there"
    command: "python3"
    args: ["--version"]
    expectedOutput: ["Python 3\\.\\d+"]
    exitCode: 0
  - name: setup then check
    setup: [["touch", "/tmp/x"]]
    command: ls
    args: [/tmp/x]
fileExistenceTests:
  - name: app
    path: /app/server.py
    permissions: "-rw-r--r--"
    uid: 1000
    gid: -1
    isExecutableBy: owner
  - name: no secret
    path: /app/.env
    shouldExist: false
fileContentTests:
  - name: config
    path: /etc/app.conf
    expectedContents: ["port = 8080"]
    excludedContents: ["debug"]
metadataTest:
  env:
    - key: PORT
      value: "8080"
  labels:
    - key: version
      value: "^1\\."
      isRegex: true
  exposedPorts: ["8080"]
  entrypoint: []
  cmd: ["python3", "server.py"]
  workdir: /app
  user: app
"#;

    #[test]
    fn every_supported_kind_of_test_is_read() {
        let tests = parse(EXAMPLE).unwrap();
        assert_eq!(tests.global_env, [EnvVar { key: "MODE".into(), value: "test".into(), is_regex: false }]);
        assert_eq!(tests.commands.len(), 2);
        let python = &tests.commands[0];
        assert_eq!((python.command.as_str(), python.args.as_slice()), ("python3", &["--version".to_string()][..]));
        assert!(python.expected_output[0].is_match("Python 3.11.2"));
        assert_eq!(tests.commands[1].setup, [vec!["touch".to_string(), "/tmp/x".to_string()]]);
        let app = &tests.files[0];
        assert_eq!((app.uid, app.gid, app.executable_by), (Some(1000), None, Some(ExecutableBy::Owner)));
        assert!(app.should_exist && !tests.files[1].should_exist);
        assert_eq!(tests.contents[0].excluded[0].as_str(), "debug");
        let metadata = tests.metadata.unwrap();
        assert_eq!(metadata.entrypoint, Some(vec![]));
        assert_eq!(metadata.cmd.unwrap(), ["python3", "server.py"]);
        assert!(metadata.labels[0].is_regex);
        assert_eq!(metadata.user.as_deref(), Some("app"));
    }

    fn failure(text: &str) -> (String, String) {
        let err = parse(text).unwrap_err();
        (err.message, text[err.span].to_string())
    }

    #[test]
    fn errors_point_at_what_is_wrong() {
        let (message, at) = failure("schemaVersion: '2.0.0'\ncommandTests:\n  - name: x\n    comand: ls\n");
        assert!(message.contains("unknown key `comand`"), "{message}");
        assert_eq!(at, "comand");
        let (message, at) = failure("schemaVersion: '1.0.0'\n");
        assert!(message.contains("2.0.0"), "{message}");
        assert_eq!(at, "'1.0.0'");
        let (message, at) = failure(
            "schemaVersion: '2.0.0'\nfileContentTests:\n  - name: x\n    path: /x\n    expectedContents: ['(']\n",
        );
        assert!(message.contains("not a regular expression"), "{message}");
        assert_eq!(at, "'('");
        let (message, _) = failure("schemaVersion: '2.0.0'\nlicenseTests: []\n");
        assert!(message.contains("not supported"), "{message}");
        let (message, _) = failure("schemaVersion: '2.0.0'\ncommandTests:\n  - name: no command\n");
        assert!(message.contains("`command` is missing"), "{message}");
        let (message, _) = failure("schemaVersion: '2.0.0'\ncommandTests: [\n");
        assert!(message.starts_with("not valid YAML"), "{message}");
    }

    #[test]
    fn a_span_after_multibyte_characters_is_in_bytes() {
        let text = "schemaVersion: '2.0.0'\nfileExistenceTests:\n  - name: é\u{fffd}é\n    path: /x\n    isExecutableBy: nobody\n";
        let err = parse(text).unwrap_err();
        assert_eq!(text.get(err.span.clone()), Some("nobody"), "{err:?}");
    }
}
