//! Calico's label selectors, as BGPPeer `nodeSelector` / `peerSelector`
//! and IPPool `nodeSelector` write them: `all()`, `has(k)`, `k == 'v'`,
//! `k != 'v'`, `k in {'a', 'b'}`, `k not in {…}`, `k contains 'x'`,
//! `k starts with 'x'`, `k ends with 'x'`, `!e`, `e && e`, `e || e` and
//! parentheses; `!` binds tightest, then `&&`, then `||` (libcalico-go's
//! grammar). An empty selector selects nothing, as in Calico's BGPPeer.

use std::collections::BTreeMap;

/// A parsed selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    All,
    /// An empty selector: matches nothing.
    Nothing,
    Has(String),
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Contains(String, String),
    StartsWith(String, String),
    EndsWith(String, String),
    Not(Box<Selector>),
    And(Box<Selector>, Box<Selector>),
    Or(Box<Selector>, Box<Selector>),
}

/// Why a selector does not parse, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectorError {
    pub at: usize,
    pub message: String,
}

impl std::fmt::Display for SelectorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "selector: {} at character {}", self.message, self.at + 1)
    }
}

impl Selector {
    /// Parses a selector.
    pub fn parse(text: &str) -> Result<Selector, SelectorError> {
        let toks = lex(text)?;
        if toks.is_empty() {
            return Ok(Selector::Nothing);
        }
        let mut p = Parser {
            toks,
            i: 0,
            end: text.chars().count(),
        };
        let s = p.or()?;
        match p.toks.get(p.i) {
            None => Ok(s),
            Some((at, t)) => Err(SelectorError {
                at: *at,
                message: format!("unexpected {t:?}"),
            }),
        }
    }

    /// Whether a resource with `labels` is selected.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let get = |k: &String| labels.get(k);
        match self {
            Selector::All => true,
            Selector::Nothing => false,
            Selector::Has(k) => labels.contains_key(k),
            Selector::Eq(k, v) => get(k) == Some(v),
            // Calico: a missing label is "not equal".
            Selector::Ne(k, v) => get(k) != Some(v),
            Selector::In(k, vs) => get(k).is_some_and(|x| vs.contains(x)),
            Selector::NotIn(k, vs) => get(k).is_none_or(|x| !vs.contains(x)),
            Selector::Contains(k, v) => get(k).is_some_and(|x| x.contains(v.as_str())),
            Selector::StartsWith(k, v) => get(k).is_some_and(|x| x.starts_with(v.as_str())),
            Selector::EndsWith(k, v) => get(k).is_some_and(|x| x.ends_with(v.as_str())),
            Selector::Not(s) => !s.matches(labels),
            Selector::And(a, b) => a.matches(labels) && b.matches(labels),
            Selector::Or(a, b) => a.matches(labels) || b.matches(labels),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Word(String),
    Str(String),
    Op(&'static str),
}

/// Label keys: Kubernetes' `prefix/name` with dots, dashes, underscores.
fn key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/')
}

fn lex(text: &str) -> Result<Vec<(usize, Tok)>, SelectorError> {
    let b: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let two: String = b[i..(i + 2).min(b.len())].iter().collect();
        if let Some(op) = ["==", "!=", "&&", "||"].into_iter().find(|o| *o == two) {
            out.push((start, Tok::Op(op)));
            i += 2;
        } else if let Some(op) = ["!", "(", ")", "{", "}", ","].into_iter().find(|o| o.starts_with(c)) {
            out.push((start, Tok::Op(op)));
            i += 1;
        } else if c == '\'' || c == '"' {
            let end = b[i + 1..].iter().position(|x| *x == c).ok_or(SelectorError {
                at: start,
                message: "unterminated string".into(),
            })?;
            out.push((start, Tok::Str(b[i + 1..i + 1 + end].iter().collect())));
            i += end + 2;
        } else if key_char(c) {
            let end = b[i..].iter().position(|x| !key_char(*x)).map_or(b.len(), |n| i + n);
            out.push((start, Tok::Word(b[i..end].iter().collect())));
            i = end;
        } else {
            return Err(SelectorError {
                at: start,
                message: format!("unexpected character {c:?}"),
            });
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    i: usize,
    /// Where the input ends: what an error there points at.
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|(_, t)| t)
    }

    fn at(&self) -> usize {
        self.toks.get(self.i).map_or(self.end, |(a, _)| *a)
    }

    fn err<T>(&self, message: &str) -> Result<T, SelectorError> {
        Err(SelectorError {
            at: self.at(),
            message: message.into(),
        })
    }

