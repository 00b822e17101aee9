#!/usr/bin/env python
"""Write the public surface of kundajelab/deeplift 0.6.13 as JSON.

Usage::

    python scripts/surface_0613.py [SDIST_DIR] [--out tests/data/original/surface_0613.json]

``SDIST_DIR`` is an extracted ``deeplift-0.6.13.0`` (the directory holding
``deeplift/``); without it the sdist is fetched with
``pip download --no-deps deeplift==0.6.13.0`` into a temporary directory.

The original is read with :mod:`ast` only (it needs TensorFlow 1 to
import).  For every module: its public top-level functions, classes and
values, including what ``from .x import *`` brings into a package
``__init__``.  Functions and methods carry their parameters
``[name, kind, has_default]`` (kind: ``positional``, ``varargs``,
``kwonly``, ``varkw``; methods without ``self``/``cls``); classes their
public methods (``__init__``
included), inherited ones resolved through base classes defined in the
package; an ``__init__`` that forwards ``**kwargs`` to its base also lists
the base's parameters (as keyword-only).  Only names are recorded, never code.
"""
import argparse
import ast
import glob
import json
import os
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "tests", "data", "original",
                           "surface_0613.json")


def fetch_sdist(where):
    subprocess.check_call([sys.executable, "-m", "pip", "download", "-q",
                           "--no-deps", "--no-binary", ":all:",
                           "deeplift==0.6.13.0", "-d", where])
    archive = glob.glob(os.path.join(where, "deeplift-0.6.13.0*.tar.gz"))[0]
    with tarfile.open(archive) as tar:
        tar.extractall(where, filter="data")
    return os.path.join(where, "deeplift-0.6.13.0")


def params_of(node):
    """[[name, kind, has_default], ...] of a FunctionDef."""
    a = node.args
    positional = list(a.posonlyargs) + list(a.args)
    first_default = len(positional) - len(a.defaults)
    out = [[p.arg, "positional", i >= first_default]
           for i, p in enumerate(positional)]
    if a.vararg is not None:
        out.append([a.vararg.arg, "varargs", True])
    for p, default in zip(a.kwonlyargs, a.kw_defaults):
        out.append([p.arg, "kwonly", default is not None])
    if a.kwarg is not None:
        out.append([a.kwarg.arg, "varkw", True])
    return out


def module_name(root, path):
    rel = os.path.relpath(path, root)[:-3].replace(os.sep, ".")
    return rel[:-len(".__init__")] if rel.endswith(".__init__") else rel


class Module(object):
    def __init__(self, name, tree, is_package):
        self.name = name
        self.is_package = is_package
        self.functions, self.classes, self.values = {}, {}, set()
        self.star_imports = []
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                self.functions[node.name] = params_of(node)
            elif isinstance(node, ast.ClassDef):
                self.classes[node.name] = node
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.values.add(target.id)
            elif isinstance(node, ast.ImportFrom) and any(
                    alias.name == "*" for alias in node.names):
                self.star_imports.append((node.level, node.module))

    def resolve(self, level, module):
        parts = self.name.split(".")
        base = parts if self.is_package else parts[:-1]
        if level > 1:
            base = base[:-(level - 1)]
        return ".".join(base + ([module] if module else []))


def collect(root):
    modules = {}
    for path in glob.glob(os.path.join(root, "deeplift", "**", "*.py"),
                          recursive=True):
        name = module_name(root, path)
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        modules[name] = Module(name, tree, path.endswith("__init__.py"))
    return modules


def class_methods(modules, cls_node, module, seen=None):
    """Public methods (and __init__) of a class, own ones winning over
    those of package-defined bases."""
    seen = seen or set()
    methods = {}
    for base in cls_node.bases:
        base_name = (base.id if isinstance(base, ast.Name) else
                     base.attr if isinstance(base, ast.Attribute) else None)
        if base_name is None or base_name in seen:
            continue
        for other in modules.values():
            if base_name in other.classes:
                methods.update(class_methods(modules, other.classes[base_name],
                                             other, seen | {base_name}))
                break
    inherited_init = methods.get("__init__")
    for node in cls_node.body:
        if isinstance(node, ast.FunctionDef) and (
                not node.name.startswith("_") or node.name == "__init__"):
            params = params_of(node)
            static = any(isinstance(d, ast.Name) and d.id == "staticmethod"
                         for d in node.decorator_list)
            # self / cls are not part of what a caller passes
            methods[node.name] = params if static else params[1:]
    own_init = methods.get("__init__")
    if (own_init is not inherited_init and inherited_init is not None
            and own_init and own_init[-1][1] == "varkw"):
        # **kwargs forwarded to the base: the base's parameters are
        # accepted by keyword (and its **kwargs, if any, stays)
        named = {p[0] for p in own_init}
        merged = own_init[:-1] + [[p[0], "kwonly", p[2]]
                                  for p in inherited_init
                                  if p[1] in ("positional", "kwonly")
                                  and p[0] not in named]
        if inherited_init and inherited_init[-1][1] == "varkw":
            merged.append(own_init[-1])
        methods["__init__"] = merged
    return methods


def surface(modules, name, stack=()):
    module = modules[name]
    names = {}
    for level, target in module.star_imports:
        target_name = module.resolve(level, target)
        if target_name in modules and target_name not in stack:
            names.update(surface(modules, target_name, stack + (name,)))
    for fname, params in module.functions.items():
        if not fname.startswith("_"):
            names[fname] = {"kind": "function", "params": params}
    for cname, node in module.classes.items():
        if not cname.startswith("_"):
            names[cname] = {"kind": "class",
                            "methods": class_methods(modules, node, module)}
    for vname in module.values:
        if not vname.startswith("_"):
            names.setdefault(vname, {"kind": "value"})
    return names


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sdist_dir", nargs="?")
    parser.add_argument("--out", default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    root = args.sdist_dir or fetch_sdist(tempfile.mkdtemp())
    modules = collect(root)
    result = {"source": "deeplift==0.6.13.0 (sdist, read with ast)",
              "modules": {name: surface(modules, name)
                          for name in sorted(modules)}}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
        f.write("\n")
    counts = {m: len(v) for m, v in result["modules"].items()}
    sys.stderr.write("wrote %s: %s\n" % (args.out, counts))


if __name__ == "__main__":
    main()
