//! RaudhahPay (collections) callback signature: drop `signature`, sort the remaining keys
//! ascending, join as `key:value` with `|`, lowercase hex HMAC-SHA256 with the organization's
//! signature key. A null value is the empty string.

use std::collections::BTreeMap;

/// The string that is signed.
pub fn string_to_sign<'a, I>(fields: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let sorted: BTreeMap<&str, &str> = fields
        .into_iter()
        .filter(|(k, _)| *k != "signature")
        .collect();
    sorted
        .iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect::<Vec<_>>()
        .join("|")
}

/// The `signature` field for these fields.
pub fn sign<'a, I>(signature_key: &str, fields: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    super::hmac_sha256_hex(signature_key.as_bytes(), string_to_sign(fields).as_bytes())
}

/// For merchants: checks a received callback (all its fields, `signature` included).
pub fn verify<'a, I>(signature_key: &str, fields: I) -> bool
where
    I: IntoIterator<Item = (&'a str, &'a str)> + Clone,
{
    let Some(supplied) = fields
        .clone()
        .into_iter()
        .find(|(k, _)| *k == "signature")
        .map(|(_, v)| v)
    else {
        return false;
    };
    super::hex_eq(&sign(signature_key, fields), supplied)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn known_answer_vector() {
        let fields = [
            ("amount", "10.00"),
            ("bill_id", "2788"),
            ("bill_no", "W7uplQiU"),
            ("currency", "MYR"),
            ("paid", "true"),
            ("payment_method", "fpx"),
            ("ref1", "ORDER-77"),
            ("ref2", ""),
            ("ref_id", "RP-20250703-0001"),
            ("status", "success"),
        ];
        let mut shuffled = fields.to_vec();
        shuffled.reverse();
        assert_eq!(
            string_to_sign(shuffled.iter().copied()),
            "amount:10.00|bill_id:2788|bill_no:W7uplQiU|currency:MYR|paid:true|payment_method:fpx|ref1:ORDER-77|ref2:|ref_id:RP-20250703-0001|status:success"
        );
        let sig = "dfd6bc0411dacabf827fc3586458cb3364896a72e87ad9dfc1178203c9f971eb";
        assert_eq!(sign("rp-signature-key-0001", fields), sig);
        let mut with_sig = fields.to_vec();
        with_sig.push(("signature", sig));
        assert!(verify("rp-signature-key-0001", with_sig.iter().copied()));
        assert!(!verify("wrong", with_sig.iter().copied()));
        with_sig[0] = ("amount", "10.01");
        assert!(!verify("rp-signature-key-0001", with_sig.iter().copied()));
        assert!(!verify("rp-signature-key-0001", fields));
    }
}