    fn eat_op(&mut self, op: &'static str) -> bool {
        if self.peek() == Some(&Tok::Op(op)) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Word(x)) if x == w) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Selector, SelectorError> {
        let mut s = self.and()?;
        while self.eat_op("||") {
            s = Selector::Or(Box::new(s), Box::new(self.and()?));
        }
        Ok(s)
    }

    fn and(&mut self) -> Result<Selector, SelectorError> {
        let mut s = self.unary()?;
        while self.eat_op("&&") {
            s = Selector::And(Box::new(s), Box::new(self.unary()?));
        }
        Ok(s)
    }

    fn unary(&mut self) -> Result<Selector, SelectorError> {
        if self.eat_op("!") {
            return Ok(Selector::Not(Box::new(self.unary()?)));
        }
        if self.eat_op("(") {
            let s = self.or()?;
            if !self.eat_op(")") {
                return self.err("expected ')'");
            }
            return Ok(s);
        }
        let Some(Tok::Word(w)) = self.peek().cloned() else {
            return self.err("expected a label, all() or has()");
        };
        self.i += 1;
        if w == "all" || w == "has" {
            if !self.eat_op("(") {
                return self.err("expected '('");
            }
            let s = if w == "all" {
                Selector::All
            } else {
                let Some(Tok::Word(k)) = self.peek().cloned() else {
                    return self.err("expected a label in has()");
                };
                self.i += 1;
                Selector::Has(k)
            };
            if !self.eat_op(")") {
                return self.err("expected ')'");
            }
            return Ok(s);
        }
        if self.eat_op("==") {
            return Ok(Selector::Eq(w, self.string()?));
        }
        if self.eat_op("!=") {
            return Ok(Selector::Ne(w, self.string()?));
        }
        if self.eat_word("in") {
            return Ok(Selector::In(w, self.set()?));
        }
        if self.eat_word("not") {
            if !self.eat_word("in") {
                return self.err("expected 'in' after 'not'");
            }
            return Ok(Selector::NotIn(w, self.set()?));
        }
        if self.eat_word("contains") {
            return Ok(Selector::Contains(w, self.string()?));
        }
        if self.eat_word("starts") {
            if !self.eat_word("with") {
                return self.err("expected 'with'");
            }
            return Ok(Selector::StartsWith(w, self.string()?));
        }
        if self.eat_word("ends") {
            if !self.eat_word("with") {
                return self.err("expected 'with'");
            }
            return Ok(Selector::EndsWith(w, self.string()?));
        }
        self.err("expected an operator after the label")
    }

    fn string(&mut self) -> Result<String, SelectorError> {
        match self.peek().cloned() {
            Some(Tok::Str(s)) => {
                self.i += 1;
                Ok(s)
            }
            _ => self.err("expected a quoted value"),
        }
    }

    fn set(&mut self) -> Result<Vec<String>, SelectorError> {
        if !self.eat_op("{") {
            return self.err("expected '{'");
        }
        let mut v = Vec::new();
        if self.eat_op("}") {
            return Ok(v);
        }
        loop {
            v.push(self.string()?);
            if self.eat_op("}") {
                return Ok(v);
            }
            if !self.eat_op(",") {
                return self.err("expected ',' or '}'");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn sel(s: &str) -> Selector {
        Selector::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn each_form_selects_what_calico_selects() {
        let rr = labels(&[
            ("route-reflector", "true"),
            ("zone", "a"),
            ("kubernetes.io/hostname", "node-1"),
        ]);
        let plain = labels(&[("zone", "b")]);
        let cases: &[(&str, bool, bool)] = &[
            ("all()", true, true),
            ("", false, false),
            ("has(route-reflector)", true, false),
            ("route-reflector == 'true'", true, false),
            ("route-reflector == \"true\"", true, false),
            ("route-reflector != 'true'", false, true),
            ("zone in {'a', 'c'}", true, false),
            ("zone not in {'a'}", false, true),
            ("missing not in {'a'}", true, true),
            ("zone in {}", false, false),
            ("kubernetes.io/hostname contains 'node'", true, false),
            ("kubernetes.io/hostname starts with 'node-'", true, false),
            ("kubernetes.io/hostname ends with '-1'", true, false),
            ("!has(route-reflector)", false, true),
            ("has(zone) && zone == 'b'", false, true),
            ("zone == 'a' || zone == 'b'", true, true),
            ("!(zone == 'a' || zone == 'b')", false, false),
            // `&&` binds tighter than `||`.
            ("zone == 'b' || has(zone) && route-reflector == 'true'", true, true),
            ("(zone == 'b' || has(zone)) && route-reflector == 'true'", true, false),
        ];
        for (s, on_rr, on_plain) in cases {
            let x = sel(s);
            assert_eq!((x.matches(&rr), x.matches(&plain)), (*on_rr, *on_plain), "{s}: {x:?}");
        }
    }

    #[test]
    fn malformed_selectors_say_where() {
        for (s, at) in [
            ("zone ==", 7),
            ("zone == 'a", 8),
            ("has(zone", 8),
            ("zone in {'a' 'b'}", 13),
            ("zone = 'a'", 5),
            ("(zone == 'a'", 12),
            ("zone == 'a' extra", 12),
        ] {
            let e = Selector::parse(s).unwrap_err();
            assert_eq!(e.at, at, "{s}: {e}");
        }
    }
}
