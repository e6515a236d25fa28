//! Secrets at rest and token hashing.
//!
//! - Bearer and static tokens, client secrets: stored as SHA-256 hex ([`hash_token`]). Tokens are
//!   long random strings, so a fast unsalted hash is enough to make a stolen table useless while
//!   letting a lookup by hash stay an indexed equality.
//! - Secrets a scheme needs in the clear (HMAC API keys, the CSQ password hash, the collections
//!   signature key): XChaCha20-Poly1305 under the master key, sealed as
//!   `v2:<key id>:` + hex(nonce || ciphertext). The key id ([`MasterKey::id`]) is a short,
//!   non-secret fingerprint of the key that sealed the secret, so a reader picks the right key
//!   while several are configured during a rotation (`BILLHUB_MASTER_KEY` the current one,
//!   `BILLHUB_MASTER_KEYS` old ones; `billhub rotate-master-key` re-seals everything with the
//!   current one, see `docs/keys.md`). Secrets sealed before key ids existed read
//!   `v1:` + hex(nonce || ciphertext): the current key is tried, then the old ones.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngExt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("BILLHUB_MASTER_KEY must be 64 hex characters (32 bytes)")]
    BadMasterKey,
    #[error(
        "a stored secret cannot be decrypted with the configured master keys \
         (BILLHUB_MASTER_KEY and BILLHUB_MASTER_KEYS)"
    )]
    Decrypt,
    #[error(
        "a stored secret is sealed with master key {0}, which is not configured: \
         add that key to BILLHUB_MASTER_KEYS (or make it BILLHUB_MASTER_KEY)"
    )]
    UnknownKey(String),
    #[error("a stored secret is malformed")]
    Malformed,
}

/// Bytes of an XChaCha20 nonce.
const NONCE_LEN: usize = 24;
/// Bytes of a Poly1305 tag.
const TAG_LEN: usize = 16;
/// Hex characters of a key id.
const KEY_ID_LEN: usize = 8;
/// What a key id is a hash of, before the key: so the id is no plain hash of the key.
const KEY_ID_DOMAIN: &[u8] = b"billhub master key id\0";

/// One 32-byte key and its id.
#[derive(Clone)]
struct Key {
    bytes: [u8; 32],
    id: String,
}

impl Key {
    fn new(bytes: [u8; 32]) -> Key {
        let mut input = KEY_ID_DOMAIN.to_vec();
        input.extend_from_slice(&bytes);
        let mut id = billhub_core::signature::sha256_hex(&input);
        id.truncate(KEY_ID_LEN);
        Key { bytes, id }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.bytes).into())
    }

    /// `v2:<id>:` + hex(nonce || ciphertext).
    fn seal(&self, plaintext: &str, nonce: [u8; NONCE_LEN]) -> Result<String, SecretError> {
        let ct = self
            .cipher()
            .encrypt(&XNonce::from(nonce), plaintext.as_bytes())
            .map_err(|_| SecretError::Malformed)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(format!("v2:{}:{}", self.id, hex::encode(out)))
    }

    fn open(&self, body: &[u8]) -> Result<String, SecretError> {
        if body.len() < NONCE_LEN + TAG_LEN {
            return Err(SecretError::Malformed);
        }
        let (nonce, ct) = body.split_at(NONCE_LEN);
        let pt = self
            .cipher()
            .decrypt(XNonce::from_slice(nonce), ct)
            .map_err(|_| SecretError::Decrypt)?;
        String::from_utf8(pt).map_err(|_| SecretError::Malformed)
    }
}

/// How a stored secret is sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sealing {
    /// `v2:`: with the master key of this id.
    Key(String),
    /// `v1:`: from before key ids; with one of the configured keys.
    Legacy,
}

impl Sealing {
    /// The stored secret's sealing, from its prefix (the body is not checked).
    pub fn of(stored: &str) -> Result<Sealing, SecretError> {
        parse(stored).map(|(sealing, _)| sealing)
    }

    /// The key id, or `v1` for a legacy secret (what reports show).
    pub fn label(&self) -> &str {
        match self {
            Sealing::Key(id) => id,
            Sealing::Legacy => "v1",
        }
    }
}

/// A stored secret's sealing and its hex body.
fn parse(stored: &str) -> Result<(Sealing, &str), SecretError> {
    if let Some(body) = stored.strip_prefix("v1:") {
        return Ok((Sealing::Legacy, body));
    }
    let rest = stored.strip_prefix("v2:").ok_or(SecretError::Malformed)?;
    let (id, body) = rest.split_once(':').ok_or(SecretError::Malformed)?;
    let well_formed = id.len() == KEY_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !well_formed {
        return Err(SecretError::Malformed);
    }
    Ok((Sealing::Key(id.to_string()), body))
}

