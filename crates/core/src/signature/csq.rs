//! CSQ eVSB (postpaid) headers: `U` user, `ST` Unix seconds, and
//! `SH = sha256hex(sha256hex(password) + sha256hex(ST))`, all lowercase hex. The server keeps
//! only `sha256hex(password)` (encrypted at rest) and verifies with it.

/// `sha256hex(password)`: what the server stores (encrypted) for a terminal network.
pub fn password_hash(password: &str) -> String {
    super::sha256_hex(password.as_bytes())
}

/// `SH` from the stored password hash and `ST` exactly as sent.
pub fn salted_hash_from_password_hash(password_hash_hex: &str, st: &str) -> String {
    let inner = format!("{}{}", password_hash_hex, super::sha256_hex(st.as_bytes()));
    super::sha256_hex(inner.as_bytes())
}

/// Client side: `SH` for a password and `ST`.
pub fn salted_hash(password: &str, st: &str) -> String {
    salted_hash_from_password_hash(&password_hash(password), st)
}

/// Why a `(ST, SH)` pair is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsqAuthError {
    #[error("ST is not a Unix timestamp in seconds")]
    BadSalt,
    #[error("ST is {skew} s away from the server's clock (at most {max} s allowed)")]
    Skew { skew: i64, max: i64 },
    #[error("SH does not match")]
    BadHash,
}

/// Server side: checks `ST` against `now_unix` (at most `max_skew` seconds apart) and `SH`.
pub fn verify(
    password_hash_hex: &str,
    st: &str,
    sh: &str,
    now_unix: i64,
    max_skew: i64,
) -> Result<(), CsqAuthError> {
    if st.is_empty() || st.len() > 12 || !st.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CsqAuthError::BadSalt);
    }
    let st_value: i64 = st.parse().map_err(|_| CsqAuthError::BadSalt)?;
    let skew = (now_unix - st_value).abs();
    if skew > max_skew {
        return Err(CsqAuthError::Skew {
            skew,
            max: max_skew,
        });
    }
    if super::hex_eq(&salted_hash_from_password_hash(password_hash_hex, st), sh) {
        Ok(())
    } else {
        Err(CsqAuthError::BadHash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer_vector() {
        assert_eq!(
            password_hash("Sh0p-Passw0rd"),
            "fe366b6acca8d9dc5adf3fe45ed0ac042da5b7d8c0e7f107fdc0acd1d04096b1"
        );
        assert_eq!(
            crate::signature::sha256_hex(b"1751558400"),
            "7af560838b1bb472ae99d2a39fd8a630f711cad9a5dcd7790d6c05489045f022"
        );
        let sh = "56fbb2791e9bed064c428de229dc2507e071c103251d10f2e21d08b97bc1dd93";
        assert_eq!(salted_hash("Sh0p-Passw0rd", "1751558400"), sh);
        let stored = password_hash("Sh0p-Passw0rd");
        assert_eq!(
            verify(&stored, "1751558400", sh, 1751558400 + 30, 30),
            Ok(())
        );
        assert_eq!(
            verify(&stored, "1751558400", sh, 1751558400 - 30, 30),
            Ok(())
        );
        assert_eq!(
            verify(&stored, "1751558400", sh, 1751558400 + 31, 30),
            Err(CsqAuthError::Skew { skew: 31, max: 30 })
        );
        assert_eq!(
            verify(&stored, "1751558401", sh, 1751558400, 30),
            Err(CsqAuthError::BadHash)
        );
        assert_eq!(
            verify(&stored, "17515584x0", sh, 1751558400, 30),
            Err(CsqAuthError::BadSalt)
        );
        assert_eq!(
            verify(&password_hash("other"), "1751558400", sh, 1751558400, 30),
            Err(CsqAuthError::BadHash)
        );
    }
}
