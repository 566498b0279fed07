"""A specklepy user's first session, run against a streamhooks server by tests/tests/it/specklepy.rs.

Client: specklepy from PyPI, both 3.2.8 (pinned in .ci/requirements.txt) and 2026.9.1 (the
newest, pinned in .ci/requirements-latest.txt); only its public API is used, as its README and
docstrings show it (specklepy 2026 moved the inputs and enums from `specklepy.core.api` to
`specklepy.api`; the old paths still work there, with a deprecation warning, so the new ones are
used where they exist). Everything below is what a user of the current
Speckle Python SDK does first: authenticate, read the server and themselves, create, read and
update a project, create a model, send an object with ServerTransport, create a version, mark it
received, receive the object back, and delete the project. The one call outside specklepy's
resources is webhookCreate (specklepy has no webhook resource), sent through specklepy's own
GraphQL client.

Usage: session.py SERVER_URL TOKEN RECEIVER_URL WEBHOOK_SECRET

Prints one JSON object per line and step: {"step": NAME, ...results} or, when a step fails,
{"step": NAME, "error": "..."} and exits 1. The Rust test asserts on these lines.
"""

import atexit
import json
import shutil
import sys
import tempfile
import traceback
from urllib.parse import urlparse

from specklepy.logging import metrics

# Telemetry would try to reach speckle.systems; the tests have no network and want none.
metrics.disable()

import os  # noqa: E402

# specklepy keeps accounts and its object cache under the user's data directory: use a fresh one.
os.environ["SPECKLE_USERDATA_PATH"] = tempfile.mkdtemp(prefix="specklepy-")
atexit.register(shutil.rmtree, os.environ["SPECKLE_USERDATA_PATH"], ignore_errors=True)

import importlib.metadata  # noqa: E402

from gql import gql  # noqa: E402  (specklepy's own GraphQL client library)
from specklepy.api import operations  # noqa: E402
from specklepy.api.client import SpeckleClient  # noqa: E402

try:  # specklepy >= 2026
    from specklepy.api.enums import ProjectVisibility  # noqa: E402
    from specklepy.api.inputs.model_inputs import CreateModelInput  # noqa: E402
    from specklepy.api.inputs.project_inputs import (  # noqa: E402
        ProjectCreateInput,
        ProjectUpdateInput,
    )
    from specklepy.api.inputs.version_inputs import (  # noqa: E402
        CreateVersionInput,
        MarkReceivedVersionInput,
    )
except ImportError:  # specklepy 3
    from specklepy.core.api.enums import ProjectVisibility  # noqa: E402
    from specklepy.core.api.inputs.model_inputs import CreateModelInput  # noqa: E402
    from specklepy.core.api.inputs.project_inputs import (  # noqa: E402
        ProjectCreateInput,
        ProjectUpdateInput,
    )
    from specklepy.core.api.inputs.version_inputs import (  # noqa: E402
        CreateVersionInput,
        MarkReceivedVersionInput,
    )
from specklepy.objects.base import Base  # noqa: E402
from specklepy.transports.memory import MemoryTransport  # noqa: E402
from specklepy.transports.server import ServerTransport  # noqa: E402

TRIGGERS = [
    "stream_update",
    "stream_delete",
    "branch_create",
    "commit_create",
    "commit_receive",
]


def emit(step, **results):
    print(json.dumps({"step": step, **results}, default=str), flush=True)


def step(name, fn):
    try:
        return fn()
    except Exception as e:  # report what failed and stop: later steps depend on this one
        emit(name, error=f"{type(e).__name__}: {e}", trace=traceback.format_exc()[-2000:])
        sys.exit(1)


def sample_object():
    """A building with detached storeys and a chunked list: several objects on the wire."""
    building = Base()
    building.name = "Golden Nugget 🌻 — «tower» 金"
    building.height = 42.5
    storeys = []
    for i in range(12):
        s = Base()
        s.level = i
        s.label = f"storey {i}\twith a tab and a \u2028 line separator"
        storeys.append(s)
    building["@storeys"] = storeys
    building["@(100)readings"] = [x * 0.5 for x in range(1000)]
    return building


def main():
    server_url, token, receiver_url, secret = sys.argv[1:5]
    host = urlparse(server_url).netloc
    emit("specklepy", version=importlib.metadata.version("specklepy"))

    client = SpeckleClient(host=host, use_ssl=False)
    step("authenticate", lambda: client.authenticate_with_token(token))
    emit("authenticate", user_id=client.account.userInfo.id, server_name=client.account.serverInfo.name)

    info = step("server.get", client.server.get)
    emit("server.get", name=info.name, canonical_url=info.canonical_url, version=info.version)

    me = step("active_user.get", client.active_user.get)
    emit("active_user.get", id=me.id, name=me.name, email=me.email)

    project = step(
        "project.create",
        lambda: client.project.create(
            ProjectCreateInput(
                name="specklepy session 🌻",
                description="made by specklepy",
                visibility=ProjectVisibility.PRIVATE,
            )
        ),
    )
    emit("project.create", id=project.id, name=project.name, visibility=project.visibility.value)

    def create_webhook():
        return client.httpclient.execute(
            gql("mutation($w: WebhookCreateInput!) { webhookCreate(webhook: $w) }"),
            variable_values={
                "w": {
                    "streamId": project.id,
                    "url": receiver_url,
                    "triggers": TRIGGERS,
                    "secret": secret,
                }
            },
        )["webhookCreate"]

    webhook_id = step("webhookCreate", create_webhook)
    emit("webhookCreate", id=webhook_id)

    fetched = step("project.get", lambda: client.project.get(project.id))
    emit("project.get", id=fetched.id, name=fetched.name, description=fetched.description)

    updated = step(
        "project.update",
        lambda: client.project.update(
            ProjectUpdateInput(id=project.id, name="renamed by specklepy", description="new ✓")
        ),
    )
    emit("project.update", id=updated.id, name=updated.name, description=updated.description)

    model = step(
        "model.create",
        lambda: client.model.create(
            CreateModelInput(name="structure/level 1", description="beams", project_id=project.id)
        ),
    )
    emit("model.create", id=model.id, name=model.name)

    building = sample_object()
    transport = ServerTransport(stream_id=project.id, client=client)
    object_id = step(
        "operations.send",
        lambda: operations.send(building, [transport], use_default_cache=False),
    )
    emit("operations.send", object_id=object_id)

    version = step(
        "version.create",
        lambda: client.version.create(
            CreateVersionInput(
                object_id=object_id,
                model_id=model.id,
                project_id=project.id,
                message="first version from specklepy",
                source_application="py",
            )
        ),
    )
    emit(
        "version.create",
        id=version.id,
        referenced_object=version.referenced_object,
        message=version.message,
    )

    received = step(
        "version.received",
        lambda: client.version.received(
            MarkReceivedVersionInput(
                version_id=version.id,
                project_id=project.id,
                source_application="py",
                message="received by the interop test",
            )
        ),
    )
    emit("version.received", result=received)

    # A fresh in-memory cache, so every object really comes from the server.
    back = step(
        "operations.receive",
        lambda: operations.receive(object_id, transport, MemoryTransport()),
    )
    emit(
        "operations.receive",
        id=back.id,
        equal=operations.serialize(back) == operations.serialize(sample_object()),
        name=back.name,
        storeys=len(back["@storeys"]),
        readings=len(back["@(100)readings"]),
    )

    deleted = step("project.delete", lambda: client.project.delete(project.id))
    emit("project.delete", result=deleted)


if __name__ == "__main__":
    main()
