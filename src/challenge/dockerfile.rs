//! The Docker track's Dockerfile read before anything is built: its instructions with their spans,
//! and the refusals a build must not get as far as (a `FROM` outside the catalog's images,
//! a `COPY` or `ADD` that leaves the build context, an `ADD` of a URL).

use miette::{Diagnostic, NamedSource, SourceSpan};

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
}

/// One instruction: its keyword (upper case), its arguments, and where it is in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub keyword: String,
    pub arguments: String,
    /// Byte range of the arguments in the file.
    pub span: (usize, usize),
}

/// The instructions of `text`, continuation lines joined, comments and blank lines skipped.
pub fn instructions(text: &str) -> Vec<Instruction> {
    let mut found = Vec::new();
    let mut offset = 0;
    let mut pending: Option<(usize, String)> = None;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let content = line.trim_end_matches(['\n', '\r']);
        let trimmed = content.trim_start();
        if pending.is_none() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        let (begin, mut joined) = pending.take().unwrap_or((start + content.len() - trimmed.len(), String::new()));
        match content.trim_end().strip_suffix('\\') {
            Some(continued) => {
                joined.push_str(continued);
                joined.push(' ');
                pending = Some((begin, joined));
            }
            None => {
                joined.push_str(content);
                found.push(instruction(begin, start + content.len(), &joined));
            }
        }
    }
    if let Some((begin, joined)) = pending {
        found.push(instruction(begin, text.len(), &joined));
    }
    found
}

fn instruction(begin: usize, end: usize, joined: &str) -> Instruction {
    let joined = joined.trim();
    let (keyword, arguments) = joined.split_once(char::is_whitespace).unwrap_or((joined, ""));
    let keyword_len = keyword.len();
    let arguments = arguments.trim();
    let args_start = (begin + keyword_len + 1).min(end);
    Instruction { keyword: keyword.to_ascii_uppercase(), arguments: arguments.to_string(), span: (args_start, end) }
}

/// Refuses what must not be built: `FROM` an image outside `allowed` (a stage named earlier
/// is fine), `COPY`/`ADD` of a path leaving the context, `ADD` of a URL.
pub fn check(text: &str, name: &str, allowed: &[&str]) -> Result<Vec<Instruction>, DockerfileError> {
    let src = || NamedSource::new(name, text.to_string());
    let found = instructions(text);
    let mut stages: Vec<String> = Vec::new();
    for instruction in &found {
        let span = SourceSpan::from(instruction.span.0..instruction.span.1);
        let words: Vec<&str> = instruction.arguments.split_whitespace().filter(|w| !w.starts_with("--")).collect();
        match instruction.keyword.as_str() {
            "FROM" => {
                let image = words.first().copied().unwrap_or_default();
                if !allowed.contains(&image) && !stages.iter().any(|stage| stage.eq_ignore_ascii_case(image)) {
                    return Err(DockerfileError::FromOutsideCatalog {
                        image: image.to_string(),
                        allowed: allowed.join(", "),
                        src: src(),
                        span,
                    });
                }
                if let [_, alias, name] = words[..] {
                    if alias.eq_ignore_ascii_case("as") {
                        stages.push(name.to_string());
                    }
                }
            }
            "COPY" | "ADD" if !instruction.arguments.contains("--from=") => {
                let sources = &words[..words.len().saturating_sub(1)];
                if let Some(url) = sources.iter().find(|s| s.contains("://")) {
                    return Err(DockerfileError::AddUrl { url: url.to_string(), src: src(), span });
                }
                if let Some(path) = sources.iter().find(|s| leaves_context(s)) {
                    return Err(DockerfileError::OutsideContext {
                        instruction: instruction.keyword.clone(),
                        path: path.to_string(),
                        src: src(),
                        span,
                    });
                }
            }
            _ => {}
        }
    }
    Ok(found)
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
}
