//! The Docker track's Dockerfile read before anything is built: its instructions with their spans,
//! and what a build must not get as far as: what Docker itself would refuse (an unknown
//! instruction, no `FROM` first, a `COPY` or `ADD` without a destination) and what sandbox
//! refuses (a `FROM` outside the catalog's images, a `COPY` or `ADD` that leaves the build
//! context, an `ADD` of a URL). `sandbox lint` shows every one; a build stops at the first.

use miette::{Diagnostic, NamedSource, SourceSpan};

/// Every instruction Docker's parser knows (it reads them case-insensitively).
pub const KEYWORDS: [&str; 18] = [
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum DockerfileError {
    #[error("FROM {image}: not one of the images this host builds from")]
    #[diagnostic(
        code(sandbox::dockerfile::from_outside_catalog),
        help("base images come from the local store only (no registry); allowed: {allowed}")
    )]
    FromOutsideCatalog {
        image: String,
        allowed: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("not an allowed base image")]
        span: SourceSpan,
    },

    #[error("{instruction} {path}: leaves the build context")]
    #[diagnostic(
        code(sandbox::dockerfile::outside_context),
        help("copy files from inside the challenge's build context, by relative paths")
    )]
    OutsideContext {
        instruction: String,
        path: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("outside the context")]
        span: SourceSpan,
    },

    #[error("ADD {url}: a build has no route out")]
    #[diagnostic(code(sandbox::dockerfile::add_url), help("put the file in the build context and COPY it"))]
    AddUrl {
        url: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("a download")]
        span: SourceSpan,
    },

    #[error("`{keyword}` is not a Dockerfile instruction")]
    #[diagnostic(code(sandbox::dockerfile::unknown_instruction), help("{help}"))]
    UnknownInstruction {
        /// As written.
        keyword: String,
        help: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("unknown instruction")]
        span: SourceSpan,
    },

    #[error("{problem}")]
    #[diagnostic(
        code(sandbox::dockerfile::missing_from),
        help("a build starts from a base image: `FROM <image>` comes first (only ARG may precede it); allowed: {allowed}")
    )]
    MissingFrom {
        problem: String,
        allowed: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("{label}")]
        span: SourceSpan,
        label: String,
    },

    #[error("{instruction} without a destination")]
    #[diagnostic(
        code(sandbox::dockerfile::copy_without_destination),
        help("{instruction} takes one or more sources, then the destination: `{instruction} server.pl /app/`")
    )]
    CopyWithoutDestination {
        instruction: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("a source and a destination are needed")]
        span: SourceSpan,
    },
}

impl DockerfileError {
    /// Where in the Dockerfile the problem is.
    pub fn span(&self) -> SourceSpan {
        match self {
            DockerfileError::FromOutsideCatalog { span, .. }
            | DockerfileError::OutsideContext { span, .. }
            | DockerfileError::AddUrl { span, .. }
            | DockerfileError::UnknownInstruction { span, .. }
            | DockerfileError::MissingFrom { span, .. }
            | DockerfileError::CopyWithoutDestination { span, .. } => *span,
        }
    }
}

/// One instruction: its keyword (upper case), its arguments, and where it is in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub keyword: String,
    pub arguments: String,
    /// Byte range of the arguments in the file.
    pub span: (usize, usize),
    /// Byte range of the keyword as written (on its first line); `keyword_span.0..span.1` is
    /// the whole instruction.
    pub keyword_span: (usize, usize),
}

impl Instruction {
    /// The whole instruction, keyword to its last line.
    pub fn whole(&self) -> SourceSpan {
        SourceSpan::from(self.keyword_span.0..self.span.1)
    }
}

/// An instruction being read: where it starts, once a line has given it content.
struct Pending {
    positions: Option<(usize, usize, usize)>,
    joined: String,
    end: usize,
}

