//! Compiling InfluxQL regex literals (Go RE2 syntax) with the `regex` crate.
//!
//! A small checker walks the pattern the way Go's `regexp/syntax` parser does for the common
//! mistakes, so the error text is Go's (`error parsing regexp: missing closing ]: `[``); the
//! pattern is then compiled by the `regex` crate (whose syntax is nearly identical to RE2).
//! `\Q...\E` quoting, which Go accepts and the `regex` crate does not, is translated.

const PREFIX: &str = "error parsing regexp: ";

fn err(code: &str, excerpt: &str) -> String {
    format!("{}{}: `{}`", PREFIX, code, excerpt)
}

/// Compiles a regex source; on error returns Go's message (`error parsing regexp: ...`).
pub fn compile(source: &str) -> Result<regex::Regex, String> {
    let translated = check_go_syntax(source)?;
    let pat = translated.as_deref().unwrap_or(source);
    regex::RegexBuilder::new(pat)
        .size_limit(1 << 24)
        .build()
        .map_err(|e| {
            let msg = e.to_string();
            let mut kind = msg
                .lines()
                .find_map(|l| l.trim().strip_prefix("error: "))
                .unwrap_or("invalid regular expression")
                .to_string();
            if kind.contains("nested") {
                kind = "expression nests too deeply".into();
            } else if msg.contains("size limit") {
                kind = "expression too large".into();
            }
            err(&kind, source)
        })
}

