"""Re-copies the Speckle web app's (frontend-2) documents from a speckle-server git directory.

Usage: refresh.py SPECKLE_SERVER_GIT_DIR [COMMIT]
       (COMMIT defaults to 51d43b91c4681a75bff8b285da7f443a4599da67)

Every graphql(`...`) template in packages/frontend-2 is read; each operation in OPERATIONS, and
every fragment it spreads, is written to `<name>.graphql`: a `#` header naming the repository,
file, line and commit, then the template's text as is (only the newline after the opening
backtick and the indentation-only line before the closing one are dropped). Also writes
WebhookTriggers.ts, the trigger list the webhook dialog offers.
"""

import pathlib
import re
import subprocess
import sys

REPO = "specklesystems/speckle-server"
COMMIT = "51d43b91c4681a75bff8b285da7f443a4599da67"
APP = "packages/frontend-2"
# Codegen output repeats every document; the app's own sources are the originals.
SKIP = "packages/frontend-2/lib/common/generated/"

# The operations this server answers (see ../README.md for those left out, and why).
OPERATIONS = [
    # project Settings -> Webhooks
    "CanViewProjectWebhooks", "ProjectWebhooks", "createWebhook", "updateWebhook",
    "deleteWebhook",
    # the project page, its models and discussions tabs, and its settings
    "ProjectAccessCheck", "projectWorkspaceAccessCheck", "ProjectPageQuery",
    "ProjectModelsPage", "ProjectDiscussionsPage", "ProjectModelCheck",
    "CanViewProjectSettings", "CanViewProjectTokens", "UpdateProjectMetadata",
    "UpdateProjectRole", "LeaveProject", "DeleteProject",
    # models and versions
    "ProjectModelsSelectorValues", "SearchProjectModels", "DeleteModel", "UpdateVersion",
    "MoveVersions", "DeleteVersions", "ViewerModelVersions", "ViewerDiffVersions",
    "ViewerRawProjectObject",
    # links from Speckle's first web app (/streams/..., /commits/...)
    "LegacyBranchRedirectMetadata", "LegacyViewerCommitRedirectMetadata",
    "LegacyViewerStreamRedirectMetadata",
    # the signed-in user
    "ActiveUserMainMetadata", "ActiveUserProjectsToMove", "UserActiveWorkspaceSlug",
    "UserEmails", "UseCanCreateWorkspace", "SearchProjects", "UpdateUser",
    "MentionsUserSearch", "InviteUserSearch", "CreateAccessToken", "DeleteAccessToken",
    # the server
    "MainServerInfoData", "AuthLoginPanel", "ServerInfoAllScopes", "ServerInfoBlobSizeLimit",
    "ServerInfoEmailVerificationTimeout", "ServerSettingsDialogData",
]


def main():
    git_dir = sys.argv[1]
    commit = sys.argv[2] if len(sys.argv) > 2 else COMMIT
    here = pathlib.Path(__file__).parent

    def git(*args):
        return subprocess.run(["git", "--git-dir", git_dir, *args],
                              capture_output=True, text=True, check=True).stdout

    found = {}  # name -> (path, line, text)
    for hit in git("grep", "-l", "graphql(`", commit, "--", APP).split():
        path = hit.split(":", 1)[1]
        if path.startswith(SKIP):
            continue
        src = git("show", f"{commit}:{path}")
        for m in re.finditer(r"graphql\(`(.*?)`\)", src, re.S):
            t = m.group(1)
            h = re.search(r"(?:query|mutation|subscription|fragment)\s+(\w+)", t)
            if not h:
                continue
            line = src[: m.start()].count("\n") + 1
            t = t[1:] if t.startswith("\n") else t
            found.setdefault(h.group(1), (path, line, re.sub(r"\n[ \t]*$", "", t) + "\n"))

    wanted, todo = [], list(OPERATIONS)
    while todo:
        name = todo.pop(0)
        if name in wanted:
            continue
        if name not in found:
            sys.exit(f"{name} not found at {commit}")
        wanted.append(name)
        todo += re.findall(r"\.\.\.\s*([A-Za-z_]\w*)", found[name][2])
    for old in here.glob("*.graphql"):
        old.unlink()
    for name in wanted:
        path, line, text = found[name]
        header = f"# frontend-2 (the Speckle web app): {REPO} {path}, line {line}\n# commit {commit}\n"
        (here / f"{name}.graphql").write_text(header + text)
    consts = git("show", f"{commit}:packages/shared/src/core/constants.ts")
    m = re.search(r"export const WebhookTriggers = Object\.freeze\(<const>\{.*?\n\}\)\n", consts, re.S)
    (here / "WebhookTriggers.ts").write_text(m.group(0))
    print(f"{len(OPERATIONS)} operations, {len(wanted) - len(OPERATIONS)} fragments")


if __name__ == "__main__":
    main()
