"""Validates the Speckle web app's (frontend-2) webhook documents against streamhooks' SDL.

Usage: validate.py SCHEMA_SDL DOCS_DIR [EXTRA_DOCUMENT ...]

Uses graphql-core (the Python port of graphql-js, pinned in .ci/requirements.txt), so the check
is independent of the server that exported the schema. Each operation in DOCS_DIR (and each extra
document) is validated together with the fragments it spreads, found in DOCS_DIR, as the web
app's Apollo client sends them. Prints one line per document; exits 1 if any is invalid.
"""

import pathlib
import re
import sys

from graphql import build_schema, parse, validate


def with_fragments(text, fragments):
    """The document plus every fragment it spreads, transitively, each once."""
    out, seen, todo = [text], set(), re.findall(r"\.\.\.\s*([A-Za-z_]\w*)", text)
    while todo:
        name = todo.pop()
        if name in seen or name not in fragments:
            continue
        seen.add(name)
        out.append(fragments[name])
        todo.extend(re.findall(r"\.\.\.\s*([A-Za-z_]\w*)", fragments[name]))
    return "\n".join(out)


def main():
    schema = build_schema(pathlib.Path(sys.argv[1]).read_text())
    docs = sorted(pathlib.Path(sys.argv[2]).glob("*.graphql"))
    fragments, operations = {}, []
    for path in docs:
        text = path.read_text()
        m = re.match(r"\s*fragment\s+(\w+)", text)
        if m:
            fragments[m.group(1)] = text
        else:
            operations.append(path)
    operations += [pathlib.Path(p) for p in sys.argv[3:]]
    if not operations:
        print("no operations found", file=sys.stderr)
        return 1
    failed = 0
    for path in operations:
        errors = validate(schema, parse(with_fragments(path.read_text(), fragments)))
        if errors:
            failed += 1
            for e in errors:
                print(f"INVALID {path.name}: {e.message}")
        else:
            print(f"valid {path.name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
