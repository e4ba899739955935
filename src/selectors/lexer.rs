//! Lexer of the label selector query-string syntax (upstream `labels.Lexer`).

/// A token of the selector grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tok {
    Error,
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn keyword(s: &[u8]) -> Option<Tok> {
    Some(match s {
        b")" => Tok::ClosedPar,
        b"," => Tok::Comma,
        b"!" => Tok::DoesNotExist,
        b"==" => Tok::DoubleEquals,
        b"=" => Tok::Equals,
        b">" => Tok::GreaterThan,
        b"in" => Tok::In,
        b"<" => Tok::LessThan,
        b"!=" => Tok::NotEquals,
        b"notin" => Tok::NotIn,
        b"(" => Tok::OpenPar,
        _ => return None,
    })
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Splits `s` into tokens and their literals, ending with [`Tok::End`] or [`Tok::Error`].
pub(super) fn lex_all(s: &str) -> Vec<(Tok, String)> {
    let b = s.as_bytes();
    let mut pos = 0;
    let mut out = Vec::new();
    loop {
        while pos < b.len() && is_ws(b[pos]) {
            pos += 1;
        }
        if pos >= b.len() || b[pos] == 0 {
            out.push((Tok::End, String::new()));
            return out;
        }
        if is_special(b[pos]) {
            let mut buf: Vec<u8> = Vec::new();
            let mut last: Option<(Tok, String)> = None;
            while pos < b.len() && b[pos] != 0 && is_special(b[pos]) {
                buf.push(b[pos]);
                pos += 1;
                if let Some(t) = keyword(&buf) {
                    last = Some((t, String::from_utf8_lossy(&buf).into_owned()));
                } else if last.is_some() {
                    pos -= 1;
                    break;
                }
            }
            match last {
                Some(item) => out.push(item),
                None => out.push((
                    Tok::Error,
                    format!(
                        "error expected: keyword found '{}'",
                        String::from_utf8_lossy(&buf)
                    ),
                )),
            }
        } else {
            let start = pos;
            while pos < b.len() && b[pos] != 0 && !is_special(b[pos]) && !is_ws(b[pos]) {
                pos += 1;
            }
            let buf = &b[start..pos];
            let lit = String::from_utf8_lossy(buf).into_owned();
            match keyword(buf) {
                Some(t) => out.push((t, lit)),
                None => out.push((Tok::Identifier, lit)),
            }
        }
    }
}
