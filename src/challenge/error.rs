//! Every way a challenge is refused, each a diagnostic that says what to fix and, where the
//! manifest is to blame, points at the span of the value that caused it.

use std::path::PathBuf;

use miette::{Diagnostic, NamedSource, SourceSpan};

use super::MANIFEST;

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum ChallengeError {
    #[error("no {MANIFEST} in {}", dir.display())]
    #[diagnostic(
        code(sandbox::challenge::not_found),
        help("a challenge is a directory with challenge.toml, check.sh, playbook.yml and solution/; `sandbox new NAME` scaffolds one")
    )]
    NotFound { dir: PathBuf },

    #[error("cannot read {}", path.display())]
    #[diagnostic(code(sandbox::challenge::io))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{message}")]
    #[diagnostic(code(sandbox::challenge::syntax))]
    Syntax {
        message: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("here")]
        span: Option<SourceSpan>,
    },

    #[error("unknown distro `{name}`")]
    #[diagnostic(code(sandbox::challenge::unknown_distro), help("supported distros: {supported}"))]
    UnknownDistro {
        name: String,
        supported: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("not in the distro catalog")]
        span: SourceSpan,
    },

    #[error("{what} `{value}` leaves the challenge directory")]
    #[diagnostic(
        code(sandbox::challenge::path_outside),
        help("every file a challenge uses must live inside its directory")
    )]
    PathOutside {
        what: &'static str,
        value: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("resolves outside {}", dir.display())]
        span: SourceSpan,
        dir: PathBuf,
    },

    #[error("{what} `{value}` does not exist")]
    #[diagnostic(code(sandbox::challenge::missing_file))]
    MissingFile {
        what: &'static str,
        value: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("no such file in {}", dir.display())]
        span: SourceSpan,
        dir: PathBuf,
    },

    #[error("{what} file {} does not exist", path.display())]
    #[diagnostic(
        code(sandbox::challenge::missing_file),
        help("the default is used when {MANIFEST} does not set `{key}`")
    )]
    MissingDefaultFile { what: &'static str, key: &'static str, path: PathBuf },

    #[error("invalid {key}: {message}")]
    #[diagnostic(code(sandbox::challenge::invalid_value))]
    InvalidValue {
        key: &'static str,
        message: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("{message}")]
        span: SourceSpan,
    },

    #[error("{}: {message}", path.display())]
    #[diagnostic(
        code(sandbox::challenge::structure_tests),
        help("the file is container-structure-test's YAML (schemaVersion 2.0.0): commandTests, fileExistenceTests, fileContentTests, metadataTest")
    )]
    StructureTests {
        path: PathBuf,
        message: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("{message}")]
        span: SourceSpan,
    },

    #[error("goss file {} is not valid: {message}", path.display())]
    #[diagnostic(
        code(sandbox::challenge::goss_file),
        help("the file is goss's YAML: resource types (package, service, file, port, user, group, process, command, http, addr, dns, mount, kernel-param, interface, gossfile) mapping resources to attributes and matchers")
    )]
    GossFile {
        path: PathBuf,
        message: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("{message}")]
        span: SourceSpan,
    },

    #[error("symlink {} points outside the challenge", link.display())]
    #[diagnostic(
        code(sandbox::challenge::symlink_outside),
        help("the whole challenge directory is copied into the sandbox; a link to the host's files is refused")
    )]
    SymlinkOutside { link: PathBuf },
}
