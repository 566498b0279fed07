"""Re-copies the documents of Speckle's first web app (packages/frontend) from a speckle-server
git directory.

Usage: refresh.py SPECKLE_SERVER_GIT_DIR [COMMIT]
       (COMMIT defaults to 49438f089d2321cdeb71d0a35ef07f942bd06316, the parent of ec98f8d4,
       the commit that removed the app)

Each operation in OPERATIONS, and every fragment it spreads, is written to `<name>.graphql`:
a `#` header naming the repository, file, line and commit, then the document exactly as the
source holds it. A `.gql` file is one document, copied whole; in `.js`, `.ts` and `.vue` files a
document is the text of one gql`...` template, copied as is (the `${fragment}` interpolation
lines included: Apollo's gql tag replaces them with the fragment's definition, and so do the
tests, from the fragment's own file) except that the newline after the opening backtick and the
indentation-only line before the closing one are dropped.
"""

import pathlib
import re
import subprocess
import sys

REPO = "specklesystems/speckle-server"
COMMIT = "49438f089d2321cdeb71d0a35ef07f942bd06316"
ROOT = "packages/frontend/src/"
# Where the app's documents live: whole-file documents and files of gql`...` templates.
GQL_FILES = ["graphql/" + f for f in (
    "webhooks.gql", "webhook.gql", "branch.gql", "commit.gql", "streamCommits.gql",
    "streams.gql", "objectSingle.gql", "objectSingleNoData.gql", "userById.gql",
    "userProfile.gql")]
TEMPLATE_FILES = ["graphql/" + f for f in (
    "branch.js", "commits.ts", "streams.js", "user.js", "server.js", "fragments/user.js")] + [
    "main/components/stream/WebhookForm.vue"]

# The operations this server answers (see ../README.md for those left out, and why).
OPERATIONS = [
    # the stream's Webhooks page and its form
    "webhooks", "webhook", "webhookCreate", "webhookUpdate", "webhookDelete",
    # streams
    "Streams", "SearchStreams", "Stream", "StreamSettings", "ShareableStream",
    "UpdateStreamSettings", "UpdateStreamPermission", "LeaveStream", "DeleteStream",
    # branches and commits
    "StreamWithBranch", "StreamAllBranches", "StreamBranchesSelector", "StreamCommitQuery",
    "StreamCommits", "StreamFirstCommit", "StreamBranchFirstCommit", "MoveCommits",
    "DeleteCommits",
    # objects
    "StreamObject", "StreamObjectNoData",
    # users
    "MainUserData", "ProfileSelf", "IsLoggedIn", "EmailVerificationBannerState", "UserById",
    "UserProfile", "UserSearch",
    # server
    "MainServerInfo", "FullServerInfo", "ServerInfoBlobSizeLimit", "AvailableServerRoles",
]


def main():
    git_dir = sys.argv[1]
    commit = sys.argv[2] if len(sys.argv) > 2 else COMMIT
    here = pathlib.Path(__file__).parent

    def show(path):
        return subprocess.run(
            ["git", "--git-dir", git_dir, "show", f"{commit}:{ROOT}{path}"],
            capture_output=True, text=True, check=True,
        ).stdout

    found = {}  # name -> (path, line, text)
    for path in GQL_FILES:
        text = show(path)
        name = re.search(r"(?:query|mutation|fragment)\s+(\w+)", text).group(1)
        found[name] = (path, 1, text)
    for path in TEMPLATE_FILES:
        src = show(path)
        for m in re.finditer(r"gql`(.*?)`", src, re.S):
            t = m.group(1)
            h = re.search(r"(?:query|mutation|subscription|fragment)\s+(\w+)", t)
            line = src[: m.start()].count("\n") + 1
            t = t[1:] if t.startswith("\n") else t
            found[h.group(1)] = (path, line, re.sub(r"\n[ \t]*$", "", t) + "\n")

    def spreads(text):
        return re.findall(r"\.\.\.\s*([A-Za-z_]\w*)", text)

    wanted, todo = [], list(OPERATIONS)
    while todo:
        name = todo.pop(0)
        if name in wanted:
            continue
        if name not in found:
            sys.exit(f"{name} not found at {commit}")
        wanted.append(name)
        todo += spreads(found[name][2])
    for old in here.glob("*.graphql"):
        old.unlink()
    for name in wanted:
        path, line, text = found[name]
        header = (f"# Speckle's first web app: {REPO} {ROOT}{path}, line {line}\n"
                  f"# commit {commit}\n")
        (here / f"{name}.graphql").write_text(header + text)
    print(f"{len(OPERATIONS)} operations, {len(wanted) - len(OPERATIONS)} fragments")


if __name__ == "__main__":
    main()
