//! Glob-style pattern matching with Valkey's rules (`stringmatchlen`): `*`, `?`,
//! `[abc]`, `[^a-z]`, `\x` escapes; byte-wise, optionally case-insensitive.

/// True when `s` matches `pattern`.
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    if too_many_stars(pattern) {
        return false;
    }
    // Iterative with one backtrack point for the last `*`: linear in practice and never
    // recursive, so a hostile pattern cannot blow the stack.
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    while i < s.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    if p == pattern.len() {
                        return true;
                    }
                    star = Some((p, i));
                    continue;
                }
                b'?' => {
                    p += 1;
                    i += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = match_class(pattern, p, s[i], nocase) {
                        if matched {
                            p = next;
                            i += 1;
                            continue;
                        }
                    }
                }
                b'\\' if p + 1 < pattern.len() => {
                    if eq(pattern[p + 1], s[i]) {
                        p += 2;
                        i += 1;
                        continue;
                    }
                }
                c => {
                    if eq(c, s[i]) {
                        p += 1;
                        i += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, si)) => {
                p = sp;
                i = si + 1;
                star = Some((sp, si + 1));
            }
            None => return false,
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}

/// Valkey's protection against abusive patterns: its matcher recurses at every `*` and
/// gives up (no match) at a nesting depth above 1000, so a pattern whose match must pass
/// more than 1000 `*` groups (a trailing one does not recurse) never matches there.
/// Replies must agree, so the same patterns match nothing here.
fn too_many_stars(pattern: &[u8]) -> bool {
    const MAX_NESTING: usize = 1000;
    let mut groups = 0usize;
    let mut p = 0usize;
    while p < pattern.len() {
        match pattern[p] {
            b'\\' => p += 2,
            b'[' => {
                // Skip the class as the matcher reads it.
                p += 1;
                if pattern.get(p) == Some(&b'^') {
                    p += 1;
                }
                while p < pattern.len() && pattern[p] != b']' {
                    p += if pattern[p] == b'\\' { 2 } else { 1 };
                }
                p += 1;
            }
            b'*' => {
                while p < pattern.len() && pattern[p] == b'*' {
                    p += 1;
                }
                if p < pattern.len() {
                    groups += 1;
                    if groups > MAX_NESTING {
                        return true;
                    }
                }
            }
            _ => p += 1,
        }
    }
    false
}

/// Matches one byte against the class starting at `pattern[start] == b'['`.
/// Returns (matched, index after the class).
fn match_class(pattern: &[u8], start: usize, c: u8, nocase: bool) -> Option<(bool, usize)> {
    let mut p = start + 1;
    let not = pattern.get(p) == Some(&b'^');
    if not {
        p += 1;
    }
    let fold = |b: u8| if nocase { b.to_ascii_lowercase() } else { b };
    let c = fold(c);
    let mut matched = false;
    loop {
        match pattern.get(p) {
            // An unterminated class ends at the end of the pattern, as in Valkey.
            None => {
                p = pattern.len();
                break;
            }
            Some(b']') => {
                p += 1;
                break;
            }
            Some(b'\\') if p + 1 < pattern.len() => {
                if fold(pattern[p + 1]) == c {
                    matched = true;
                }
                p += 2;
            }
            Some(&lo) if pattern.get(p + 1) == Some(&b'-') && p + 2 < pattern.len() => {
                let hi = pattern[p + 2];
                let (a, b) = if lo <= hi { (lo, hi) } else { (hi, lo) };
                if (fold(a)..=fold(b)).contains(&c) {
                    matched = true;
                }
                p += 3;
            }
            Some(&b) => {
                if fold(b) == c {
                    matched = true;
                }
                p += 1;
            }
        }
    }
    Some((matched != not, p))
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn abusive_patterns_match_nothing_like_valkey() {
        let s = vec![b'a'; 5000];
        assert!(!glob_match(&b"*?".repeat(2000), &s, false));
        // 1000 groups are still matched, and a trailing group does not count.
        let mut p = b"*a".repeat(1000);
        p.push(b'*');
        assert!(glob_match(&p, &s, false));
        assert!(glob_match(&b"[*]".repeat(1500), &b"*".repeat(1500), false));
    }

    #[test]
    fn valkey_glob_rules() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "anything", true),
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("h*llo", "heeeello", true),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-b]llo", "hbllo", true),
            ("h\\*llo", "h*llo", true),
            ("h\\*llo", "hello", false),
            ("*a*b*c*", "xxaxxbxxcxx", true),
            ("*a*b*c*", "xxaxxcxxbxx", false),
            ("user:*", "user:1", true),
            ("", "", true),
            ("a*", "", false),
        ];
        for &(p, s, want) in cases {
            assert_eq!(
                glob_match(p.as_bytes(), s.as_bytes(), false),
                want,
                "{p} vs {s}"
            );
        }
        assert!(glob_match(b"HEL*", b"hello", true));
        assert!(!glob_match(b"HEL*", b"hello", false));
    }
}
