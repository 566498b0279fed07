"""Re-copies specklepy's GraphQL documents from an installed specklepy.

Usage: PYTHON refresh.py   (PYTHON: an interpreter with specklepy 2026.9.1 installed, e.g. the
                            one .ci/run builds from .ci/requirements-latest.txt)

Each document in DOCUMENTS is the string given to gql(...) in that method of
specklepy/api/resources/current/<resource>_resource.py, written to `<resource>.<method>.graphql`
after a `#` header naming the release, the file, the line and the method; the string itself is
copied exactly, its leading newline and indentation included.
"""

import ast
import importlib.metadata
import pathlib
import sys

import specklepy

VERSION = "2026.9.1"
RESOURCES = "api/resources/current"

# The methods whose documents this server answers, by resource (see ../../README.md for those
# left out, and why).
DOCUMENTS = {
    "active_user": ["get", "update", "get_projects", "get_projects_with_permissions",
                    "get_project_invites", "can_create_personal_projects",
                    "get_active_workspace"],
    "other_user": ["get", "user_search"],
    "project": ["get", "get_permissions", "get_with_models", "get_with_team", "create",
                "update", "delete", "update_role"],
    "model": ["get", "get_with_versions", "get_models", "get_permissions", "create", "update",
              "delete"],
    "version": ["get", "get_versions", "create", "update", "move_to_model", "delete",
                "received"],
    "server": ["get", "version", "apps", "create_token", "revoke_token"],
}


def main():
    installed = importlib.metadata.version("specklepy")
    if installed != VERSION:
        sys.exit(f"specklepy {installed} is installed; these documents are {VERSION}'s")
    here = pathlib.Path(__file__).parent
    package = pathlib.Path(specklepy.__file__).parent
    for old in here.glob("*.graphql"):
        old.unlink()
    count = 0
    for resource, methods in DOCUMENTS.items():
        rel = f"{RESOURCES}/{resource}_resource.py"
        tree = ast.parse((package / rel).read_text())
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef) or fn.name not in methods:
                continue
            calls = [n for n in ast.walk(fn) if isinstance(n, ast.Call)
                     and getattr(n.func, "id", None) == "gql" and n.args
                     and isinstance(n.args[0], ast.Constant)]
            if len(calls) != 1:
                sys.exit(f"{rel} {fn.name}: {len(calls)} gql documents, expected 1")
            doc = calls[0].args[0]
            header = (f"# specklepy {VERSION} (PyPI; github.com/specklesystems/specklepy)\n"
                      f"# specklepy/{rel}, line {doc.lineno}, {fn.name}()\n")
            (here / f"{resource}.{fn.name}.graphql").write_text(header + doc.value)
            count += 1
    expected = sum(len(m) for m in DOCUMENTS.values())
    if count != expected:
        sys.exit(f"wrote {count} documents, expected {expected}")
    print(f"{count} documents")


if __name__ == "__main__":
    main()