const PERL_OR_ASCII_CLASSES: &[&str] = &[
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

/// Go-style validation. Returns `Ok(Some(translated))` when the pattern needs rewriting for the
/// `regex` crate, `Ok(None)` when it can be used as is.
fn check_go_syntax(src: &str) -> Result<Option<String>, String> {
    let c: Vec<char> = src.chars().collect();
    let n = c.len();
    let text = |a: usize, b: usize| -> String { c[a..b.min(n)].iter().collect() };
    let mut i = 0;
    let mut parens: Vec<usize> = Vec::new();
    // Whether there is an atom the next repetition operator can apply to.
    let mut have_atom = false;
    // Go limits nested repetition counts (product along a nesting path <= 1000): the
    // requirement of the last atom, and the largest requirement inside each open group.
    let mut atom_req: u64 = 0;
    let mut group_req: Vec<u64> = vec![0];
    // Start index of the previous repetition operator, when the last item was one.
    let mut last_rep: Option<usize> = None;
    let mut out = String::with_capacity(src.len());
    let mut translated = false;
    let mut pending = String::new();
    fn flush(out: &mut String, pending: &mut String) {
        out.push_str(pending);
        pending.clear();
    }

    while i < n {
        let ch = c[i];
        let is_rep = matches!(ch, '*' | '+' | '?') || (ch == '{' && parse_repeat(&c, i).is_some());
        if !is_rep && ch != '(' {
            flush(&mut out, &mut pending);
        }
        match ch {
            '(' => {
                if i + 1 < n && c[i + 1] == '?' {
                    // flags or named group
                    if i + 2 < n && c[i + 2] == 'P' {
                        if i + 3 < n && c[i + 3] == '<' {
                            let mut j = i + 4;
                            while j < n && c[j] != '>' {
                                j += 1;
                            }
                            if j >= n {
                                return Err(err("invalid named capture", &text(i, n)));
                            }
                            let name = text(i + 4, j);
                            if name.is_empty()
                                || !name.chars().all(|x| x.is_ascii_alphanumeric() || x == '_')
                            {
                                return Err(err("invalid named capture", &text(i, j + 1)));
                            }
                            flush(&mut out, &mut pending);
                            out.push_str(&text(i, j + 1));
                            parens.push(i);
                            group_req.push(0);
                            i = j + 1;
                            have_atom = false;
                            last_rep = None;
                            continue;
                        }
                        return Err(err("invalid or unsupported Perl syntax", &text(i, i + 3)));
                    }
                    // flags `(?imsU-imsU)` or a non-capturing group `(?flags:...)`
                    let mut j = i + 2;
                    let mut negated = false;
                    let mut saw_flag = false;
                    let group;
                    loop {
                        if j >= n {
                            return Err(err("invalid or unsupported Perl syntax", &text(i, n)));
                        }
                        match c[j] {
                            'i' | 'm' | 's' | 'U' => {
                                saw_flag = true;
                                j += 1;
                            }
                            '-' if !negated => {
                                negated = true;
                                saw_flag = false;
                                j += 1;
                            }
                            ':' | ')' if !negated || saw_flag => {
                                group = c[j] == ':';
                                break;
                            }
                            _ => {
                                return Err(err(
                                    "invalid or unsupported Perl syntax",
                                    &text(i, j + 1),
                                ))
                            }
                        }
                    }
                    // Canonical spelling (the regex crate rejects repeated flags like `(?i-si)`;
                    // Go applies them in order, so the last mention of a flag wins).
                    let mut pos = String::new();
                    let mut neg = String::new();
                    let mut minus = false;
                    for &f in &c[i + 2..j] {
                        if f == '-' {
                            minus = true;
                            continue;
                        }
                        pos.retain(|x| x != f);
                        neg.retain(|x| x != f);
                        if minus { neg.push(f) } else { pos.push(f) }
                    }
                    let flags = if neg.is_empty() { pos } else { format!("{}-{}", pos, neg) };
                    translated = true;
                    if group {
                        flush(&mut out, &mut pending);
                        out.push_str(&format!("(?{}:", flags));
                        parens.push(i);
                        group_req.push(0);
                        have_atom = false;
                    } else if !flags.is_empty() {
                        // Go applies a repetition after `(?i)` to the item before it; the
                        // regex crate refuses that, so flags move behind such operators.
                        pending.push_str(&format!("(?{})", flags));
                    }
                    i = j + 1;
                    last_rep = None;
                    continue;
                }
                flush(&mut out, &mut pending);
                parens.push(i);
                group_req.push(0);
                out.push('(');
                have_atom = false;
                last_rep = None;
                i += 1;
            }
            ')' => {
                if parens.pop().is_none() {
                    return Err(err("unexpected )", src));
                }
                atom_req = group_req.pop().unwrap_or(0);
                if let Some(top) = group_req.last_mut() {
                    *top = (*top).max(atom_req);
                }
                out.push(')');
                have_atom = true;
                last_rep = None;
                i += 1;
            }
            '|' => {
                out.push('|');
                have_atom = false;
                last_rep = None;
                i += 1;
            }
            '*' | '+' | '?' | '{' => {
                let start = i;
                let mut end = i + 1;
                if ch == '{' {
                    match parse_repeat(&c, i) {
                        Some((min, max, after)) => {
                            end = after;
                            let bad = min > 1000 || max > 1000 || (max >= 0 && max < min);
                            if bad {
                                return Err(err("invalid repeat count", &text(start, end)));
                            }
                            let m = if max == -1 { min } else { max } as u64;
                            let req = if m > 0 { m.max(m.saturating_mul(atom_req)) } else { atom_req };
                            if (min >= 2 || max >= 2) && req > 1000 {
                                return Err(err("invalid repeat count", &text(start, end)));
                            }
                            atom_req = req;
                            if let Some(top) = group_req.last_mut() {
                                *top = (*top).max(atom_req);
                            }
                        }
                        None => {
                            // not a valid repeat: a literal '{'
                            out.push_str("\\{");
                            translated = true;
                            have_atom = true;
                            atom_req = 0;
                            last_rep = None;
                            i += 1;
                            continue;
                        }
                    }
                }
                if end < n && c[end] == '?' {
                    end += 1;
                }
                if let Some(prev) = last_rep {
                    return Err(err("invalid nested repetition operator", &text(prev, end)));
                }
                if !have_atom {
                    return Err(err("missing argument to repetition operator", &text(start, end)));
                }
                out.push_str(&text(start, end));
                last_rep = Some(start);
                i = end;
            }
            '[' => {
                let (end, class) = check_class(&c, i)?;
                if class != text(i, end) {
                    translated = true;
                }
                out.push_str(&class);
                have_atom = true;
                atom_req = 0;
                last_rep = None;
                i = end;
            }
            '\\' => {
                if i + 1 >= n {
                    return Err(err("trailing backslash at end of expression", ""));
                }
                let e = c[i + 1];
                if e == 'Q' {
                    // quote until \E
                    let mut j = i + 2;
                    let mut lit = String::new();
                    while j < n {
                        if c[j] == '\\' && j + 1 < n && c[j + 1] == 'E' {
                            break;
                        }
                        lit.push(c[j]);
                        j += 1;
                    }
                    out.push_str(&regex::escape(&lit));
                    translated = true;
                    have_atom = !lit.is_empty() || have_atom;
                    atom_req = 0;
                    last_rep = None;
                    i = if j < n { j + 2 } else { n };
                    continue;
                }
                let end = check_escape(&c, i, false)?;
                let esc = text(i, end);
                // Go treats `\<`/`\>` etc. as literals; the regex crate gives some of them
                // meaning (word boundaries), so rewrite punctuation escapes as classes.
                if e == '<' || e == '>' {
                    out.push('[');
                    out.push(e);
                    out.push(']');
                    translated = true;
                } else if e.is_ascii_digit() {
                    // octal escape: the regex crate needs its octal mode; spell it in hex
                    out.push_str(&format!("\\x{{{:x}}}", escape_value(&c, i, end).unwrap_or('\0') as u32));
                    translated = true;
                } else if let Some(t) = perl_class_outside(e) {
                    // Go's \d \w \s \b are ASCII-only; the regex crate's are Unicode.
                    out.push_str(t);
                    translated = true;
                } else {
                    out.push_str(&esc);
                }
                atom_req = 0;
                have_atom = !matches!(e, 'A' | 'z' | 'b' | 'B');
                if matches!(e, 'A' | 'z' | 'b' | 'B') {
                    have_atom = true; // Go allows repetition of empty-width ops
                }
                last_rep = None;
                i = end;
            }
            _ => {
                out.push(ch);
                have_atom = true;
                atom_req = 0;
                last_rep = None;
                i += 1;
            }
        }
    }
    if !parens.is_empty() {
        return Err(err("missing closing )", src));
    }
    flush(&mut out, &mut pending);
    if go_height(&c) > 1000 {
        return Err(err("expression nests too deeply", src));
    }
    Ok(if translated { Some(out) } else { None })
}

/// Parses `{n}`, `{n,}`, `{n,m}` at `i`; returns (min, max(-1 = none), index after `}`).
fn parse_repeat(c: &[char], i: usize) -> Option<(i64, i64, usize)> {
    let n = c.len();
    let mut j = i + 1;
    let num = |j: &mut usize| -> Option<i64> {
        let s = *j;
        while *j < n && c[*j].is_ascii_digit() {
            *j += 1;
        }
        if *j == s {
            return None;
        }
        let t: String = c[s..*j].iter().collect();
        Some(t.parse::<i64>().unwrap_or(i64::MAX))
    };
    let min = num(&mut j)?;
    let max;
    if j < n && c[j] == ',' {
        j += 1;
        if j < n && c[j] == '}' {
            max = -1;
        } else {
            max = num(&mut j)?;
        }
    } else {
        max = min;
    }
    if j < n && c[j] == '}' {
        Some((min, max, j + 1))
    } else {
        None
    }
}

/// Validates an escape at `i` (a backslash); returns the index after it.
fn check_escape(c: &[char], i: usize, in_class: bool) -> Result<usize, String> {
    let n = c.len();
    let text = |a: usize, b: usize| -> String { c[a..b.min(n)].iter().collect() };
    if i + 1 >= n {
        return Err(err("trailing backslash at end of expression", ""));
    }
    let e = c[i + 1];
    match e {
        '1'..='7' => {
            // octal needs at least two digits after a non-zero first one
            if i + 2 < n && ('0'..='7').contains(&c[i + 2]) {
                let mut j = i + 3;
                if j < n && ('0'..='7').contains(&c[j]) {
                    j += 1;
                }
                Ok(j)
            } else {
                Err(err("invalid escape sequence", &text(i, i + 2)))
            }
        }
        '0' => {
            let mut j = i + 2;
            let mut k = 0;
            while j < n && k < 2 && ('0'..='7').contains(&c[j]) {
                j += 1;
                k += 1;
            }
            Ok(j)
        }
        'x' => {
            if i + 2 < n && c[i + 2] == '{' {
                let mut j = i + 3;
                while j < n && c[j].is_ascii_hexdigit() {
                    j += 1;
                }
                if j < n && c[j] == '}' && j > i + 3 {
                    return Ok(j + 1);
                }
                Err(err("invalid escape sequence", &text(i, (j + 1).min(n))))
            } else if i + 3 < n && c[i + 2].is_ascii_hexdigit() && c[i + 3].is_ascii_hexdigit() {
                Ok(i + 4)
            } else {
                Err(err("invalid escape sequence", &text(i, (i + 4).min(n))))
            }
        }
        'p' | 'P' => {
            let (name, end) = if i + 2 < n && c[i + 2] == '{' {
                let mut j = i + 3;
                while j < n && c[j] != '}' {
                    j += 1;
                }
                if j >= n {
                    return Err(err("invalid character class range", &text(i, n)));
                }
                (text(i + 3, j), j + 1)
            } else if i + 2 < n {
                (text(i + 2, i + 3), i + 3)
            } else {
                return Err(err("invalid character class range", &text(i, n)));
            };
            let name = name.strip_prefix('^').unwrap_or(&name).to_string();
            // Go knows exact, case-sensitive names (`L`, `Lu`, `Greek`, `Any`); the regex
            // crate matches loosely, so pre-filter the shape, then ask it.
            let shape_ok = if c[i + 2] == '{' {
                name.chars().next().is_some_and(|x| x.is_ascii_uppercase())
                    && name.chars().all(|x| x.is_ascii_alphanumeric() || x == '_')
            } else {
                matches!(name.as_str(), "C" | "L" | "M" | "N" | "P" | "S" | "Z")
            };
            if !shape_ok || regex::Regex::new(&format!("\\p{{{}}}", name)).is_err() {
                return Err(err("invalid character class range", &text(i, end)));
            }
            Ok(end)
        }
        'a' | 'f' | 'n' | 'r' | 't' | 'v' | 'd' | 'D' | 's' | 'S' | 'w' | 'W' => Ok(i + 2),
        'A' | 'z' | 'b' | 'B' if !in_class => Ok(i + 2),
        c1 if c1.is_ascii() && !c1.is_ascii_alphanumeric() => Ok(i + 2),
        _ => Err(err("invalid escape sequence", &text(i, i + 2))),
    }
}

/// Approximate height of the tree Go's parser builds (it rejects heights over 1000):
/// capturing groups, concatenations, alternations and repetitions add a level; runs of
/// literal characters are one node; non-capturing groups add nothing. Only called on
/// patterns that passed the syntax checks.
fn go_height(c: &[char]) -> u32 {
    #[derive(Default)]
    struct Frame {
        capturing: bool,
        items: u32,
        items_max: u32,
        branches: u32,
        branches_max: u32,
        last_h: u32,
        last_literal: bool,
    }
    fn end_branch(f: &mut Frame) {
        let h = match f.items {
            0 => 1,
            1 => f.items_max,
            _ => f.items_max + 1,
        };
        f.branches_max = f.branches_max.max(h);
        f.branches += 1;
        f.items = 0;
        f.items_max = 0;
        f.last_literal = false;
    }
    fn close(f: &mut Frame) -> u32 {
        end_branch(f);
        let mut h = if f.branches > 1 { f.branches_max + 1 } else { f.branches_max };
        if f.capturing {
            h += 1;
        }
        h
    }
    fn item(f: &mut Frame, h: u32, literal: bool) {
        if !(literal && f.last_literal) {
            f.items += 1;
        }
        f.items_max = f.items_max.max(h);
        f.last_h = h;
        f.last_literal = literal;
    }
    let n = c.len();
    let mut stack = vec![Frame::default()];
    let mut i = 0;
    while i < n {
        let Some(top) = stack.last_mut() else { break };
        match c[i] {
            '(' => {
                if i + 1 < n && c[i + 1] == '?' {
                    if i + 2 < n && c[i + 2] == 'P' {
                        let mut j = i;
                        while j < n && c[j] != '>' {
                            j += 1;
                        }
                        stack.push(Frame { capturing: true, ..Default::default() });
                        i = j + 1;
                        continue;
                    }
                    let mut j = i + 2;
                    while j < n && c[j] != ')' && c[j] != ':' {
                        j += 1;
                    }
                    if j < n && c[j] == ':' {
                        stack.push(Frame::default());
                    }
                    i = j + 1;
                    continue;
                }
                stack.push(Frame { capturing: true, ..Default::default() });
                i += 1;
            }
            ')' => {
                if stack.len() > 1 {
                    let mut f = stack.pop().unwrap_or_default();
                    let h = close(&mut f);
                    if let Some(parent) = stack.last_mut() {
                        item(parent, h, false);
                    }
                }
                i += 1;
            }
            '|' => {
                end_branch(top);
                i += 1;
            }
            '*' | '+' | '?' => {
                let h = top.last_h + 1;
                if top.last_literal {
                    top.items += 1; // Go splits the last char off a literal run
                }
                top.last_literal = false;
                top.last_h = h;
                top.items_max = top.items_max.max(h);
                i += 1;
                if i < n && c[i] == '?' {
                    i += 1;
                }
            }
            '{' => match parse_repeat(c, i) {
                Some((_, _, after)) => {
                    let h = top.last_h + 1;
                    if top.last_literal {
                        top.items += 1;
                    }
                    top.last_literal = false;
                    top.last_h = h;
                    top.items_max = top.items_max.max(h);
                    i = after;
                    if i < n && c[i] == '?' {
                        i += 1;
                    }
                }
                None => {
                    item(top, 1, true);
                    i += 1;
                }
            },
            '[' => {
                let end = check_class(c, i).map(|x| x.0).unwrap_or(n);
                item(top, 1, false);
                i = end;
            }
            '\\' => {
                let end = check_escape(c, i, false).unwrap_or(i + 2);
                item(top, 1, escape_value(c, i, end).is_some());
                i = end.max(i + 1);
            }
            _ => {
                item(top, 1, true);
                i += 1;
            }
        }
    }
    while stack.len() > 1 {
        let mut f = stack.pop().unwrap_or_default();
        let h = close(&mut f);
        if let Some(parent) = stack.last_mut() {
            item(parent, h, false);
        }
    }
    stack.last_mut().map(close).unwrap_or(1)
}

/// The character a single-character escape at `k..end` stands for (None for classes).
fn escape_value(c: &[char], k: usize, end: usize) -> Option<char> {
    let e = *c.get(k + 1)?;
    match e {
        '0'..='7' => {
            let digits: String = c[k + 1..end].iter().collect();
            u32::from_str_radix(&digits, 8).ok().and_then(char::from_u32)
        }
        'x' => {
            let digits: String = c[k + 2..end].iter().filter(|x| x.is_ascii_hexdigit()).collect();
            u32::from_str_radix(&digits, 16).ok().and_then(char::from_u32)
        }
        'a' => Some('\u{7}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{b}'),
        x if x.is_ascii() && !x.is_ascii_alphanumeric() => Some(x),
        _ => None,
    }
}

/// Go's ASCII Perl classes, spelled for the regex crate (outside a bracket class).
fn perl_class_outside(e: char) -> Option<&'static str> {
    Some(match e {
        'd' => "[0-9]",
        'D' => "[^0-9]",
        'w' => "[0-9A-Za-z_]",
        'W' => "[^0-9A-Za-z_]",
        's' => "[\\t\\n\\x0C\\r ]",
        'S' => "[^\\t\\n\\x0C\\r ]",
        'b' => "(?-u:\\b)",
        'B' => "(?-u:\\B)",
        _ => return None,
    })
}

