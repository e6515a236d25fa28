//! Secrets at rest and token hashing.
//!
//! - Bearer and static tokens, client secrets: stored as SHA-256 hex ([`hash_token`]). Tokens are
//!   long random strings, so a fast unsalted hash is enough to make a stolen table useless while
//!   letting a lookup by hash stay an indexed equality.
//! - Secrets a scheme needs in the clear (HMAC API keys, the CSQ password hash, the collections
//!   signature key): XChaCha20-Poly1305 with `BILLHUB_MASTER_KEY`, stored as
//!   `v1:` + hex(nonce || ciphertext).

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngExt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("BILLHUB_MASTER_KEY must be 64 hex characters (32 bytes)")]
    BadMasterKey,
    #[error("a stored secret cannot be decrypted with this master key")]
    Decrypt,
    #[error("a stored secret is malformed")]
    Malformed,
}

/// The 32-byte key that encrypts secrets at rest.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

impl MasterKey {
    pub fn from_hex(text: &str) -> Result<MasterKey, SecretError> {
        let bytes = hex::decode(text.trim()).map_err(|_| SecretError::BadMasterKey)?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| SecretError::BadMasterKey)?;
        Ok(MasterKey(arr))
    }

    pub fn generate() -> MasterKey {
        MasterKey(rand::rng().random())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn encrypt(&self, plaintext: &str) -> Result<String, SecretError> {
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let nonce_bytes: [u8; 24] = rand::rng().random();
        let nonce = XNonce::from(nonce_bytes);
        let ct = cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .map_err(|_| SecretError::Malformed)?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&ct);
        Ok(format!("v1:{}", hex::encode(out)))
    }

    pub fn decrypt(&self, stored: &str) -> Result<String, SecretError> {
        let hexed = stored.strip_prefix("v1:").ok_or(SecretError::Malformed)?;
        let bytes = hex::decode(hexed).map_err(|_| SecretError::Malformed)?;
        if bytes.len() < 24 + 16 {
            return Err(SecretError::Malformed);
        }
        let (nonce, ct) = bytes.split_at(24);
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let nonce = XNonce::from_slice(nonce);
        let pt = cipher
            .decrypt(nonce, ct)
            .map_err(|_| SecretError::Decrypt)?;
        String::from_utf8(pt).map_err(|_| SecretError::Malformed)
    }
}

/// SHA-256 hex of a token, for storage and lookup.
pub fn hash_token(token: &str) -> String {
    billhub_core::signature::sha256_hex(token.as_bytes())
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A random string over `[A-Za-z0-9]` (62 symbols; 8 of them carry about 47.6 bits).
pub fn random_alnum(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .filter_map(|_| ALNUM.get(rng.random_range(0..ALNUM.len())))
        .map(|&b| char::from(b))
        .collect()
}

/// A random string of `len` characters from `alphabet`.
pub fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .filter_map(|_| alphabet.get(rng.random_range(0..alphabet.len())))
        .map(|&b| char::from(b))
        .collect()
}

/// `len` random bytes as lowercase hex.
pub fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    let v: Vec<u8> = (0..bytes).map(|_| rng.random()).collect();
    hex::encode(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let k = MasterKey::generate();
        let enc = k.encrypt("api-key-1").unwrap();
        assert_ne!(enc, "api-key-1");
        assert_eq!(k.decrypt(&enc).unwrap(), "api-key-1");
        assert_eq!(
            MasterKey::generate().decrypt(&enc),
            Err(SecretError::Decrypt)
        );
        assert_eq!(k.decrypt("v1:00"), Err(SecretError::Malformed));
        assert!(MasterKey::from_hex("00").is_err());
        assert_eq!(MasterKey::from_hex(&k.to_hex()).unwrap().0, k.0);
        assert_eq!(random_alnum(8).len(), 8);
    }
}
