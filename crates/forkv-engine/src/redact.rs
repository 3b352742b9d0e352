//! The arguments Valkey hides from MONITOR and SLOWLOG (its `redactClientCommandArgument`
//! calls): secrets are shown as `(redacted)`.

/// The positions of the arguments Valkey redacts before MONITOR and SLOWLOG see them:
/// every argument of AUTH, the user and password after HELLO's AUTH, the password after
/// MIGRATE's AUTH and the user and password after its AUTH2, every argument after ACL
/// SETUSER/GETUSER/DELUSER, and the value of each `sensitive` parameter in CONFIG SET.
pub fn redacted_args(argv: &[&[u8]], sensitive: &[String]) -> Vec<usize> {
    let Some(name) = argv.first() else {
        return Vec::new();
    };
    if name.eq_ignore_ascii_case(b"auth") {
        return (1..argv.len()).collect();
    }
    let mut out = Vec::new();
    if name.eq_ignore_ascii_case(b"hello") {
        // HELLO [protover [AUTH user pass] [SETNAME name]]: options after the version.
        let mut i = 2;
        while i < argv.len() {
            if argv[i].eq_ignore_ascii_case(b"auth") && i + 2 < argv.len() {
                out.extend([i + 1, i + 2]);
                i += 3;
            } else if argv[i].eq_ignore_ascii_case(b"setname") {
                i += 2;
            } else {
                break;
            }
        }
    } else if name.eq_ignore_ascii_case(b"acl") {
        let sub = argv.get(1).copied().unwrap_or_default();
        if [&b"setuser"[..], b"getuser", b"deluser"].iter().any(|s| sub.eq_ignore_ascii_case(s)) {
            out.extend(2..argv.len());
        }
    } else if name.eq_ignore_ascii_case(b"config") {
        if argv.get(1).is_some_and(|s| s.eq_ignore_ascii_case(b"set")) {
            let mut i = 2;
            while i + 1 < argv.len() {
                if sensitive.iter().any(|n| argv[i].eq_ignore_ascii_case(n.as_bytes())) {
                    out.push(i + 1);
                }
                i += 2;
            }
        }
    } else if name.eq_ignore_ascii_case(b"migrate") {
        // MIGRATE host port key db timeout [COPY] [REPLACE] [AUTH pass | AUTH2 user pass] [KEYS ...].
        let mut i = 6;
        while i < argv.len() {
            if argv[i].eq_ignore_ascii_case(b"auth") && i + 1 < argv.len() {
                out.push(i + 1);
                i += 2;
            } else if argv[i].eq_ignore_ascii_case(b"auth2") && i + 2 < argv.len() {
                out.extend([i + 1, i + 2]);
                i += 3;
            } else if argv[i].eq_ignore_ascii_case(b"keys") {
                break;
            } else {
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_found_where_valkey_redacts_them() {
        let none = Vec::<usize>::new();
        assert_eq!(redacted_args(&[b"auth", b"a", b"b"], &[]), vec![1, 2]);
        assert_eq!(redacted_args(&[b"HELLO", b"3", b"AUTH", b"u", b"p", b"SETNAME", b"n"], &[]), vec![3, 4]);
        assert_eq!(redacted_args(&[b"hello", b"3", b"setname", b"n", b"auth", b"u", b"p"], &[]), vec![5, 6]);
        assert_eq!(redacted_args(&[b"hello"], &[]), none);
        assert_eq!(redacted_args(&[b"migrate", b"h", b"1", b"k", b"9", b"5000", b"AUTH", b"pw"], &[]), vec![7]);
        assert_eq!(redacted_args(&[b"migrate", b"h", b"1", b"k", b"9", b"5000", b"COPY", b"AUTH2", b"u", b"pw"], &[]), vec![8, 9]);
        assert_eq!(redacted_args(&[b"get", b"auth"], &[]), none);
        assert_eq!(redacted_args(&[b"acl", b"SETUSER", b"u", b"on", b">pw"], &[]), vec![2, 3, 4]);
        assert_eq!(redacted_args(&[b"acl", b"getuser", b"u"], &[]), vec![2]);
        assert_eq!(redacted_args(&[b"acl", b"list"], &[]), none);
        let sensitive = vec!["requirepass".to_string(), "primaryauth".to_string()];
        assert_eq!(redacted_args(&[b"config", b"set", b"maxmemory", b"1", b"REQUIREPASS", b"x"], &sensitive), vec![5]);
        assert_eq!(redacted_args(&[b"config", b"get", b"requirepass"], &sensitive), none);
    }
}
