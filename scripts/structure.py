#!/usr/bin/env python3
"""Checks the shape rules of issue 10 over the workspace's production code:
no import circles between the top-level modules of a crate (a `use`s crate::b, which
uses crate::a, directly or through others), no production file over 800 lines, no function over 100 lines.

Production code: crates/*/src/**/*.rs, without `tests.rs` files, `tests/` folders and
`#[cfg(test)] mod tests { ... }` blocks. Prints each violation; exits 1 if any.
Usage: python3 scripts/structure.py [--max-file 800] [--max-fn 100]
"""
import argparse
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def production_files(crate_src):
    for dirpath, _, files in os.walk(crate_src):
        if "/tests" in dirpath.replace(crate_src, ""):
            continue
        for f in files:
            if f.endswith(".rs") and f != "tests.rs" and not f.endswith("_tests.rs"):
                yield os.path.join(dirpath, f)


def strip_test_module(text):
    """The file without a trailing `#[cfg(test)] mod tests { ... }` block."""
    m = re.search(r"^#\[cfg\(test\)\]\s*\n\s*mod \w+ \{", text, re.M)
    return text[: m.start()] if m else text


def module_of(crate_src, path):
    rel = os.path.relpath(path, crate_src)[:-3]
    parts = rel.split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return parts[0] if parts else ""


def uses(text):
    code = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("//"))
    found = set()
    for m in re.finditer(r"\bcrate::(\w+)", code):
        found.add(m.group(1))
    return found


def long_functions(text, limit):
    lines = text.splitlines()
    out = []
    i = 0
    fn_re = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(async\s+)?(const\s+)?(unsafe\s+)?fn\s+(\w+)")
    while i < len(lines):
        m = fn_re.match(lines[i])
        if m:
            depth, started, j = 0, False, i
            while j < len(lines):
                s = re.sub(r'"(\\.|[^"\\])*"', '""', lines[j].split("//")[0])
                depth += s.count("{") - s.count("}")
                if "{" in s:
                    started = True
                if started and depth <= 0:
                    break
                if not started and s.rstrip().endswith(";"):
                    break
                j += 1
            n = j - i + 1
            if started and n > limit:
                out.append((m.group(6), i + 1, n))
            i = j + 1 if started else i + 1
        else:
            i += 1
    return out


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan), each as a list
    of module names, one circle through them when one is found by walking the graph."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in graph:
                continue
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
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-file", type=int, default=800)
    ap.add_argument("--max-fn", type=int, default=100)
    args = ap.parse_args()
    bad = []
    crates = os.path.join(ROOT, "crates")
    for crate in sorted(os.listdir(crates)):
        src = os.path.join(crates, crate, "src")
        if not os.path.isdir(src):
            continue
        graph = {}
        for path in production_files(src):
            text = strip_test_module(open(path, encoding="utf-8").read())
            rel = os.path.relpath(path, ROOT)
            n = text.count("\n")
            if n > args.max_file:
                bad.append(f"{rel}: {n} lines of production code (at most {args.max_file})")
            for name, line, length in long_functions(text, args.max_fn):
                bad.append(f"{rel}:{line}: fn `{name}` is {length} lines (at most {args.max_fn})")
            mod = module_of(src, path)
            graph.setdefault(mod, set()).update(u for u in uses(text) if u != mod)
        for cycle in cycles(graph):
            bad.append(f"crates/{crate}: these modules reach each other through their imports (a circle): {', '.join(cycle)}")
    for line in bad:
        print(line)
    if bad:
        print(f"{len(bad)} structure violation(s)", file=sys.stderr)
        return 1
    print("structure: no import circles, no long files or functions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
