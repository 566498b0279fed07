"""Validates copied client documents against streamhooks' SDL.

Usage: validate.py SCHEMA_SDL DOCS_DIR [DOCS_DIR ...] [EXTRA_DOCUMENT ...]

Uses graphql-core (the Python port of graphql-js, pinned in .ci/requirements.txt), so the check
is independent of the server that exported the schema. Each directory is one client's corpus
(tests/interop/frontend1, frontend2, specklepy/2026.9.1): every operation in it is validated
together with the fragments it spreads, found in the same directory, as the client's Apollo or
gql sends them; an extra document (a file) is validated with every directory's fragments. Lines
that are only a `${fragment}` interpolation (Speckle's first web app keeps them in its gql``
templates) are dropped, as Apollo's gql tag replaces them with the fragment's own definition.
Prints one line per document; exits 1 if any is invalid.
"""

import pathlib
import re
import sys

from graphql import build_schema, parse, validate

INTERPOLATION = re.compile(r"^[ \t]*\$\{\w+\}[ \t]*$", re.M)


def read(path):
    return INTERPOLATION.sub("", path.read_text())


def definition(text):
    """(kind, name) of the document's first definition, skipping `#` comment lines."""
    body = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
    m = re.search(r"\b(query|mutation|subscription|fragment)\s+(\w+)", body)
    return (m.group(1), m.group(2)) if m else ("query", None)


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
    args = [pathlib.Path(a) for a in sys.argv[2:]]
    corpora = [a for a in args if a.is_dir()]
    extras = [a for a in args if not a.is_dir()]
    jobs, everywhere = [], {}
    for corpus in corpora:
        fragments, operations = {}, []
        for path in sorted(corpus.glob("*.graphql")):
            text = read(path)
            kind, name = definition(text)
            if kind == "fragment":
                fragments[name] = text
            else:
                operations.append(path)
        everywhere.update(fragments)
        jobs += [(corpus.name, p, fragments) for p in operations]
    jobs += [("extra", p, everywhere) for p in extras]
    if not jobs:
        print("no operations found", file=sys.stderr)
        return 1
    failed = 0
    for corpus, path, fragments in jobs:
        errors = validate(schema, parse(with_fragments(read(path), fragments)))
        if errors:
            failed += 1
            for e in errors:
                print(f"INVALID {corpus}/{path.name}: {e.message}")
        else:
            print(f"valid {corpus}/{path.name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
