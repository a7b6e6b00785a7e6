//! systemd's syntax for what a service runs: command lines (prefixes, quoting, C escapes,
//! `$VAR`/`${VAR}` substitution), `Environment=` assignments and `EnvironmentFile=` files.
//! Commands are split and exec'd directly, as systemd does, rather than handed to a shell.

/// An ordered environment: later assignments replace earlier ones in place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: Vec<(String, String)>,
}

impl Env {
    pub fn set(&mut self, name: &str, value: &str) {
        if !valid_name(name) {
            return;
        }
        match self.vars.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 = value.to_string(),
            None => self.vars.push((name.to_string(), value.to_string())),
        }
    }

    /// NAME=VALUE; anything else is ignored, as systemd does with invalid assignments.
    pub fn assign(&mut self, assignment: &str) {
        if let Some((name, value)) = assignment.split_once('=') {
            self.set(name, value);
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn entries(&self) -> Vec<String> {
        self.vars.iter().map(|(n, v)| format!("{n}={v}")).collect()
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The assignments of one `Environment=` line: blanks separate them, quotes group.
pub fn environment_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut started = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            } else if c == '\\' && q == '"' && chars.peek().is_some() {
                word.push(chars.next().unwrap_or_default());
            } else {
                word.push(c);
            }
            continue;
        }
        match c {
            '"' | '\'' => {
                quote = Some(c);
                started = true;
            }
            ' ' | '\t' => {
                if started {
                    words.push(std::mem::take(&mut word));
                }
                started = false;
            }
            _ => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

/// The KEY=VALUE lines of an `EnvironmentFile=` (comments, blank lines and `export ` skipped,
/// one level of surrounding quotes removed).
pub fn environment_file(text: &str) -> Vec<(String, String)> {
    let blank = [' ', '\t'];
    let mut out = Vec::new();
    for line in text.lines() {
        let mut line = line.trim_matches(blank);
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("export ") {
            line = rest.trim_matches(blank);
        }
        let Some((k, v)) = line.split_once('=') else { continue };
        let v = v.trim_matches(blank);
        let unquoted = [('"', '"'), ('\'', '\'')]
            .iter()
            .find(|(a, b)| v.len() >= 2 && v.starts_with(*a) && v.ends_with(*b))
            .map(|_| &v[1..v.len() - 1])
            .unwrap_or(v);
        out.push((k.trim_matches(blank).to_string(), unquoted.to_string()));
    }
    out
}

/// A command line's prefixes: `-` (failure is ignored), `+`/`!` (runs with full privileges);
/// `@` and `:` are accepted and have no effect here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub ignore_failure: bool,
    pub privileged: bool,
    pub line: String,
}

pub fn prefixes(line: &str) -> CommandLine {
    let mut cmd = CommandLine { ignore_failure: false, privileged: false, line: String::new() };
    let mut rest = line;
    loop {
        match rest.chars().next() {
            Some('-') => cmd.ignore_failure = true,
            Some('+' | '!') => cmd.privileged = true,
            Some('@' | ':') => {}
            _ => break,
        }
        rest = &rest[1..];
    }
    cmd.line = rest.to_string();
    cmd
}

/// One word as written: whether it was quoted matters for `$VAR` (only an unquoted word that
/// is exactly `$VAR` is split; a quoted one stays one word).
struct Word {
    text: String,
    quoted: bool,
}

fn split_words(line: &str) -> Vec<Word> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return words;
        }
        let mut text = String::new();
        let mut quoted = false;
        let mut quote: Option<char> = None;
        while let Some(&c) = chars.peek() {
            if quote.is_none() && c.is_whitespace() {
                break;
            }
            chars.next();
            match (quote, c) {
                (None, '"' | '\'') => {
                    quote = Some(c);
                    quoted = true;
                }
                (Some(q), c) if c == q => quote = None,
                (_, '\\') => unescape(&mut chars, &mut text),
                (_, c) => text.push(c),
            }
        }
        words.push(Word { text, quoted });
    }
}

