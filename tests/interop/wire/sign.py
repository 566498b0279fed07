"""Signs a request body with the official standardwebhooks package (PyPI), as another Standard
Webhooks sender would, to test `streamhooks receive` against a signer that is not ours.

Usage: sign.py SECRET MSG_ID UNIX_SECONDS BODY_FILE
Prints the three headers as one JSON object. The key is SECRET's UTF-8 bytes, handed to the
library base64-encoded with the whsec_ prefix, exactly as streamhooks' README tells receivers.
"""

import base64
import json
import sys
from datetime import datetime, timezone

from standardwebhooks import Webhook

secret, msg_id, ts, body_file = sys.argv[1:5]
with open(body_file, "rb") as f:
    body = f.read().decode("utf-8")
wh = Webhook("whsec_" + base64.b64encode(secret.encode("utf-8")).decode("ascii"))
when = datetime.fromtimestamp(int(ts), tz=timezone.utc)
print(json.dumps({
    "webhook-id": msg_id,
    "webhook-timestamp": ts,
    "webhook-signature": wh.sign(msg_id, when, body),
}))