/// The instructions of `text` as Docker's parser reads them: comments and blank lines skipped
/// (inside a continued instruction too), continuation lines joined (the escape character is
/// `\`, or the one the `# escape=` parser directive names), heredoc bodies (`RUN <<EOF` … `EOF`)
/// taken as part of their instruction.
pub fn instructions(text: &str) -> Vec<Instruction> {
    let escape = escape_character(text);
    let mut found = Vec::new();
    let mut offset = 0;
    let mut pending: Option<Pending> = None;
    // Terminators still awaited, in order, and whether leading tabs are stripped (`<<-`).
    let mut heredocs: std::collections::VecDeque<(String, bool)> = Default::default();
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let content = line.trim_end_matches(['\n', '\r']);
        if let Some((terminator, chomp)) = heredocs.front() {
            let candidate = if *chomp { content.trim_start_matches('\t') } else { content };
            if candidate == terminator {
                heredocs.pop_front();
            }
            continue;
        }
        let trimmed = content.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut current = pending.take().unwrap_or(Pending { positions: None, joined: String::new(), end: start });
        let (piece, continued) = match content.trim_end().strip_suffix(escape) {
            Some(piece) => (piece, true),
            None => (content, false),
        };
        if current.positions.is_none() && !piece.trim().is_empty() {
            current.positions = Some(positions(start, piece));
        }
        current.joined.push_str(piece);
        current.end = start + content.len();
        if continued {
            pending = Some(current);
        } else if let Some(instruction) = instruction(current) {
            heredocs.extend(heredoc_terminators(&instruction));
            found.push(instruction);
        }
    }
    found.extend(pending.and_then(instruction));
    found
}

/// Where a line's keyword starts and ends and where its arguments start.
fn positions(line_start: usize, piece: &str) -> (usize, usize, usize) {
    let content = piece.trim_start();
    let begin = line_start + (piece.len() - content.len());
    let keyword_len = content.find(char::is_whitespace).unwrap_or(content.len());
    let rest = &content[keyword_len..];
    (begin, begin + keyword_len, begin + keyword_len + (rest.len() - rest.trim_start().len()))
}

fn instruction(pending: Pending) -> Option<Instruction> {
    let (begin, keyword_end, args_start) = pending.positions?;
    let joined = pending.joined.trim();
    let (keyword, arguments) = joined.split_once(char::is_whitespace).unwrap_or((joined, ""));
    Some(Instruction {
        keyword: keyword.to_ascii_uppercase(),
        arguments: arguments.trim().to_string(),
        span: (args_start.min(pending.end), pending.end),
        keyword_span: (begin, keyword_end),
    })
}

/// The `# escape=` parser directive's character (`\` when there is none). Directives are the
/// `# key=value` comments at the very top; the first other line ends them.
fn escape_character(text: &str) -> char {
    for line in text.lines() {
        let Some(directive) = line.trim().strip_prefix('#') else { break };
        let Some((key, value)) = directive.split_once('=') else { break };
        if key.trim().eq_ignore_ascii_case("escape") {
            return match value.trim() {
                "`" => '`',
                _ => '\\',
            };
        }
        if key.trim().is_empty() || key.trim().contains(char::is_whitespace) {
            break;
        }
    }
    '\\'
}

/// The heredocs a `RUN`, `COPY` or `ADD` opens (`<<EOF`, `<<-EOF`, `<<"EOF"`), in order.
fn heredoc_terminators(instruction: &Instruction) -> Vec<(String, bool)> {
    if !matches!(instruction.keyword.as_str(), "RUN" | "COPY" | "ADD") {
        return Vec::new();
    }
    instruction
        .arguments
        .split_whitespace()
        .filter_map(|word| {
            let rest = word.trim_start_matches(|c: char| c.is_ascii_digit()).strip_prefix("<<")?;
            let (chomp, rest) = match rest.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, rest),
            };
            let name =
                ['"', '\''].iter().find_map(|q| rest.strip_prefix(*q).and_then(|r| r.strip_suffix(*q))).unwrap_or(rest);
            let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            valid.then(|| (name.to_string(), chomp))
        })
        .collect()
}

/// Refuses what must not be built, the first problem in the file; `findings` has them all.
pub fn check(text: &str, name: &str, allowed: &[&str]) -> Result<Vec<Instruction>, DockerfileError> {
    let (found, errors) = read(text, name, allowed);
    match errors.into_iter().next() {
        Some(first) => Err(first),
        None => Ok(found),
    }
}

/// Every problem of the Dockerfile, in the order of the file.
pub fn findings(text: &str, name: &str, allowed: &[&str]) -> Vec<DockerfileError> {
    read(text, name, allowed).1
}

/// The instructions and every problem: an unknown instruction; no `FROM` before the first
/// instruction other than `ARG`, or none at all; `FROM` an image outside `allowed` (a stage
/// named earlier is fine); `COPY`/`ADD` without a destination, of a path leaving the context,
/// `ADD` of a URL.
fn read(text: &str, name: &str, allowed: &[&str]) -> (Vec<Instruction>, Vec<DockerfileError>) {
    let found = instructions(text);
    let mut reader = Reader {
        text,
        name,
        allowed,
        errors: Vec::new(),
        stages: Vec::new(),
        from_seen: false,
        missing_from_told: false,
    };
    for instruction in &found {
        reader.instruction(instruction);
    }
    if !reader.from_seen && !reader.missing_from_told {
        // Nothing but ARGs, comments or nothing at all: point at the last instruction, or the top.
        let (span, label) = match found.last() {
            Some(last) => (last.whole(), "no FROM follows".to_string()),
            None => (SourceSpan::from(0..0), "no instruction in this file".to_string()),
        };
        let problem = "no FROM: the Dockerfile names no base image".to_string();
        reader.errors.push(DockerfileError::MissingFrom {
            problem,
            allowed: allowed.join(", "),
            src: reader.src(),
            span,
            label,
        });
    }
    (found, reader.errors)
}

