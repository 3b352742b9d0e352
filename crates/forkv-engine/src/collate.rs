//! `locale-collate`: the locale SORT ALPHA orders strings in.
//!
//! Valkey's only collating comparison is SORT's (and SORT_RO's) ALPHA ordering:
//! `sortCompare` calls `strcoll` on the BY values, and `compareStringObjectsWithFlags`
//! with STRING_COMPARE_COLL on the elements; ZRANGEBYLEX and every other ordering compare
//! bytes. The directive sets the process's LC_COLLATE (`setlocale`), an empty name taking
//! the environment's (LC_ALL, LC_COLLATE, LANG), as Valkey's updateLocaleCollate does.
//!
//! `strcoll` reads C strings, so a string compares only up to its first NUL byte, in any
//! locale (in "C" it is `strcmp`). Under "C" and "POSIX" the order is the bytes' order and
//! no copy is made.

use std::cmp::Ordering;
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};

/// The collation is the bytes' order ("C", "POSIX", or the process never chose one).
static BYTE_ORDER: AtomicBool = AtomicBool::new(true);

/// Sets LC_COLLATE to `name` ("" for the environment's); false, changing nothing, when
/// the system has no such locale (CONFIG SET then answers "Invalid locale name").
pub fn set_locale_collate(name: &str) -> bool {
    let Ok(c_name) = CString::new(name) else {
        return false;
    };
    // SAFETY: `c_name` is a valid C string; setlocale copies what it keeps. It is called
    // from the main thread, the only one that compares with the locale.
    let chosen = unsafe { libc::setlocale(libc::LC_COLLATE, c_name.as_ptr()) };
    if chosen.is_null() {
        return false;
    }
    // SAFETY: a non-null result of setlocale is a C string valid until the next call.
    let chosen = unsafe { CStr::from_ptr(chosen) }.to_bytes();
    BYTE_ORDER.store(matches!(chosen, b"C" | b"POSIX"), AtomicOrdering::Relaxed);
    true
}

/// The bytes `strcoll` sees: up to the first NUL.
fn c_string_part(s: &[u8]) -> &[u8] {
    s.iter().position(|&b| b == 0).map_or(s, |end| &s[..end])
}

/// `strcoll(a, b)` in the locale `locale-collate` chose.
pub fn compare(a: &[u8], b: &[u8]) -> Ordering {
    let (a, b) = (c_string_part(a), c_string_part(b));
    if BYTE_ORDER.load(AtomicOrdering::Relaxed) {
        return a.cmp(b);
    }
    // No interior NUL is left, so both conversions succeed.
    let (Ok(ca), Ok(cb)) = (CString::new(a), CString::new(b)) else {
        return a.cmp(b);
    };
    // SAFETY: two valid C strings; strcoll only reads them.
    let r = unsafe { libc::strcoll(ca.as_ptr(), cb.as_ptr()) };
    r.cmp(&0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_c_locale_is_byte_order_up_to_the_first_nul() {
        assert!(set_locale_collate("C"));
        assert_eq!(compare(b"B", b"a"), Ordering::Less);
        assert_eq!(compare(b"a\0z", b"a\0b"), Ordering::Equal);
        assert_eq!(compare(b"ab", b"a"), Ordering::Greater);
    }

    #[test]
    fn an_unknown_locale_is_refused() {
        assert!(!set_locale_collate("xx_NOWHERE.UTF-8"));
        assert!(!set_locale_collate("with\0nul"));
    }
}
