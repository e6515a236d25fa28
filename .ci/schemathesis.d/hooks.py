"""Schemathesis hooks for billhub's gateways (loaded through SCHEMATHESIS_HOOKS by .ci/schemathesis).

Every request gets valid credentials of the demo organization (`billhub up --demo` writes them to
var/demo.env; the script exports them), and a per-request signature where the dialect signs:

- va: `Authorization: Bearer <token>` (a biller's on /api/v2/gw/*, a bank's on /api/v2/ch/*, each
  fetched from /oauth/token once and again before it expires) and `Signature`: lowercase hex
  HMAC-SHA256 with the credential's api_key over the raw body exactly as sent, or over the raw
  query string when the body is empty (crates/core/src/signature/ipg.rs).
- postpaid (CSQ): `U`, `ST` (Unix seconds, fresh per request) and
  `SH = sha256hex(sha256hex(password) + sha256hex(ST))` (crates/core/src/signature/csq.rs).
- collections: `Authorization: Bearer <token>`; bill24: `token: <token>`.
- snap: the B2B token from /v1.0/access-token/b2b (X-CLIENT-KEY, X-TIMESTAMP, X-SIGNATURE =
  base64(SHA256withRSA(the demo bank's private key, clientId|X-TIMESTAMP)) signed by openssl), then
  per request `Authorization: Bearer`, a fresh `X-TIMESTAMP`, `X-SIGNATURE` =
  base64(HMAC-SHA512(client secret, METHOD:PATH:token:hex(sha256(minified body)):X-TIMESTAMP)),
  `X-PARTNER-ID`, a unique `X-EXTERNAL-ID` and `CHANNEL-ID` (crates/core/src/signature/snap.rs).

The gateway under test is BILLHUB_ST_GATEWAY (bill24, collections, va, postpaid) at
BILLHUB_ST_BASE_URL. `python3 hooks.py VECTORS.json` checks the two signature schemes against the
shared test vectors and exits non-zero on a mismatch (the script runs it before any run).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import threading
import time
from urllib.parse import urlsplit

import requests

# ---------------------------------------------------------------------------------------------
# The signature schemes, ported from crates/core/src/signature/


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ipg_sign(api_key: str, body: bytes, raw_query: str) -> str:
    """IPG `Signature`: HMAC-SHA256 over the body, or over the raw query when the body is empty."""
    signed = body if body else raw_query.encode()
    return hmac.new(api_key.encode(), signed, hashlib.sha256).hexdigest()


def csq_salted_hash(password: str, st: str) -> str:
    """CSQ `SH = sha256hex(sha256hex(password) + sha256hex(ST))`."""
    inner = sha256_hex(password.encode()) + sha256_hex(st.encode())
    return sha256_hex(inner.encode())


def snap_minify(body: bytes) -> bytes:
    """The body without whitespace outside JSON strings (crates/core/src/signature/snap.rs)."""
    out = bytearray()
    in_string = escaped = False
    for b in body:
        if in_string:
            out.append(b)
            if escaped:
                escaped = False
            elif b == 0x5C:
                escaped = True
            elif b == 0x22:
                in_string = False
        elif b not in (0x20, 0x09, 0x0A, 0x0D):
            if b == 0x22:
                in_string = True
            out.append(b)
    return bytes(out)


def snap_sign(secret: str, method: str, path: str, token: str, body: bytes, ts: str) -> str:
    import base64

    message = f"{method.upper()}:{path}:{token}:{sha256_hex(snap_minify(body))}:{ts}"
    return base64.b64encode(hmac.new(secret.encode(), message.encode(), hashlib.sha512).digest()).decode()


def snap_token_signature(key_file: str, client_id: str, ts: str) -> str:
    import base64
    import subprocess

    signed = subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", key_file, "-binary"],
        input=f"{client_id}|{ts}".encode(),
        capture_output=True,
        check=True,
    ).stdout
    return base64.b64encode(signed).decode()


def jakarta_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+07:00", time.gmtime(time.time() + 7 * 3600))


def check_vectors(path: str) -> list[str]:
    """The mismatches between the ports above and the shared vectors (empty: all agree)."""
    with open(path, encoding="utf-8") as f:
        v = json.load(f)
    problems = []
    csq = v["csq_salted_hash"]
    if sha256_hex(csq["password"].encode()) != csq["sha256hex_password"]:
        problems.append("csq: sha256hex(password)")
    if sha256_hex(csq["ST"].encode()) != csq["sha256hex_ST"]:
        problems.append("csq: sha256hex(ST)")
    if csq_salted_hash(csq["password"], csq["ST"]) != csq["SH"]:
        problems.append("csq: SH")
    ipg = v["ipg_signature"]
    if ipg_sign(ipg["api_key"], ipg["body"].encode(), "") != ipg["signature"]:
        problems.append("ipg: body signature")
    q = ipg["query_example"]
    if ipg_sign(ipg["api_key"], b"", q["raw_query"]) != q["signature"]:
        problems.append("ipg: query signature")
    e = ipg["empty_example"]
    if ipg_sign(ipg["api_key"], b"", e["raw"]) != e["signature"]:
        problems.append("ipg: empty signature")
    return problems


# ---------------------------------------------------------------------------------------------
# Credentials


def env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise RuntimeError(f"{name} is not set (source var/demo.env)")
    return value


class Tokens:
    """VA access tokens by client id, renewed a minute before they expire."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}

    def get(self, base_url: str, client_id: str, client_secret: str) -> str:
        with self._lock:
            token, expires = self._tokens.get(client_id, ("", 0.0))
            if token and time.monotonic() < expires - 60:
                return token
            r = requests.post(
                f"{base_url}/oauth/token",
                json={
                    "grant_type": "client_credentials",
                    "client_id": client_id,
                    "client_secret": client_secret,
                    "scope": "*",
                },
                timeout=30,
            )
            r.raise_for_status()
            answer = r.json()
            token = answer["access_token"]
            self._tokens[client_id] = (token, time.monotonic() + float(answer["expires_in"]))
            return token