/// What `read` knows as it goes down the file.
struct Reader<'a> {
    text: &'a str,
    name: &'a str,
    allowed: &'a [&'a str],
    errors: Vec<DockerfileError>,
    /// Stages named so far (`FROM … AS name`): a later `FROM name` is fine.
    stages: Vec<String>,
    from_seen: bool,
    missing_from_told: bool,
}

impl Reader<'_> {
    fn src(&self) -> NamedSource<String> {
        NamedSource::new(self.name, self.text.to_string())
    }

    fn instruction(&mut self, instruction: &Instruction) {
        let keyword = instruction.keyword.as_str();
        if !KEYWORDS.contains(&keyword) {
            let (start, end) = instruction.keyword_span;
            self.errors.push(DockerfileError::UnknownInstruction {
                keyword: self.text[start..end].to_string(),
                help: unknown_help(keyword),
                src: self.src(),
                span: SourceSpan::from(start..end),
            });
            return;
        }
        if !self.from_seen && keyword != "FROM" && keyword != "ARG" && !self.missing_from_told {
            self.missing_from_told = true;
            self.errors.push(DockerfileError::MissingFrom {
                problem: format!("{keyword} before any FROM"),
                allowed: self.allowed.join(", "),
                src: self.src(),
                span: instruction.whole(),
                label: "no base image yet".into(),
            });
        }
        match keyword {
            "FROM" => self.from(instruction),
            "COPY" | "ADD" => self.copy(instruction, keyword),
            _ => {}
        }
    }

    fn from(&mut self, instruction: &Instruction) {
        self.from_seen = true;
        let words: Vec<&str> = instruction.arguments.split_whitespace().filter(|w| !w.starts_with("--")).collect();
        let image = words.first().copied().unwrap_or_default();
        if !self.allowed.contains(&image) && !self.stages.iter().any(|stage| stage.eq_ignore_ascii_case(image)) {
            self.errors.push(DockerfileError::FromOutsideCatalog {
                image: image.to_string(),
                allowed: self.allowed.join(", "),
                src: self.src(),
                span: SourceSpan::from(instruction.span.0..instruction.span.1),
            });
        }
        if let [_, alias, name] = words[..] {
            if alias.eq_ignore_ascii_case("as") {
                self.stages.push(name.to_string());
            }
        }
    }

    fn copy(&mut self, instruction: &Instruction, keyword: &str) {
        let span = SourceSpan::from(instruction.span.0..instruction.span.1);
        let paths = copy_paths(&instruction.arguments);
        if paths.len() < 2 {
            let instruction_name = keyword.to_string();
            let span = instruction.whole();
            self.errors.push(DockerfileError::CopyWithoutDestination {
                instruction: instruction_name,
                src: self.src(),
                span,
            });
            return;
        }
        if instruction.arguments.contains("--from=") {
            return;
        }
        let sources = &paths[..paths.len() - 1];
        if let Some(url) = sources.iter().find(|s| s.contains("://")) {
            self.errors.push(DockerfileError::AddUrl { url: url.to_string(), src: self.src(), span });
        } else if let Some(path) = sources.iter().find(|s| leaves_context(s)) {
            self.errors.push(DockerfileError::OutsideContext {
                instruction: keyword.to_string(),
                path: path.to_string(),
                src: self.src(),
                span,
            });
        }
    }
}

/// A `COPY`/`ADD`'s sources and destination, flags (`--chown=…`) left out: the JSON form
/// (`["a", "b"]`) when it parses as one, else the words.
fn copy_paths(arguments: &str) -> Vec<String> {
    let rest: Vec<&str> = arguments.split_whitespace().skip_while(|w| w.starts_with("--")).collect();
    let rest = rest.join(" ");
    if rest.starts_with('[') {
        if let Ok(list) = serde_json::from_str::<Vec<String>>(&rest) {
            return list;
        }
    }
    rest.split_whitespace().map(str::to_string).collect()
}

