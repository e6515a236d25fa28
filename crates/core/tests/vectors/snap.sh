#!/usr/bin/env bash
# Known-answer vectors for SNAP's two signatures, computed with openssl alone (independently of
# billhub's Rust code). Re-run to regenerate snap.json: bash crates/core/tests/vectors/snap.sh
#
#   B2B access token:  X-SIGNATURE = base64(SHA256withRSA(private key, clientId + "|" + X-TIMESTAMP))
#   transactions:      X-SIGNATURE = base64(HMAC-SHA512(client secret,
#                        METHOD:PATH:accessToken:lowercase(hex(sha256(minified body))):X-TIMESTAMP))
#
# snap-test-key.pem is a throwaway 2048-bit test key made for these vectors (never a real one).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

[[ -f snap-test-key.pem ]] || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out snap-test-key.pem 2>/dev/null
openssl pkey -in snap-test-key.pem -pubout -out snap-test-key.pub.pem

CLIENT_ID="bank-client-0001"
TOKEN_TS="2026-12-05T10:00:00+07:00"
TOKEN_MSG="$CLIENT_ID|$TOKEN_TS"
TOKEN_SIG=$(printf '%s' "$TOKEN_MSG" | openssl dgst -sha256 -sign snap-test-key.pem -binary | base64 -w0)

SECRET="snap-client-secret-0001"
ACCESS_TOKEN="gp9HjjEj813Y9JGoqwOeOPWbnt4CUpvIJbU1mMU4a11MNDZ7Sg5u9a"
TS="2026-12-05T10:01:02+07:00"
METHOD="POST"
PATH_="/v1.0/transfer-va/inquiry"
# The body as a bank sends it (pretty, with spaces inside a string value) and its minified form:
# whitespace outside strings removed, strings untouched.
BODY=$'{\n  "partnerServiceId": "  888801",\n  "customerNo": "0000000001",\n  "virtualAccountNo": "  8888010000000001",\n  "inquiryRequestId": "abc 123 / x",\n  "additionalInfo": {}\n}'
MINIFIED='{"partnerServiceId":"  888801","customerNo":"0000000001","virtualAccountNo":"  8888010000000001","inquiryRequestId":"abc 123 / x","additionalInfo":{}}'
BODY_HASH=$(printf '%s' "$MINIFIED" | openssl dgst -sha256 -r | cut -d' ' -f1)
STRING_TO_SIGN="$METHOD:$PATH_:$ACCESS_TOKEN:$BODY_HASH:$TS"
SIG=$(printf '%s' "$STRING_TO_SIGN" | openssl dgst -sha512 -hmac "$SECRET" -binary | base64 -w0)
EMPTY_HASH=$(printf '' | openssl dgst -sha256 -r | cut -d' ' -f1)
EMPTY_STS="GET:/v1.0/transfer-va/status?x=1:$ACCESS_TOKEN:$EMPTY_HASH:$TS"
EMPTY_SIG=$(printf '%s' "$EMPTY_STS" | openssl dgst -sha512 -hmac "$SECRET" -binary | base64 -w0)

python3 - "$CLIENT_ID" "$TOKEN_TS" "$TOKEN_SIG" "$SECRET" "$ACCESS_TOKEN" "$TS" "$METHOD" "$PATH_" "$BODY" "$MINIFIED" "$BODY_HASH" "$STRING_TO_SIGN" "$SIG" "$EMPTY_STS" "$EMPTY_SIG" > snap.json <<'PY'
import json, sys
(client_id, token_ts, token_sig, secret, access_token, ts, method, path, body, minified, body_hash,
 sts, sig, empty_sts, empty_sig) = sys.argv[1:]
json.dump({
    "access_token_b2b": {
        "scheme": "base64(SHA256withRSA(private key, clientId|X-TIMESTAMP)), PKCS#1 v1.5",
        "public_key_pem_file": "snap-test-key.pub.pem",
        "client_id": client_id, "timestamp": token_ts,
        "string_to_sign": f"{client_id}|{token_ts}", "signature": token_sig,
    },
    "symmetric": {
        "scheme": "base64(HMAC-SHA512(clientSecret, METHOD:PATH:token:lowercase(hex(sha256(minified body))):X-TIMESTAMP))",
        "client_secret": secret, "access_token": access_token, "timestamp": ts,
        "method": method, "path": path, "body": body, "minified_body": minified,
        "body_sha256_hex": body_hash, "string_to_sign": sts, "signature": sig,
        "empty_body": {"method": "GET", "path": "/v1.0/transfer-va/status?x=1",
                       "string_to_sign": empty_sts, "signature": empty_sig},
    },
}, sys.stdout, indent=2, ensure_ascii=False)
print()
PY
echo "wrote $(pwd)/snap.json"