TOKENS = Tokens()


def prepared(case) -> tuple[bytes, str]:
    """The body bytes and the raw query string that will be sent for `case`, prepared exactly as
    the requests transport prepares them."""
    kw = case.as_transport_kwargs(base_url=os.environ.get("BILLHUB_ST_BASE_URL"))
    request = requests.Request(
        method=kw["method"],
        url=kw["url"],
        headers=kw.get("headers"),
        params=kw.get("params"),
        data=kw.get("data"),
        json=kw.get("json"),
        files=kw.get("files"),
    ).prepare()
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    return body, urlsplit(request.url).query


def va_headers(case) -> dict[str, str]:
    path = case.operation.path
    if path.startswith("/oauth/"):
        return {}
    base = env("BILLHUB_ST_BASE_URL")
    if path.startswith("/api/v2/ch/"):
        token = TOKENS.get(base, env("VA_BANK_CLIENT_ID"), env("VA_BANK_CLIENT_SECRET"))
        key = env("VA_BANK_API_KEY")
    else:
        token = TOKENS.get(base, env("VA_CLIENT_ID"), env("VA_CLIENT_SECRET"))
        key = env("VA_API_KEY")
    body, query = prepared(case)
    return {"Authorization": f"Bearer {token}", "Signature": ipg_sign(key, body, query)}


