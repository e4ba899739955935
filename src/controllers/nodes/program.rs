//! What a simulated container does, read from its `command` and `args`: simple shell commands
//! (`true`, `false`, `exit N`, `sleep N`, `echo …`, `:` joined by `;`, `&&`, `||`, also inside
//! `sh -c "…"`) end with an exit code after the time they sleep; anything else (a server, an
//! image's own entrypoint) runs until the pod is deleted.

use std::time::Duration;

/// How a simulated container behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Program {
    /// Runs until stopped.
    Forever,
    /// Exits with `code` after `after`.
    Exit {
        /// Exit code.
        code: i32,
        /// Run time.
        after: Duration,
    },
}

/// The program of a container with `command` and `args`.
pub fn interpret(command: &[String], args: &[String]) -> Program {
    let words: Vec<&str> = command.iter().chain(args).map(String::as_str).collect();
    let Some(first) = words.first() else {
        return Program::Forever;
    };
    let base = first.rsplit('/').next().unwrap_or(first);
    if matches!(base, "sh" | "bash" | "ash" | "dash" | "zsh") {
        // `sh -c SCRIPT [name args…]`, possibly with other single-letter flags before `-c`.
        let mut rest = words[1..].iter();
        for w in rest.by_ref() {
            if *w == "-c" || (w.starts_with('-') && w.ends_with('c') && !w.starts_with("--")) {
                return match rest.next() {
                    Some(script) => script_program(script),
                    None => Program::Forever,
                };
            }
            if !w.starts_with('-') {
                break;
            }
        }
        return Program::Forever;
    }
    let line = words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ");
    script_program(&line)
}

fn shell_quote(w: &str) -> String {
    if w.is_empty() || w.contains(|c: char| c.is_whitespace() || c == ';' || c == '&' || c == '|') {
        format!("'{}'", w.replace('\'', ""))
    } else {
        w.to_string()
    }
}

/// Runs a tiny shell script: a list of simple commands joined by `;`, newlines, `&&` and `||`.
fn script_program(script: &str) -> Program {
    let mut elapsed = Duration::ZERO;
    let mut status = 0;
    // The operator before each command: `;`, `&&` or `||`.
    let mut op = ";";
    for (cmd, next_op) in split_commands(script) {
        let run = match op {
            "&&" => status == 0,
            "||" => status != 0,
            _ => true,
        };
        op = next_op;
        if !run {
            continue;
        }
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let Some(name) = words.first() else { continue };
        let name = name.trim_matches(|c| c == '\'' || c == '"');
        let name = name.rsplit('/').next().unwrap_or(name);
        match name {
            "true" | ":" => status = 0,
            "false" => status = 1,
            "echo" | "printf" | "date" | "env" | "hostname" | "ls" | "cat" | "touch" | "mkdir"
            | "rm" | "cp" | "mv" => status = 0,
            "exit" => {
                let code = match words.get(1) {
                    Some(c) => match c.trim_matches(|c| c == '\'' || c == '"').parse() {
                        Ok(c) => c,
                        Err(_) => return Program::Forever,
                    },
                    None => status,
                };
                return Program::Exit {
                    code,
                    after: elapsed,
                };
            }
            "sleep" => match words
                .get(1)
                .map(|w| w.trim_matches(|c| c == '\'' || c == '"'))
            {
                Some("infinity") | None => return Program::Forever,
                Some(d) => match sleep_duration(d) {
                    Some(d) => {
                        elapsed += d;
                        status = 0;
                    }
                    None => return Program::Forever,
                },
            },
            _ => return Program::Forever,
        }
    }
    Program::Exit {
        code: status,
        after: elapsed,
    }
}

/// `sleep`'s argument: seconds, optionally with a suffix `s`, `m`, `h` or `d`.
fn sleep_duration(s: &str) -> Option<Duration> {
    let (num, mult) = match s.chars().last()? {
        's' => (&s[..s.len() - 1], 1.0),
        'm' => (&s[..s.len() - 1], 60.0),
        'h' => (&s[..s.len() - 1], 3600.0),
        'd' => (&s[..s.len() - 1], 86400.0),
        _ => (s, 1.0),
    };
    let n: f64 = num.parse().ok()?;
    (n.is_finite() && n >= 0.0).then(|| Duration::from_secs_f64(n * mult))
}

/// Splits a script into commands with the operator that follows each.
fn split_commands(script: &str) -> Vec<(&str, &'static str)> {
    let mut out = Vec::new();
    let bytes = script.as_bytes();
    let (mut start, mut i) = (0, 0);
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let c = bytes[i];
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        let op: Option<(&'static str, usize)> = match c {
            b'\'' | b'"' => {
                quote = Some(c);
                None
            }
            b';' | b'\n' => Some((";", 1)),
            b'&' if bytes.get(i + 1) == Some(&b'&') => Some(("&&", 2)),
            b'|' if bytes.get(i + 1) == Some(&b'|') => Some(("||", 2)),
            _ => None,
        };
        match op {
            Some((op, len)) => {
                out.push((script[start..i].trim(), op));
                i += len;
                start = i;
            }
            None => i += 1,
        }
    }
    out.push((script[start..].trim(), ";"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(cmd: &[&str]) -> Program {
        let v: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        interpret(&v, &[])
    }

    fn exit(code: i32, secs: u64) -> Program {
        Program::Exit {
            code,
            after: Duration::from_secs(secs),
        }
    }

    #[test]
    fn simple_commands() {
        assert_eq!(p(&[]), Program::Forever);
        assert_eq!(p(&["nginx", "-g", "daemon off;"]), Program::Forever);
        assert_eq!(p(&["true"]), exit(0, 0));
        assert_eq!(p(&["/bin/false"]), exit(1, 0));
        assert_eq!(p(&["sleep", "5"]), exit(0, 5));
        assert_eq!(p(&["sleep", "infinity"]), Program::Forever);
        assert_eq!(p(&["sh", "-c", "exit 0"]), exit(0, 0));
        assert_eq!(p(&["/bin/sh", "-c", "exit 3"]), exit(3, 0));
        assert_eq!(p(&["sh", "-c", "sleep 2; exit 1"]), exit(1, 2));
        assert_eq!(p(&["sh", "-c", "false && sleep 9"]), exit(1, 0));
        assert_eq!(p(&["sh", "-c", "false || echo 'a; b'"]), exit(0, 0));
        assert_eq!(
            p(&["sh", "-c", "while true; do sleep 1; done"]),
            Program::Forever
        );
        assert_eq!(p(&["sh"]), Program::Forever);
        assert_eq!(p(&["sleep", "1m"]), exit(0, 60));
    }
}
