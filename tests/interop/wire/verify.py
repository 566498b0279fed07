"""Independent verifiers for streamhooks deliveries, each written the way its receivers write it.

Usage: verify.py JOB.json, where JOB is
  {"requests": [{"name": …, "body_file": …, "headers": {name: value, …},
                 "checks": [{"kind": …, "secret": …, "form": …, "shift": seconds}, …]}, …]}
Each request's body is read from body_file exactly as the receiver got it, and its headers are
those the receiver got. One JSON line is printed per check: {"request", "check", "kind", "ok",
"error"}; the Rust test decides what each result should be.

Kinds:
  seed000          seed 000 (Speckle's Discord tutorial, the receiver the project was made for):
                   payload_json = json body["payload"] (a string), hex HMAC-SHA256 of
                   payload_json.encode() with SECRET.encode(), hmac.compare_digest, json.loads.
  speckle          Speckle >= 2.12, as Speckle's docs and its 2.12 announcement show it:
                   hex HMAC-SHA256 of the raw body bytes with secret.encode('utf-8'), compared
                   with X-WEBHOOK-SIGNATURE; body["payload"] must then be an object.
  standardwebhooks standardwebhooks.Webhook(secret).verify(body, headers), from PyPI.
  svix             svix.webhooks.Webhook(secret).verify(body, headers), from PyPI.
For the last two, "form" says how our secret (its UTF-8 bytes are the HMAC key) is handed over:
  "whsec"  "whsec_" + base64 of the UTF-8 bytes (the libraries' documented form)
  "base64" base64 of the UTF-8 bytes
  "bytes"  the UTF-8 bytes themselves
and "shift" (seconds, default 0) moves the libraries' clock: verifying a captured request with
the clock moved 6 minutes on is receiving a replay of it 6 minutes later.
"""

import base64
import hashlib
import hmac
import json
import sys
from datetime import datetime, timedelta

import standardwebhooks.webhooks
import svix.webhooks


class Headers(dict):
    """Case-insensitive lookups, as web frameworks give them (cherrypy, flask, …)."""

    def __init__(self, items):
        super().__init__({k.lower(): v for k, v in items.items()})

    def __getitem__(self, key):
        return super().__getitem__(key.lower())


def seed000(body, headers, secret):
    # cherrypy.tools.json_in() parses the body; the rest is seed 000's code.
    payload_json = json.loads(body.decode("utf-8")).get("payload", "{}")
    signature = headers["X-WEBHOOK-SIGNATURE"]
    expected_signature = hmac.new(secret.encode(), payload_json.encode(), "sha256").hexdigest()
    if not hmac.compare_digest(expected_signature, signature):
        raise ValueError("Ignoring request with invalid signature")
    return json.loads(payload_json)


def speckle(body, headers, secret):
    hmac_result = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(hmac_result, headers["X-WEBHOOK-SIGNATURE"]):
        raise ValueError("X-WEBHOOK-SIGNATURE does not match the raw body")
    payload = json.loads(body)["payload"]
    if not isinstance(payload, dict):
        raise ValueError("payload is not an object")
    return payload


def library_secret(secret, form):
    raw = secret.encode("utf-8")
    if form == "bytes":
        return raw
    encoded = base64.b64encode(raw).decode("ascii")
    return "whsec_" + encoded if form == "whsec" else encoded


class Clock:
    """Moves datetime.now() as seen by standardwebhooks (which svix calls) by `shift` seconds."""

    def __init__(self, shift):
        self.shift = shift

    def __enter__(self):
        shift = self.shift

        class Shifted(datetime):
            @classmethod
            def now(cls, tz=None):
                return datetime.now(tz) + timedelta(seconds=shift)

        self.saved = standardwebhooks.webhooks.datetime
        standardwebhooks.webhooks.datetime = Shifted

    def __exit__(self, *exc):
        standardwebhooks.webhooks.datetime = self.saved


def library(kind, body, headers, check):
    cls = standardwebhooks.webhooks.Webhook if kind == "standardwebhooks" else svix.webhooks.Webhook
    wh = cls(library_secret(check["secret"], check.get("form", "whsec")))
    with Clock(check.get("shift", 0)):
        # Headers exactly as received (lower-case names, as HTTP/1 servers hand them over).
        return wh.verify(body, dict(headers))


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        job = json.load(f)
    for req in job["requests"]:
        with open(req["body_file"], "rb") as f:
            body = f.read()
        headers = Headers(req["headers"])
        for i, check in enumerate(req["checks"]):
            kind = check["kind"]
            try:
                if kind == "seed000":
                    seed000(body, headers, check["secret"])
                elif kind == "speckle":
                    speckle(body, headers, check["secret"])
                elif kind in ("standardwebhooks", "svix"):
                    library(kind, body, headers, check)
                else:
                    raise ValueError(f"unknown check kind {kind}")
                ok, error = True, None
            except Exception as e:  # every failure is a result to report, not a crash
                ok, error = False, f"{type(e).__name__}: {e}"
            print(json.dumps({"request": req["name"], "check": i, "kind": kind, "ok": ok, "error": error}))


if __name__ == "__main__":
    main()