class SnapToken:
    """The demo SNAP bank's access token, renewed a minute before it expires."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._token = ("", 0.0)

    def get(self, base_url: str) -> str:
        with self._lock:
            token, expires = self._token
            if token and time.monotonic() < expires - 60:
                return token
            r = requests.post(
                f"{base_url}/v1.0/access-token/b2b",
                headers=snap_token_headers(),
                json={"grantType": "client_credentials"},
                timeout=30,
            )
            r.raise_for_status()
            answer = r.json()
            self._token = (answer["accessToken"], time.monotonic() + float(answer["expiresIn"]))
            return self._token[0]


SNAP_TOKEN = SnapToken()
SNAP_EXTERNAL = iter(range(1, 10**12))
SNAP_EXTERNAL_LOCK = threading.Lock()


def snap_token_headers() -> dict[str, str]:
    ts = jakarta_now()
    client = env("SNAP_CLIENT_ID")
    key_file = env("SNAP_PRIVATE_KEY_FILE")
    if not os.path.isabs(key_file):
        key_file = os.path.join(os.environ.get("BILLHUB_ST_WORKDIR", "."), key_file)
    return {"X-CLIENT-KEY": client, "X-TIMESTAMP": ts, "X-SIGNATURE": snap_token_signature(key_file, client, ts)}


def snap_headers(case) -> dict[str, str]:
    path = case.operation.path
    if path == "/v1.0/access-token/b2b":
        return snap_token_headers()
    base = env("BILLHUB_ST_BASE_URL")
    token = SNAP_TOKEN.get(base)
    body, query = prepared(case)
    signed_path = path + (f"?{query}" if query else "")
    ts = jakarta_now()
    with SNAP_EXTERNAL_LOCK:
        external = f"{int(time.time())}{next(SNAP_EXTERNAL)}"
    return {
        "Authorization": f"Bearer {token}",
        "X-TIMESTAMP": ts,
        "X-SIGNATURE": snap_sign(env("SNAP_CLIENT_SECRET"), case.method, signed_path, token, body, ts),
        "X-PARTNER-ID": env("SNAP_CLIENT_ID"),
        "X-EXTERNAL-ID": external,
        "CHANNEL-ID": "95221",
    }


def postpaid_headers(case) -> dict[str, str]:
    st = str(int(time.time()))
    return {
        "U": env("POSTPAID_USER"),
        "ST": st,
        "SH": csq_salted_hash(env("POSTPAID_PASSWORD"), st),
    }


def headers_for(case) -> dict[str, str]:
    gateway = os.environ.get("BILLHUB_ST_GATEWAY", "")
    if gateway == "va":
        return va_headers(case)
    if gateway == "postpaid":
        return postpaid_headers(case)
    if gateway == "collections":
        return {"Authorization": f"Bearer {env('COLLECTIONS_TOKEN')}"}
    if gateway == "bill24":
        return {"token": env("BILL24_TOKEN")}
    if gateway == "snap":
        return snap_headers(case)
    raise RuntimeError(f"BILLHUB_ST_GATEWAY={gateway!r}: expected bill24, collections, va or postpaid")


# ---------------------------------------------------------------------------------------------
# Known identifiers: half of the generated path parameters and bodies are replaced by values the
# demo organization has, so that the run reaches the flows behind the 404s and 422s too.


def _get_json(path: str, headers: dict[str, str]) -> object:
    r = requests.get(env("BILLHUB_ST_BASE_URL") + path, headers=headers, timeout=30)
    r.raise_for_status()
    return r.json()


class Known:
    """Identifiers of the demo data, read once from the gateway under test."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, str] | None = None

    def values(self) -> dict[str, str]:
        with self._lock:
            if self._values is None:
                try:
                    self._values = self._read()
                except (requests.RequestException, KeyError, IndexError, TypeError, RuntimeError) as e:
                    print(f"hooks: cannot read the demo identifiers ({e}); generated values only", file=sys.stderr)
                    self._values = {}
            return self._values

    @staticmethod
    def _read() -> dict[str, str]:
        gateway = os.environ.get("BILLHUB_ST_GATEWAY", "")
        out: dict[str, str] = {}
        if gateway == "collections":
            auth = {"Authorization": f"Bearer {env('COLLECTIONS_TOKEN')}"}
            code = env("DEMO_COLLECTION")
            out["code"] = code
            bills = _get_json(f"/api/collections/{code}/bills", auth)["data"]
            if bills:
                out["bill_no"] = bills[0]["bill_no"]
            customers = _get_json("/api/customers", auth)["data"]
            if customers:
                out["customer"] = str(customers[0]["id"])
        elif gateway == "va":
            base = env("BILLHUB_ST_BASE_URL")
            token = TOKENS.get(base, env("VA_CLIENT_ID"), env("VA_CLIENT_SECRET"))
            headers = {"Authorization": f"Bearer {token}", "Signature": ipg_sign(env("VA_API_KEY"), b"", "")}
            bills = _get_json("/api/v2/gw/bill", headers)["data"]["data"]
            if bills:
                out["hash"] = bills[0]["hash"]
                out["va_number"] = bills[0]["va_number"]
        return out


