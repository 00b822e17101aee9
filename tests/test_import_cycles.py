"""No import cycles between deeplift's modules.

The graph is read from the source with ``ast``: every ``import`` and
``from ... import`` of a deeplift module, at module level AND inside
functions (a function-level import that closes a cycle is a cycle that was
hidden, not removed).  An import of ``a.b.c`` also depends on the packages
``a`` and ``a.b`` (their ``__init__`` runs first), except the importing
module's own ancestors, which Python has already started.
"""
import ast
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_DIR = os.path.join(os.path.dirname(HERE), "deeplift")


def module_files(package_dir=PACKAGE_DIR):
    """{module name: path} of every .py file of the package."""
    root = os.path.dirname(package_dir)
    found = {}
    for dirpath, _, filenames in os.walk(package_dir):
        for filename in filenames:
            if filename.endswith(".py"):
                path = os.path.join(dirpath, filename)
                name = os.path.relpath(path, root)[:-3].replace(os.sep, ".")
                if name.endswith(".__init__"):
                    name = name[:-len(".__init__")]
                found[name] = path
    return found


def _ancestors(name):
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def import_graph(files):
    """{module: set of deeplift modules it imports}."""
    graph = {}
    for name, path in files.items():
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        is_package = path.endswith("__init__.py")
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".")
                    if not is_package:
                        base = base[:-1]
                    base = base[:len(base) - (node.level - 1)]
                    module = ".".join(base + ([node.module]
                                              if node.module else []))
                else:
                    module = node.module or ""
                targets.add(module)
                for alias in node.names:
                    targets.add(module + "." + alias.name)
        edges = set()
        for target in targets:
            if target in files:
                edges.add(target)
                edges.update(p for p in _ancestors(target) if p in files)
        edges -= _ancestors(name) | {name}
        graph[name] = edges
    return graph


def find_cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return result


def test_no_import_cycles():
    files = module_files()
    assert "deeplift.layers.core" in files and "deeplift.modes" in files
    cycles = find_cycles(import_graph(files))
    assert not cycles, "import cycles: %s" % (
        "; ".join(" <-> ".join(c) for c in cycles))


def test_layers_core_imports_nothing_that_imports_it_back():
    """``import deeplift.layers.core`` reaches no module that imports it."""
    graph = import_graph(module_files())
    reached, frontier = set(), ["deeplift.layers.core"]
    while frontier:
        for target in graph.get(frontier.pop(), ()):
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    assert "deeplift.layers.core" not in reached, sorted(reached)


def test_modes_is_a_leaf():
    graph = import_graph(module_files())
    assert graph["deeplift.modes"] == set()


@pytest.mark.parametrize("source,expect_cycle", [
    ({"a": "import pkg.b\n", "b": "from pkg import a\n"}, True),
    ({"a": "def f():\n    from pkg.b import x\n", "b": "import pkg.a\n"},
     True),
    ({"a": "from . import b\n", "b": "x = 1\n"}, False),
])
def test_checker_finds_cycles(tmp_path, source, expect_cycle):
    """The checker itself, on a throw-away package (function-level imports
    count)."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name, text in source.items():
        (pkg / (name + ".py")).write_text(text)
    cycles = find_cycles(import_graph(module_files(str(pkg))))
    assert bool(cycles) == expect_cycle, cycles