/// The help of an unknown instruction: the closest known one when it is a likely typo.
fn unknown_help(keyword: &str) -> String {
    let closest = KEYWORDS.iter().map(|known| (distance(keyword, known), *known)).min();
    match closest {
        Some((d, known)) if d <= 2 && d < keyword.len() => format!("did you mean `{known}`?"),
        _ => format!("instructions are: {}", KEYWORDS.join(", ")),
    }
}

/// Levenshtein distance, for suggestions between short keywords.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push((previous[j] + cost).min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// Whether a source path, resolved against the context's root, climbs above it.
fn leaves_context(path: &str) -> bool {
    let mut depth: i32 = 0;
    for part in path.trim_start_matches('/').split('/') {
        match part {
            ".." => depth -= 1,
            "" | "." => {}
            _ => depth += 1,
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOWED: [&str; 2] = ["debian:12", "debian:13"];

    #[test]
    fn continuations_join_and_comments_are_skipped() {
        let text = "# a comment\nFROM debian:12\nRUN apt-get update && \\\n    apt-get install -y curl\n\nUSER app\n";
        let found = instructions(text);
        let keywords: Vec<&str> = found.iter().map(|i| i.keyword.as_str()).collect();
        assert_eq!(keywords, ["FROM", "RUN", "USER"]);
        assert!(found[1].arguments.contains("apt-get update &&") && found[1].arguments.contains("install -y curl"));
        assert_eq!(&text[found[0].span.0..found[0].span.1], "debian:12");
    }

    #[test]
    fn a_from_outside_the_catalog_is_refused_at_its_line() {
        let text = "FROM debian:12 AS build\nRUN true\nFROM build\nFROM alpine:3.20\n";
        match check(text, "Dockerfile", &ALLOWED).unwrap_err() {
            DockerfileError::FromOutsideCatalog { image, span, .. } => {
                assert_eq!(image, "alpine:3.20");
                assert_eq!(&text[span.offset()..span.offset() + span.len()], "alpine:3.20");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(check("FROM --platform=linux/amd64 debian:13\n", "Dockerfile", &ALLOWED).is_ok());
    }

    #[test]
    fn copies_stay_inside_the_context_and_nothing_is_downloaded() {
        let refused = check("FROM debian:12\nCOPY app/../../secret /app\n", "Dockerfile", &ALLOWED).unwrap_err();
        assert!(matches!(refused, DockerfileError::OutsideContext { ref path, .. } if path == "app/../../secret"));
        let url = check("FROM debian:12\nADD https://example.com/x /x\n", "Dockerfile", &ALLOWED).unwrap_err();
        assert!(matches!(url, DockerfileError::AddUrl { .. }));
        let fine =
            "FROM debian:12 AS build\nCOPY --chown=app app/ /app/\nFROM debian:13\nCOPY --from=build /app /app\n";
        assert!(check(fine, "Dockerfile", &ALLOWED).is_ok());
    }

    /// The text a span covers and its line (1-based).
    fn at(text: &str, span: SourceSpan) -> (&str, usize) {
        (&text[span.offset()..span.offset() + span.len()], text[..span.offset()].matches('\n').count() + 1)
    }

    #[test]
    fn directives_lowercase_comments_in_continuations_and_heredocs_read_as_docker_does() {
        let text = "# syntax=docker/dockerfile:1\n# check=skip=all\nARG BASE=debian:12\nfrom debian:12\n\
                    run apt-get update && \\\n    # a comment inside\n\n    apt-get install -y curl\n\
                    RUN <<EOF\nset -e\nUSERR is not an instruction here\nEOF\n\
                    COPY <<-CONF /etc/app.conf\n\tkey = value\n\tCONF\nCmd [\"perl\", \"/app/server.pl\"]\n";
        let keywords: Vec<String> = instructions(text).into_iter().map(|i| i.keyword).collect();
        assert_eq!(keywords, ["ARG", "FROM", "RUN", "RUN", "COPY", "CMD"]);
        assert!(instructions(text)[2].arguments.contains("apt-get install -y curl"));
        assert!(findings(text, "Dockerfile", &ALLOWED).is_empty(), "{:?}", findings(text, "Dockerfile", &ALLOWED));
    }

    #[test]
    fn the_escape_directive_changes_the_continuation_character() {
        let text = "# escape=`\nFROM debian:12\nRUN echo a `\n    b\nWORKDIR C:\\\nUSER app\n";
        let found = instructions(text);
        let keywords: Vec<&str> = found.iter().map(|i| i.keyword.as_str()).collect();
        assert_eq!(keywords, ["FROM", "RUN", "WORKDIR", "USER"]);
        assert!(findings(text, "Dockerfile", &ALLOWED).is_empty());
    }

    #[test]
    fn an_unknown_instruction_is_reported_at_its_keyword() {
        let text = "FROM debian:12\nRUNN apt-get update\n  runn true\nFOOBAR x\n";
        let found = findings(text, "Dockerfile", &ALLOWED);
        assert_eq!(found.len(), 3, "{found:?}");
        let DockerfileError::UnknownInstruction { keyword, help, span, .. } = &found[0] else { panic!("{found:?}") };
        assert_eq!((keyword.as_str(), at(text, *span)), ("RUNN", ("RUNN", 2)));
        assert_eq!(help, "did you mean `RUN`?");
        assert_eq!(at(text, found[1].span()), ("runn", 3));
        let DockerfileError::UnknownInstruction { help, .. } = &found[2] else { panic!("{found:?}") };
        assert!(help.starts_with("instructions are: ADD, ARG"), "{help}");
    }

    #[test]
    fn a_missing_from_is_reported_at_the_first_instruction_before_it_or_at_the_end() {
        let text = "ARG V=12\nRUN true\nFROM debian:12\nRUN true\n";
        let found = findings(text, "Dockerfile", &ALLOWED);
        assert!(matches!(&found[..], [DockerfileError::MissingFrom { .. }]), "{found:?}");
        assert_eq!(at(text, found[0].span()), ("RUN true", 2));

        let only_args = "# nothing to build\nARG V=12\n";
        let found = findings(only_args, "Dockerfile", &ALLOWED);
        assert!(matches!(&found[..], [DockerfileError::MissingFrom { .. }]), "{found:?}");
        assert_eq!(at(only_args, found[0].span()), ("ARG V=12", 2));

        let empty = findings("", "Dockerfile", &ALLOWED);
        assert!(matches!(&empty[..], [DockerfileError::MissingFrom { span, .. }] if span.offset() == 0));
    }

    #[test]
    fn a_copy_without_a_destination_is_reported_at_its_line() {
        let text = "FROM debian:12\nCOPY server.pl\nadd --chown=app \\\n  app.tar\nCOPY [\"server.pl\"]\nCOPY --from=build /out\n";
        let found = findings(text, "Dockerfile", &ALLOWED);
        let lines: Vec<(&str, usize)> = found.iter().map(|f| at(text, f.span())).collect();
        assert_eq!(
            lines,
            [
                ("COPY server.pl", 2),
                ("add --chown=app \\\n  app.tar", 3),
                ("COPY [\"server.pl\"]", 5),
                ("COPY --from=build /out", 6)
            ]
        );
        assert!(found.iter().all(|f| matches!(f, DockerfileError::CopyWithoutDestination { .. })));
        assert!(findings("FROM debian:12\nCOPY [\"a b.pl\", \"/app/\"]\n", "Dockerfile", &ALLOWED).is_empty());
    }

    #[test]
    fn every_problem_is_found_at_once_and_a_build_stops_at_the_first() {
        let text = "RUNN true\nCOPY x\nFROM alpine:3.20\nADD https://example.com/x /x\nCOPY ../secret /s\n";
        let found = findings(text, "Dockerfile", &ALLOWED);
        let codes: Vec<String> = found.iter().map(|f| f.code().unwrap().to_string()).collect();
        assert_eq!(
            codes,
            [
                "sandbox::dockerfile::unknown_instruction",
                "sandbox::dockerfile::missing_from",
                "sandbox::dockerfile::copy_without_destination",
                "sandbox::dockerfile::from_outside_catalog",
                "sandbox::dockerfile::add_url",
                "sandbox::dockerfile::outside_context",
            ]
        );
        let lines: Vec<usize> = found.iter().map(|f| at(text, f.span()).1).collect();
        assert_eq!(lines, [1, 2, 2, 3, 4, 5]);
        assert!(matches!(check(text, "Dockerfile", &ALLOWED), Err(DockerfileError::UnknownInstruction { .. })));
    }

    #[test]
    fn every_bundled_dockerfile_reads_clean() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("challenges");
        let mut read = 0;
        for entry in std::fs::read_dir(root).unwrap() {
            let dir = entry.unwrap().path();
            for file in ["Dockerfile", "solution/Dockerfile"] {
                let Ok(text) = std::fs::read_to_string(dir.join(file)) else { continue };
                let found = findings(&text, file, &ALLOWED);
                assert!(found.is_empty(), "{}/{file}: {found:?}", dir.display());
                read += 1;
            }
        }
        assert!(read >= 12, "read {read} Dockerfiles");
    }
}
