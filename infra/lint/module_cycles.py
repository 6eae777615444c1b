#!/usr/bin/env python3
"""Lists import cycles between the modules of a Rust crate's src/ folder.

A module imports another when its non-test code names it by path (`use crate::a::b`,
`super::x`, `crate::a::b::Item` inline). A parent using or re-exporting its own submodules is not
counted (it owns them: the facade of `mod.rs`), a submodule using its parent is. Test modules are
left out. So `x.rs` and `signing.rs` naming each other is a cycle, and so is a handler naming
`openapi.rs` while `openapi.rs` names the handler. Prints each strongly connected group of two or more modules and exits 1 if there is
one. Usage: module_cycles.py shared/src
"""
import re
import sys
from pathlib import Path


def modules(src: Path):
    out = {}
    for f in sorted(src.rglob("*.rs")):
        rel = f.relative_to(src).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] in ("mod", "lib", "main"):
            parts = parts[:-1]
        out[tuple(parts)] = f
    return out


def strip_tests(text: str) -> str:
    # Drop `#[cfg(test)] mod tests { ... }` blocks (brace matching) and comments.
    text = re.sub(r"//[^\n]*", "", text)
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while depth and j < len(text):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def resolve(mods, here, path):
    """The longest known module that `path` (a list of segments) names, from module `here`."""
    segs = list(path)
    if not segs:
        return None
    if segs[0] == "crate":
        base, segs = [], segs[1:]
    elif tuple(list(here) + [segs[0]]) in mods:
        base = list(here)  # a child module named without `self::`
    elif segs[0] == "self":
        base, segs = list(here), segs[1:]
    elif segs[0] == "super":
        base = list(here)
        while segs and segs[0] == "super":
            base, segs = base[:-1], segs[1:]
    else:
        return None
    best = None
    for n in range(len(segs) + 1):
        cand = tuple(base + segs[:n])
        if cand in mods:
            best = cand
    return best


def main(src):
    src = Path(src)
    mods = modules(src)
    edges = {m: set() for m in mods}
    for m, f in mods.items():
        text = strip_tests(f.read_text())
        paths = []
        for u in re.finditer(r"\buse\s+([^;]+);", text):
            body = u.group(1).replace("\n", " ")
            prefix = re.match(r"((?:crate|super|self|\w+)(?:::\w+)*)", body.strip())
            if not prefix:
                continue
            p = prefix.group(1).split("::")
            rest = body.strip()[len(prefix.group(1)):]
            if rest.startswith("::{"):
                for name in re.findall(r"\b(\w+)\b(?:\s*::\s*\{|\s*::\s*\w+|\s*,|\s*\}|\s+as\b)", rest[3:]):
                    paths.append(p + [name])
            else:
                paths.append(p)
        for inline in re.finditer(r"(?<![\w:])(\w+(?:::\w+)+)", text):
            paths.append(inline.group(1).split("::"))
        for p in paths:
            t = resolve(mods, m, p)
            if t is None or t == m or t[: len(m)] == m:
                continue  # itself, or one of its own submodules: a parent owns and exposes its children
            edges[m].add(t)
    # Tarjan's strongly connected components.
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in mods:
        if v not in index:
            visit(v)
    name = lambda m: "::".join(m) or "crate"
    for comp in out:
        members = sorted(comp)
        print("cycle: " + ", ".join(name(m) for m in members))
        for a in members:
            for b in sorted(edges[a]):
                if b in comp:
                    print(f"    {name(a)} -> {name(b)}")
    if not out:
        print(f"no import cycles among {len(mods)} modules")
    return 1 if out else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "shared/src"))