KNOWN = Known()


def known_path_parameters(path: str, params: dict) -> dict:
    known = KNOWN.values()
    out = dict(params)
    for name in ("code", "bill_no", "hash"):
        if name in out and name in known:
            out[name] = known[name]
    if "id" in out and path.startswith("/api/customers/") and "customer" in known:
        out["id"] = known["customer"]
    return out


def known_body(path: str, method: str, body):
    """The body with the fields only the demo's values pass (institution, prefix, VA number,
    a current transaction date) set to them; other fields as generated."""
    if not isinstance(body, dict):
        return body
    gateway = os.environ.get("BILLHUB_ST_GATEWAY", "")
    out = dict(body)
    if gateway == "va" and path == "/api/v2/gw/bill" and method == "POST":
        out["institution_code"] = env("DEMO_ORG_CODE")
        out["prefix"] = "009902"
        out.pop("components", None)
        out.pop("valid_until", None)
    elif gateway == "snap" and path.startswith("/v1.0/transfer-va/"):
        psid = os.environ.get("SNAP_PARTNER_SERVICE_ID", "   88888")
        out["partnerServiceId"] = psid
        out["customerNo"] = "1234567890"
        out["virtualAccountNo"] = psid + "1234567890"
    elif gateway == "va" and path.startswith("/api/v2/ch/"):
        known = KNOWN.values()
        if "va_number" in out and "va_number" in known:
            out["va_number"] = known["va_number"]
        if "transaction_date" in out:
            out["transaction_date"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() + 7 * 3600))
        if "bill_id" in out and "hash" in known:
            out["bill_id"] = known["hash"]
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: hooks.py VECTORS.json")
    found = check_vectors(sys.argv[1])
    for p in found:
        print(f"signature port disagrees with the vectors: {p}", file=sys.stderr)
    if found:
        sys.exit(1)
    print("signature ports agree with the shared vectors (ipg: 3, csq: 3)")
else:
    import schemathesis

    from hypothesis import strategies as st

    @schemathesis.hook
    def flatmap_path_parameters(context, path_parameters):
        if not path_parameters or context.operation is None:
            return st.just(path_parameters)
        return st.sampled_from([path_parameters, known_path_parameters(context.operation.path, path_parameters)])

    @schemathesis.hook
    def flatmap_body(context, body):
        if context.operation is None:
            return st.just(body)
        op = context.operation
        return st.sampled_from([body, known_body(op.path, op.method.upper(), body)])

    @schemathesis.hook
    def before_call(context, case, kwargs):
        """Credentials and signatures, computed over what is about to be sent. The
        authentication headers are set last, so the signature covers the final body and
        query (headers are not signed)."""
        if case.headers is None:
            case.headers = {}
        # Drop whatever the generator put in the authentication headers first: the signature
        # must be computed over the request as sent, and the credentials must be valid.
        for name in ("Authorization", "Signature", "token", "U", "ST", "SH", "X-TIMESTAMP",
                     "X-SIGNATURE", "X-CLIENT-KEY", "X-PARTNER-ID", "X-EXTERNAL-ID", "CHANNEL-ID"):
            for k in [k for k in case.headers if k.lower() == name.lower()]:
                del case.headers[k]
        case.headers.update(headers_for(case))
