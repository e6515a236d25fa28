//! Request fingerprints: how a repeat of a payment or reversal is told from a different request
//! under the same channel reference.
//!
//! A fingerprint is versioned text stored with what a request recorded:
//!
//! - **v2** (`"v2:<sha256 hex>"`, written by every new payment): the *normalised recorded fields*,
//!   each named, so a retry that differs in anything billhub keeps (amount, payer name, terminal,
//!   the partner's date as a UTC instant, a fee, ...) is a different request, and a retry that
//!   differs only in spacing, key order or fields billhub does not record is the same request.
//! - **v1** (bare hex, written before v2): SHA-256 over length-prefixed parts, whatever parts each
//!   gateway chose. Rows written before the upgrade keep their text; a gateway computes the exact
//!   v1 form of a request as a [`Fingerprint::legacy`] form, so a retry of such a payment is
//!   still recognised.
//!
//! [`Fingerprint::matches`] is the one comparison: the stored text equals the current form or a
//! legacy one.

use time::OffsetDateTime;

use crate::signature::sha256_hex;

/// The prefix of a v2 fingerprint.
pub const V2: &str = "v2:";

/// The fingerprint of one request: the form to store and the older forms a stored row may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// What a new record stores (`v2:<hex>`).
    pub current: String,
    /// Forms written by earlier versions for the same request (v1).
    pub legacy: Vec<String>,
}

impl Fingerprint {
    /// The v2 fingerprint of a request of `kind` (`va-payment`, `bill24-share`, ...) over its
    /// named, already normalised recorded fields (see [`text`], [`instant`]). Field order is
    /// the caller's and fixed per kind.
    pub fn v2(kind: &str, fields: &[(&str, &str)]) -> Fingerprint {
        let mut parts: Vec<&str> =
            Vec::with_capacity(fields.len().saturating_mul(2).saturating_add(1));
        parts.push(kind);
        for (name, value) in fields {
            parts.push(name);
            parts.push(value);
        }
        Fingerprint {
            current: format!("{V2}{}", v1(&parts)),
            legacy: Vec::new(),
        }
    }

    /// Also recognise `form` (an earlier version's fingerprint of the same request).
    #[must_use]
    pub fn with_legacy(mut self, form: String) -> Fingerprint {
        self.legacy.push(form);
        self
    }

    /// True when `stored` is this request's fingerprint in any version.
    pub fn matches(&self, stored: &str) -> bool {
        stored == self.current || self.legacy.iter().any(|l| l == stored)
    }
}

/// The v1 computation, exactly as written before v2: SHA-256 (hex) over the parts, each
/// length-prefixed (`len:part;`) so that no two different part lists collide by concatenation.
pub fn v1(parts: &[&str]) -> String {
    let mut s = String::new();
    for p in parts {
        s.push_str(&p.len().to_string());
        s.push(':');
        s.push_str(p);
        s.push(';');
    }
    sha256_hex(s.as_bytes())
}

/// A recorded text field, normalised: trimmed, inner runs of whitespace made one space.
pub fn text(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A recorded instant, normalised: Unix seconds and nanoseconds in UTC, whatever offset or
/// spelling the partner used.
pub fn instant(at: OffsetDateTime) -> String {
    format!("{}.{:09}", at.unix_timestamp(), at.nanosecond())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn v1_is_the_old_computation() {
        // The value the store's `fingerprint(&["a", "bc"])` has always produced.
        assert_eq!(v1(&["a", "bc"]), sha256_hex(b"1:a;2:bc;"));
        assert_ne!(v1(&["ab", "c"]), v1(&["a", "bc"]));
    }

    #[test]
    fn v2_names_fields_and_is_prefixed() {
        let a = Fingerprint::v2("k", &[("x", "1"), ("y", "2")]);
        assert!(a.current.starts_with(V2));
        assert_ne!(a, Fingerprint::v2("k", &[("x", "1"), ("y", "3")]));
        assert_ne!(a, Fingerprint::v2("k", &[("x", "1"), ("z", "2")]));
        assert_ne!(a, Fingerprint::v2("j", &[("x", "1"), ("y", "2")]));
        assert_eq!(a, Fingerprint::v2("k", &[("x", "1"), ("y", "2")]));
    }

    #[test]
    fn matches_current_and_legacy_only() {
        let f = Fingerprint::v2("k", &[("x", "1")]).with_legacy(v1(&["x"]));
        assert!(f.matches(&f.current));
        assert!(f.matches(&v1(&["x"])));
        assert!(!f.matches(&v1(&["y"])));
        assert!(!f.matches(""));
    }

    #[test]
    fn normalisation() {
        assert_eq!(text("  Jane \t  Doe \n"), "Jane Doe");
        assert_eq!(
            instant(datetime!(2025-07-03 17:15:00 +07:00)),
            instant(datetime!(2025-07-03 10:15:00 UTC))
        );
        assert_ne!(
            instant(datetime!(2025-07-03 10:15:00 UTC)),
            instant(datetime!(2025-07-03 10:15:01 UTC))
        );
    }
}
