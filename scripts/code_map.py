"""Print the package's architecture figures: module tree, import-graph depth, longest functions.

Reads the sources as text (ast), imports nothing. The import graph has one
node per module of `albert_tf` (including `albert_tf.export` and
`albert_tf.apps`, wherever their folders live) and an edge for every
`import`/`from ... import` of another of its modules. Imports deferred into a
function count too (they are still a dependency), except one that points back
up the graph (it would close a cycle): those are listed by name, so that each
stays a visible, deliberate exception. Depth is the longest chain of edges; a
cycle among module-level imports is reported instead of a depth.

    python scripts/code_map.py            # depth, longest chain, ten longest functions
    python scripts/code_map.py --edges    # plus every edge
"""

import argparse
import ast
import functools
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent  # --root replaces it


def package_roots():
    """Import name -> folder, from pyproject's package-dir mapping (and albert_tf itself)."""
    import tomllib
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    roots = {"albert_tf": ROOT / "albert_tf"}
    for name, folder in setup.get("package-dir", {}).items():
        roots[name] = ROOT / folder
    return roots


def modules():
    found = {}
    roots = package_roots()
    for prefix, folder in roots.items():
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            found.setdefault(".".join([prefix, *parts]), path)
    return found


def imports_of(name, path, known):
    """`(module-level targets, deferred targets)`: imports at the top, and inside functions."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    deferred_nodes = {id(node) for function in ast.walk(tree)
                      if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
                      for node in ast.walk(function)}
    targets, deferred = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in names:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                (deferred if id(node) in deferred_nodes else targets).add(target)
    return targets, deferred - targets


def reaches(graph, start, goal):
    seen, stack = set(), [start]
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(graph[node])
    return False


def functions(found):
    rows = []
    for name, path in found.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                rows.append((node.end_lineno - node.lineno + 1,
                             f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"))
    return sorted(rows, reverse=True)


def main():
    global ROOT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", action="store_true", help="print every edge")
    parser.add_argument("--top", type=int, default=10,
                        help="longest functions to list (default: 10)")
    parser.add_argument("--root", type=pathlib.Path, default=ROOT,
                        help="checkout to map (default: this one)")
    args = parser.parse_args()
    ROOT = args.root.resolve()
    found = modules()
    both = {name: imports_of(name, path, found) for name, path in found.items()}
    # A package's __init__ importing its own submodules is re-export, not a floor.
    own = lambda n, ts: {t for t in ts if not t.startswith(n + ".")}  # noqa: E731
    graph = {n: own(n, top) for n, (top, _) in both.items()}
    upward = []
    for n, (_, deferred) in sorted(both.items()):
        for target in sorted(own(n, deferred)):
            if reaches(graph, target, n):
                upward.append(f"{n} -> {target}")
            else:
                graph[n].add(target)

    @functools.lru_cache(maxsize=None)
    def chain(name, stack=()):
        if name in stack:
            raise RecursionError(" -> ".join(stack + (name,)))
        best = ()
        for target in graph[name]:
            candidate = chain(target, stack + (name,))
            if len(candidate) > len(best):
                best = candidate
        return (name,) + best

    print(f"modules: {len(found)}  edges: {sum(map(len, graph.values()))}")
    try:
        longest = max((chain(n) for n in graph), key=len)
        print(f"import-graph depth: {len(longest) - 1} edges")
        print("longest chain: " + " -> ".join(longest))
    except RecursionError as cycle:
        print(f"import cycle: {cycle}")
    print(f"deferred imports pointing up the graph: {len(upward)}")
    for edge in upward:
        print(f"  {edge}")
    if args.edges:
        for name in sorted(graph):
            for target in sorted(graph[name]):
                print(f"  {name} -> {target}")
    print(f"{args.top} longest functions (lines):")
    for length, where in functions(found)[: args.top]:
        print(f"  {length:4d}  {where}")


if __name__ == "__main__":
    main()