/// C-style escapes (`\n`, `\t`, `\\`, `\"`, `\xNN`…); unknown ones are kept as written.
fn unescape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, out: &mut String) {
    let Some(c) = chars.next() else {
        out.push('\\');
        return;
    };
    let simple = match c {
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'f' => Some('\x0c'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\x0b'),
        's' => Some(' '),
        '\\' | '"' | '\'' => Some(c),
        _ => None,
    };
    if let Some(s) = simple {
        out.push(s);
        return;
    }
    if c == 'x' {
        let hex: String = chars.clone().take(2).collect();
        if let Ok(v) = u8::from_str_radix(&hex, 16) {
            if hex.len() == 2 {
                chars.next();
                chars.next();
                out.push(char::from(v));
                return;
            }
        }
    }
    out.push('\\');
    out.push(c);
}

/// `${NAME}` inside a word is replaced by the variable's value; `$$` is a literal `$`.
fn substitute(word: &str, env: &Env) -> String {
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some((name, tail)) = after.strip_prefix('{').and_then(|a| a.split_once('}')) {
            out.push_str(env.get(name).unwrap_or(""));
            rest = tail;
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The argv of a command line (prefixes already removed) in environment ENV.
pub fn argv(line: &str, env: &Env) -> Vec<String> {
    let mut args = Vec::new();
    for word in split_words(line) {
        let whole = word.text.strip_prefix('$').filter(|n| valid_name(n));
        if let (Some(name), false) = (whole, word.quoted) {
            // `$NAME` as a word of its own: its value split at blanks, zero or more words.
            args.extend(env.get(name).unwrap_or("").split_whitespace().map(String::from));
        } else if let Some(name) = whole {
            args.push(env.get(name).unwrap_or("").to_string());
        } else {
            args.push(substitute(&word.text, env));
        }
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        let mut e = Env::default();
        for (k, v) in pairs {
            e.set(k, v);
        }
        e
    }

    #[test]
    fn command_lines_split_like_systemd() {
        let e = env(&[("MAINPID", "42"), ("OPTS", "-a  -b")]);
        assert_eq!(
            argv("/usr/sbin/nginx -g 'daemon on; master_process on;' -s reload", &e),
            ["/usr/sbin/nginx", "-g", "daemon on; master_process on;", "-s", "reload"]
        );
        assert_eq!(argv("/bin/kill -HUP $MAINPID", &e), ["/bin/kill", "-HUP", "42"]);
        assert_eq!(
            argv("/bin/app $OPTS ${OPTS} \"$OPTS\" $$HOME x$MAINPID", &e),
            ["/bin/app", "-a", "-b", "-a  -b", "-a  -b", "$HOME", "x$MAINPID"]
        );
        assert_eq!(
            argv("/bin/sh -c 'echo \"$(id -u) $USER\"; kill $MAINPID'", &e),
            ["/bin/sh", "-c", "echo \"$(id -u) $USER\"; kill $MAINPID"]
        );
        assert_eq!(
            argv("/sbin/agetty -o '-p -- \\\\u' --noclear", &e),
            ["/sbin/agetty", "-o", "-p -- \\u", "--noclear"]
        );
        assert_eq!(argv("/bin/x $UNSET end", &e), ["/bin/x", "end"]);
    }

    #[test]
    fn prefixes_are_read() {
        assert_eq!(
            prefixes("-/bin/false"),
            CommandLine { ignore_failure: true, privileged: false, line: "/bin/false".into() }
        );
        assert!(prefixes("+-@/bin/x").privileged);
    }

    #[test]
    fn environment_lines_and_files() {
        assert_eq!(environment_words("\"A=one two\" B=x 'C=it''s'"), ["A=one two", "B=x", "C=its"]);
        assert_eq!(environment_words("\"D=say \\\"hi\\\"\""), ["D=say \"hi\""]);
        let vars = environment_file("# settings\nC=\"three four\"\nexport D=4\n\nB=from-file\nnot an assignment\n");
        assert_eq!(
            vars,
            [("C".into(), "three four".into()), ("D".into(), "4".into()), ("B".into(), "from-file".into())]
        );
        let mut e = Env::default();
        e.assign("1BAD=x");
        e.assign("A=1");
        e.assign("A=2");
        assert_eq!(e.entries(), ["A=2"]);
    }
}