/// The keys that seal and open secrets at rest: the current key, which seals every new secret,
/// and old keys (`BILLHUB_MASTER_KEYS`) that only open what they sealed until
/// `billhub rotate-master-key` has re-sealed it. `Debug` never shows a key.
#[derive(Clone)]
pub struct MasterKey {
    current: Key,
    old: Vec<Key>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({}", self.current.id)?;
        for k in &self.old {
            write!(f, ", old {}", k.id)?;
        }
        f.write_str(")")
    }
}

impl MasterKey {
    /// One key from 64 hex characters, with no old keys.
    pub fn from_hex(text: &str) -> Result<MasterKey, SecretError> {
        let bytes = hex::decode(text.trim()).map_err(|_| SecretError::BadMasterKey)?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| SecretError::BadMasterKey)?;
        Ok(MasterKey::single(arr))
    }

    fn single(bytes: [u8; 32]) -> MasterKey {
        MasterKey {
            current: Key::new(bytes),
            old: Vec::new(),
        }
    }

    pub fn generate() -> MasterKey {
        MasterKey::single(rand::rng().random())
    }

    /// The current key as hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.current.bytes)
    }

    /// The current key's id: 8 hex characters of SHA-256 over a fixed label and the key. Not
    /// secret; shown by `billhub config check` and stored in every secret the key seals.
    pub fn id(&self) -> &str {
        &self.current.id
    }

    /// The ids of the old keys, in the order given.
    pub fn old_ids(&self) -> Vec<&str> {
        self.old.iter().map(|k| k.id.as_str()).collect()
    }

    /// The same current key, which also opens what the keys of `old` sealed (their current
    /// keys and their old ones). A key given twice, or the current key again, is kept once.
    #[must_use]
    pub fn with_old(mut self, old: impl IntoIterator<Item = MasterKey>) -> MasterKey {
        for m in old {
            for k in std::iter::once(m.current).chain(m.old) {
                let known =
                    k.bytes == self.current.bytes || self.old.iter().any(|o| o.bytes == k.bytes);
                if !known {
                    self.old.push(k);
                }
            }
        }
        self
    }

    /// Seals `plaintext` with the current key and a random nonce.
    pub fn encrypt(&self, plaintext: &str) -> Result<String, SecretError> {
        self.current.seal(plaintext, rand::rng().random())
    }

    /// Opens a stored secret: a `v2:` one with the key of its id (a clear error naming the id
    /// when no configured key has it), a `v1:` one with the current key, then the old ones.
    pub fn decrypt(&self, stored: &str) -> Result<String, SecretError> {
        let (sealing, body) = parse(stored)?;
        let body = hex::decode(body).map_err(|_| SecretError::Malformed)?;
        let keys = std::iter::once(&self.current).chain(&self.old);
        let mut tried = false;
        for key in keys {
            if let Sealing::Key(id) = &sealing
                && *id != key.id
            {
                continue;
            }
            tried = true;
            match key.open(&body) {
                Err(SecretError::Decrypt) => {}
                other => return other,
            }
        }
        match sealing {
            Sealing::Key(id) if !tried => Err(SecretError::UnknownKey(id)),
            _ => Err(SecretError::Decrypt),
        }
    }

    /// Whether `stored` is sealed with the current key (nothing for a rotation to do).
    pub fn is_current(&self, stored: &str) -> bool {
        matches!(Sealing::of(stored), Ok(Sealing::Key(id)) if id == self.current.id)
    }

    /// `stored` sealed again with the current key; `None` when it already is and the current
    /// key opens it (so a rotation also finds a damaged secret, and one of an old key whose id
    /// happens to equal the current key's: ids are 32 bits).
    pub fn reseal(&self, stored: &str) -> Result<Option<String>, SecretError> {
        if self.is_current(stored) {
            let (_, body) = parse(stored)?;
            let body = hex::decode(body).map_err(|_| SecretError::Malformed)?;
            if self.current.open(&body).is_ok() {
                return Ok(None);
            }
        }
        self.decrypt(stored)
            .and_then(|pt| self.encrypt(&pt))
            .map(Some)
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

    /// The key 00 01 02 .. 1f.
    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    /// `api-key-1` sealed with [`KEY`] and the nonce 40 41 .. 57, computed outside billhub
    /// (Python: HChaCha20 checked against draft-irtf-cfrg-xchacha's vector, then
    /// `cryptography`'s ChaCha20-Poly1305); the id is `sha256(b"billhub master key id\0" + key)`.
    const SEALED: &str = "v2:1ac9cc9d:404142434445464748494a4b4c4d4e4f5051525354555657\
                          b5496c5dbb85003bbe8ddec60649c0266c74b2c1dc3cdde328";

    #[test]
    fn known_vector() {
        let k = MasterKey::from_hex(KEY).unwrap();
        assert_eq!(k.id(), "1ac9cc9d");
        let nonce: [u8; 24] = std::array::from_fn(|i| 0x40 + u8::try_from(i).unwrap());
        assert_eq!(k.current.seal("api-key-1", nonce).unwrap(), SEALED);
        assert_eq!(k.decrypt(SEALED).unwrap(), "api-key-1");
        // The same body without an id is a legacy secret.
        let legacy = SEALED.replace("v2:1ac9cc9d:", "v1:");
        assert_eq!(k.decrypt(&legacy).unwrap(), "api-key-1");
        assert_eq!(Sealing::of(&legacy), Ok(Sealing::Legacy));
        assert_eq!(Sealing::of(SEALED), Ok(Sealing::Key("1ac9cc9d".into())));
        assert_eq!(
            format!("{k:?}"),
            "MasterKey(1ac9cc9d)",
            "Debug never shows a key"
        );
    }

    #[test]
    fn round_trip_and_tamper() {
        let k = MasterKey::generate();
        let enc = k.encrypt("api-key-1").unwrap();
        assert_ne!(enc, "api-key-1");
        assert!(enc.starts_with(&format!("v2:{}:", k.id())), "{enc}");
        assert_eq!(k.decrypt(&enc).unwrap(), "api-key-1");
        let other = MasterKey::generate();
        assert_eq!(
            other.decrypt(&enc),
            Err(SecretError::UnknownKey(k.id().to_string()))
        );
        assert_eq!(
            other.decrypt(&enc).unwrap_err().to_string(),
            format!(
                "a stored secret is sealed with master key {}, which is not configured: \
                 add that key to BILLHUB_MASTER_KEYS (or make it BILLHUB_MASTER_KEY)",
                k.id()
            )
        );
        // A tampered body under the right id does not open.
        let mut tampered = enc.clone();
        let last = if tampered.ends_with('0') { "1" } else { "0" };
        tampered.pop();
        tampered.push_str(last);
        assert_eq!(k.decrypt(&tampered), Err(SecretError::Decrypt));
        for bad in [
            "v1:00",
            "v2:00",
            "v2:1AC9CC9D:00",
            "v2:1ac9cc9:00",
            "v3:abc",
            "plain",
        ] {
            assert_eq!(k.decrypt(bad), Err(SecretError::Malformed), "{bad}");
        }
        assert_eq!(
            k.decrypt(&format!("v2:{}:00", k.id())),
            Err(SecretError::Malformed)
        );
        assert!(MasterKey::from_hex("00").is_err());
        assert_eq!(
            MasterKey::from_hex(&k.to_hex()).unwrap().current.bytes,
            k.current.bytes
        );
        assert_eq!(random_alnum(8).len(), 8);
    }

    /// During a rotation: B current, A old. Both open; only B seals; a legacy secret of A
    /// opens too; resealing moves everything to B, and once is enough.
    #[test]
    fn old_keys_open_and_reseal() {
        let a = MasterKey::generate();
        let b = MasterKey::generate();
        let both = b.clone().with_old([a.clone(), b.clone(), a.clone()]);
        assert_eq!(both.id(), b.id());
        assert_eq!(
            both.old_ids(),
            [a.id()],
            "duplicates and the current key are dropped"
        );
        let by_a = a.encrypt("s-a").unwrap();
        let legacy_a = by_a.replace(&format!("v2:{}:", a.id()), "v1:");
        assert_eq!(both.decrypt(&by_a).unwrap(), "s-a");
        assert_eq!(both.decrypt(&legacy_a).unwrap(), "s-a");
        assert!(!both.is_current(&by_a) && !both.is_current(&legacy_a));
        for stored in [&by_a, &legacy_a] {
            let resealed = both.reseal(stored).unwrap().unwrap();
            assert!(
                resealed.starts_with(&format!("v2:{}:", b.id())),
                "{resealed}"
            );
            assert!(both.is_current(&resealed));
            assert_eq!(both.reseal(&resealed).unwrap(), None);
            // B alone reads it; A alone names B.
            assert_eq!(b.decrypt(&resealed).unwrap(), "s-a");
            assert_eq!(
                a.decrypt(&resealed),
                Err(SecretError::UnknownKey(b.id().to_string()))
            );
        }
        // A damaged secret under the current key's id is found, not skipped.
        let by_b = b.encrypt("s-b").unwrap();
        let damaged = format!("{}00", &by_b[..by_b.len() - 2]);
        let damaged = if damaged == by_b {
            format!("{}11", &by_b[..by_b.len() - 2])
        } else {
            damaged
        };
        assert_eq!(both.reseal(&damaged), Err(SecretError::Decrypt));
        // A legacy secret no configured key opens.
        assert_eq!(b.decrypt(&legacy_a), Err(SecretError::Decrypt));
        assert_eq!(b.reseal(&legacy_a), Err(SecretError::Decrypt));
    }
}
