"""Re-copies the Speckle web app's webhook documents from a speckle-server checkout.

Usage: refresh.py SPECKLE_SERVER_GIT_DIR [COMMIT]   (COMMIT defaults to HEAD)

Each document is the text of one graphql(`...`) template in frontend-2's source, copied as is
(only the newline after the opening backtick and the indentation-only line before the closing
one are dropped). Update README.md's commit and paths after running it.
"""

import pathlib
import re
import subprocess
import sys

# file written here -> (source path in speckle-server, text that identifies the template)
DOCUMENTS = {
    "CanViewProjectWebhooks.graphql": ("packages/frontend-2/middleware/canViewWebhooks.ts", "query CanViewProjectWebhooks"),
    "ProjectWebhooks.graphql": ("packages/frontend-2/lib/projects/graphql/queries.ts", "query ProjectWebhooks("),
    "ProjectPageSettingsWebhooks_Project.graphql": ("packages/frontend-2/components/project/page/settings/webhooks/Webhooks.vue", "fragment ProjectPageSettingsWebhooks_Project"),
    "FullPermissionCheckResult.graphql": ("packages/frontend-2/lib/auth/graphql/fragments.ts", "fragment FullPermissionCheckResult"),
    "createWebhook.graphql": ("packages/frontend-2/lib/projects/graphql/mutations.ts", "mutation createWebhook("),
    "updateWebhook.graphql": ("packages/frontend-2/lib/projects/graphql/mutations.ts", "mutation updateWebhook("),
    "deleteWebhook.graphql": ("packages/frontend-2/lib/projects/graphql/mutations.ts", "mutation deleteWebhook("),
}


def main():
    git_dir, commit = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "HEAD")
    here = pathlib.Path(__file__).parent

    def show(path):
        return subprocess.run(
            ["git", "--git-dir", git_dir, "show", f"{commit}:{path}"],
            capture_output=True, text=True, check=True,
        ).stdout

    for name, (path, needle) in DOCUMENTS.items():
        for t in re.findall(r"graphql\(`(.*?)`\)", show(path), re.S):
            if needle in t:
                t = t[1:] if t.startswith("\n") else t
                (here / name).write_text(re.sub(r"\n[ \t]*$", "", t) + "\n")
                break
        else:
            sys.exit(f"{needle!r} not found in {path}")
    consts = show("packages/shared/src/core/constants.ts")
    m = re.search(r"export const WebhookTriggers = Object\.freeze\(<const>\{.*?\n\}\)\n", consts, re.S)
    (here / "WebhookTriggers.ts").write_text(m.group(0))


if __name__ == "__main__":
    main()