/// The same inside a bracket class.
fn perl_class_inside(e: char) -> Option<&'static str> {
    Some(match e {
        'd' => "0-9",
        'D' => "[^0-9]",
        'w' => "0-9A-Za-z_",
        'W' => "[^0-9A-Za-z_]",
        's' => "\\t\\n\\x0C\\r ",
        'S' => "[^\\t\\n\\x0C\\r ]",
        _ => return None,
    })
}

/// Validates a character class starting at `[` (index `i`); returns the index after `]` and
/// the class spelled for the regex crate.
fn check_class(c: &[char], i: usize) -> Result<(usize, String), String> {
    let n = c.len();
    let text = |a: usize, b: usize| -> String { c[a..b.min(n)].iter().collect() };
    let missing = || err("missing closing ]", &text(i, n));
    let mut out = String::from("[");
    let mut j = i + 1;
    if j < n && c[j] == '^' {
        out.push('^');
        j += 1;
    }
    let mut first = true;
    // Emits one class item (a char or an escape) starting at `k`; returns (end, single char).
    let item = |k: usize, out: &mut String| -> Result<(usize, Option<char>), String> {
        if c[k] == '\\' {
            let end = check_escape(c, k, true)?;
            if end == k + 2 {
                if let Some(t) = perl_class_inside(c[k + 1]) {
                    out.push_str(t);
                    return Ok((end, None));
                }
            }
            let v = escape_value(c, k, end);
            if c[k + 1].is_ascii_digit() {
                out.push_str(&format!("\\x{{{:x}}}", v.unwrap_or('\0') as u32));
            } else {
                out.push_str(&text(k, end));
            }
            Ok((end, v))
        } else {
            if c[k] == '[' || c[k] == '&' || c[k] == '~' || c[k] == '-' {
                // literal in Go; escape so the regex crate does not read nesting / set ops
                out.push('\\');
            }
            out.push(c[k]);
            Ok((k + 1, Some(c[k])))
        }
    };
    loop {
        if j >= n {
            return Err(missing());
        }
        if c[j] == ']' && !first {
            out.push(']');
            return Ok((j + 1, out));
        }
        // POSIX class
        if c[j] == '[' && j + 1 < n && c[j + 1] == ':' {
            let mut k = j + 2;
            while k + 1 < n && !(c[k] == ':' && c[k + 1] == ']') {
                k += 1;
            }
            if k + 1 < n {
                let name = text(j + 2, k);
                let name = name.strip_prefix('^').unwrap_or(&name).to_string();
                if !PERL_OR_ASCII_CLASSES.contains(&name.as_str()) {
                    return Err(err("invalid character class range", &text(j, k + 2)));
                }
                out.push_str(&text(j, k + 2));
                j = k + 2;
                first = false;
                continue;
            }
        }
        first = false;
        let lo_start = j;
        let (after_lo, lo) = item(j, &mut out)?;
        j = after_lo;
        // range? (only after a single character, like Go)
        if lo.is_some() && j + 1 < n && c[j] == '-' && c[j + 1] != ']' {
            out.push('-');
            let h = j + 1;
            if c[h] == '\\' && h + 1 < n && matches!(c[h + 1], 'p' | 'P' | 'd' | 'D' | 'w' | 'W' | 's' | 'S') {
                return Err(err("invalid escape sequence", &text(h, h + 2)));
            }
            let (after_hi, hi) = item(h, &mut out)?;
            // `item` escaped a literal '-' etc. as the range end; that is still a char.
            j = after_hi;
            if let (Some(a), Some(b)) = (lo, hi) {
                if a > b {
                    return Err(err("invalid character class range", &text(lo_start, j)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(p: &str) -> String {
        compile(p).err().unwrap_or_default()
    }

    #[test]
    fn go_error_texts() {
        assert_eq!(e("["), "error parsing regexp: missing closing ]: `[`");
        assert_eq!(e("a[bc"), "error parsing regexp: missing closing ]: `[bc`");
        assert_eq!(e("(abc"), "error parsing regexp: missing closing ): `(abc`");
        assert_eq!(e("abc)"), "error parsing regexp: unexpected ): `abc)`");
        assert_eq!(e("*"), "error parsing regexp: missing argument to repetition operator: `*`");
        assert_eq!(e("a**"), "error parsing regexp: invalid nested repetition operator: `**`");
        assert_eq!(e("a\\q"), "error parsing regexp: invalid escape sequence: `\\q`");
        assert_eq!(e("[z-a]"), "error parsing regexp: invalid character class range: `z-a`");
        assert_eq!(e("a{2,1}"), "error parsing regexp: invalid repeat count: `{2,1}`");
        assert_eq!(e("(?<n>a)"), "error parsing regexp: invalid or unsupported Perl syntax: `(?<`");
        assert_eq!(e("a|*"), "error parsing regexp: missing argument to repetition operator: `*`");
        assert_eq!(e("(*)"), "error parsing regexp: missing argument to repetition operator: `*`");
        assert_eq!(e("[[:foo:]]"), "error parsing regexp: invalid character class range: `[:foo:]`");
        assert_eq!(e("\\p{Foo}"), "error parsing regexp: invalid character class range: `\\p{Foo}`");
        assert_eq!(e("a{1001}"), "error parsing regexp: invalid repeat count: `{1001}`");
        assert_eq!(e("x(?P<n>a"), "error parsing regexp: missing closing ): `x(?P<n>a`");
        assert_eq!(e("\\8"), "error parsing regexp: invalid escape sequence: `\\8`");
        assert_eq!(e("a+?+"), "error parsing regexp: invalid nested repetition operator: `+?+`");
        assert_eq!(e("(?P<>a)"), "error parsing regexp: invalid named capture: `(?P<>`");
        assert_eq!(e("(?P=n)"), "error parsing regexp: invalid or unsupported Perl syntax: `(?P`");
        assert_eq!(e("\\C"), "error parsing regexp: invalid escape sequence: `\\C`");
        assert_eq!(e("x{2}{3}"), "error parsing regexp: invalid nested repetition operator: `{2}{3}`");
        assert_eq!(e("(a))"), "error parsing regexp: unexpected ): `(a))`");
        assert_eq!(e("(a{1000}){1000}"), "error parsing regexp: invalid repeat count: `{1000}`");
        assert_eq!(e("((a{100}){100}){100}"), "error parsing regexp: invalid repeat count: `{100}`");
        assert!(compile("(a{10}){100}").is_ok());
        assert!(compile("(a{2}|b){500}").is_ok());
        let deep = format!("{}a{}", "(".repeat(1200), ")".repeat(1200));
        assert!(e(&deep).starts_with("error parsing regexp: expression nests too deeply: `((("));
        // Go: 999 nested groups pass, 1000 do not; `(a` nesting counts twice. (The regex
        // crate itself stops at 250 levels, which we keep for stack safety.)
        assert!(go_height(&"(".repeat(999).chars().chain("a".chars()).chain(")".repeat(999).chars()).collect::<Vec<_>>()) <= 1000);
        assert!(go_height(&"(".repeat(1000).chars().chain("a".chars()).chain(")".repeat(1000).chars()).collect::<Vec<_>>()) > 1000);
        assert!(go_height(&"(?:".repeat(1001).chars().chain("a".chars()).chain(")".repeat(1001).chars()).collect::<Vec<_>>()) <= 1000);
        assert!(go_height(&"(a".repeat(600).chars().chain(")".repeat(600).chars()).collect::<Vec<_>>()) > 1000);
        assert!(go_height(&"(a".repeat(400).chars().chain(")".repeat(400).chars()).collect::<Vec<_>>()) <= 1000);
        assert!(go_height(&"(a*".repeat(500).chars().chain(")".repeat(500).chars()).collect::<Vec<_>>()) > 1000);
        assert!(go_height(&"abc|d(e)*[x]\\d".chars().collect::<Vec<_>>()) < 10);
    }

    #[test]
    fn go_accepts() {
        for p in [
            "(?i)a", "\\Qa.b\\E", "a{,5}", "[]a]", "\\z", "^(c|m)", "host_[12]", "^(rack|arch)$",
            "[[:alpha:]]+", "\\pL", "\\p{Greek}", "a\\/b", "\\x41\\x{263a}", "(?P<n>a)", "\\.",
            "[a-z0-9_-]", "(?i:ab)c", "\\d+\\s*\\w",
        ] {
            assert!(compile(p).is_ok(), "{} should compile: {:?}", p, compile(p).err());
        }
        let r = compile("\\Qa.b\\E").unwrap();
        assert!(r.is_match("xa.by") && !r.is_match("axb"));
        // Go's Perl classes and word boundaries are ASCII-only
        let r = compile("^\\w+$").unwrap();
        assert!(r.is_match("abc_1") && !r.is_match("é"));
        assert!(!compile("^\\d$").unwrap().is_match("٣"));
        assert!(compile("^[\\d\\s]+$").unwrap().is_match("1 2"));
        assert!(!compile("^[\\w]$").unwrap().is_match("é"));
        assert!(compile("^[^\\D]$").unwrap().is_match("7"));
        assert!(compile("^\\W$").unwrap().is_match("é"));
        assert!(compile("x\\b").unwrap().is_match("xé"));
        assert!(compile("^[a-c-]+$").unwrap().is_match("a-c"));
        assert!(compile("^[[]+$").unwrap().is_match("[["));
        assert!(compile("^[a&&b]+$").unwrap().is_match("&&"));
        assert!(compile("(?i-si)A").unwrap().is_match("A") && !compile("(?i-si)A").unwrap().is_match("a"));
        assert!(compile("x(?i)*y").unwrap().is_match("xxY"));
        assert!(compile("(?)a").unwrap().is_match("a"));
        assert!(compile("\\101[\\60-\\71]").unwrap().is_match("A5"));
        let r = compile("a{,5}").unwrap();
        assert!(r.is_match("a{,5}") && !r.is_match("aa"));
    }
}
