//! IPG (va-gateway) `Signature`: lowercase hex HMAC-SHA256 with the credential's API key over the
//! raw request body bytes exactly as sent; when the body is empty, over the raw query string
//! (possibly empty). Verification never re-serializes JSON. Webhooks use the same scheme over
//! their body.
//!
//! IPG's passive-client scheme (a bank with `va.auth=passive`: `Signature` alone, no OAuth) signs
//! the same bytes with the same key the same way, so [`sign`] and [`verify`] serve both; only
//! how the gateway finds the key differs.

/// The bytes a request's signature covers.
pub fn signed_bytes<'a>(body: &'a [u8], raw_query: &'a str) -> &'a [u8] {
    if body.is_empty() {
        raw_query.as_bytes()
    } else {
        body
    }
}

/// Client side: the `Signature` header value for a request.
pub fn sign(api_key: &str, body: &[u8], raw_query: &str) -> String {
    super::hmac_sha256_hex(api_key.as_bytes(), signed_bytes(body, raw_query))
}

/// Server side: whether `signature` is right for the request, in constant time.
pub fn verify(api_key: &str, body: &[u8], raw_query: &str, signature: &str) -> bool {
    super::hex_eq(&sign(api_key, body, raw_query), signature)
}

/// Writes JSON text the way PHP's `json_encode` does with default flags: `/` as `\/` and every
/// non-ASCII character as `\uXXXX` (UTF-16 surrogate pairs beyond the BMP). Takes compact JSON
/// text (as `serde_json::to_string` produces) and rewrites only inside strings, so a Rust client
/// can produce the same bytes a PHP client would sign.
pub fn php_escape(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_string {
            if escaped {
                escaped = false;
                out.push(c);
                continue;
            }
            match c {
                '\\' => {
                    escaped = true;
                    out.push(c);
                }
                '"' => {
                    in_string = false;
                    out.push(c);
                }
                '/' => out.push_str("\\/"),
                c if !c.is_ascii() => {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{:04x}", u));
                    }
                }
                c => out.push(c),
            }
        } else {
            if c == '"' {
                in_string = true;
            }
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ipg-api-key-0001";
    const BODY: &str = r#"{"va_number":"1234567890","invoice_number":"INV01\/TRX000001","prefix":"009902","name":"SPP Jan 22","total_amount":100000,"institution_code":"E9KP2ZQ6","type":"close","valid_until":"2030-04-04T11:46:56+07:00","components":[{"name":"SPP Januari","qty":1,"price":100000,"total":100000}],"customer_name":"Budi Santoso","description":"Pembayaran SPP caf\u00e9"}"#;

    #[test]
    fn known_answer_vectors() {
        let sig = "38990524769b586156f11df000e2c10407d5fa6f8d98d3354058847756c046af";
        assert_eq!(sign(KEY, BODY.as_bytes(), ""), sig);
        assert!(verify(KEY, BODY.as_bytes(), "ignored=1", sig));
        assert!(verify(KEY, BODY.as_bytes(), "", &sig.to_uppercase()));
        assert!(!verify("other-key", BODY.as_bytes(), "", sig));
        assert!(!verify(KEY, BODY.replace("\\/", "/").as_bytes(), "", sig));
        assert_eq!(
            sign(KEY, b"", "institution_code=E9KP2ZQ6&page=2"),
            "1608e10838737acb43f3d75a565dc18c36abaa5b01da957ea91dfb88514e8602"
        );
        assert_eq!(
            sign(KEY, b"", ""),
            "5f1bc143a338fec8a26d2e12b90da91b735c827b50e502ff786eb57d1ad6ab65"
        );
        assert!(!verify(KEY, b"", "", ""));
    }

    /// The passive-client scheme over a bank's inquiry body and over a query string, as a PHP
    /// client signs them (`hash_hmac('sha256', $body, $key)`); the expected values were computed
    /// independently (`printf '%s' BODY | openssl dgst -sha256 -hmac KEY`).
    #[test]
    fn passive_client_vectors() {
        let inquiry = br#"{"va_number":"0099021234567890","ref_id":"INQ0001","terminal_id":"atm","transaction_date":"2026-11-21 10:00:00"}"#;
        let sig = "ce094b001f7b329b02c818c78cec976713b0afe2ba79a29ea69423f8935e7188";
        assert_eq!(sign(KEY, inquiry, ""), sig);
        assert!(verify(KEY, inquiry, "", sig));
        assert!(!verify(
            KEY,
            inquiry.strip_suffix(b"}").unwrap_or_default(),
            "",
            sig
        ));
        let query = "va_number=0099021234567890&ref_id=INQ0001";
        let qsig = "dcae94299997b76bbccc0b602f09f93c283bd247eea48aae6950ad3a181a970d";
        assert_eq!(sign(KEY, b"", query), qsig);
        assert!(verify(KEY, b"", query, qsig));
        assert!(!verify(
            KEY,
            b"",
            "ref_id=INQ0001&va_number=0099021234567890",
            qsig
        ));
    }

    #[test]
    fn php_escaping_reproduces_the_vector_body() {
        let unescaped = BODY.replace("\\/", "/").replace("\\u00e9", "é");
        assert_eq!(php_escape(&unescaped), BODY);
        assert_eq!(
            php_escape(r#"{"a":"😀 \"x/y\""}"#),
            r#"{"a":"\ud83d\ude00 \"x\/y\""}"#
        );
    }
}
