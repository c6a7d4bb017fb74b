# Oracle for the marshal tests; runs in every interpreter (3.6+ and PyPy). Reads a JSON request on
# stdin, answers JSON on stdout.
#   {"mode": "sources", "limit": N}  -> up to N .py files of the stdlib and site-packages
#       (every k-th of the sorted list), as [path, relative path] pairs.
#   {"mode": "compile", "sources": [[path, rel]], "out": dir, "prefix": hex}
#       -> compiles each into out/rel + "c" with dfile = fsdecode(prefix bytes) + rel, in this one
#       process, in order; answers the rels that compiled.
#   {"mode": "fields", "pycs": [path]} -> for each pyc, its code objects in stream order (pre-order
#       over co_consts, each object once): the ints and names marshal wrote.
#   {"mode": "same", "pairs": [[pyc, pyc]]} -> indices of the pairs whose code differs, deeply,
#       co_filename and the types of constants included.
import importlib.util
import json
import marshal
import os
import py_compile
import sys
import sysconfig
import types
import warnings

warnings.simplefilter("ignore")
HEADER = 16 if sys.version_info >= (3, 7) else 12


def sources(limit):
    found = []
    roots = []
    for key in ("stdlib", "purelib", "platlib"):
        root = sysconfig.get_paths().get(key)
        if root and os.path.isdir(root) and root not in roots:
            roots.append(root)
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__",))
            if root == roots[0] and dirpath != root and os.path.relpath(dirpath, root).split(os.sep)[0] == "site-packages":
                dirnames[:] = []
                continue
            for name in sorted(filenames):
                if name.endswith(".py"):
                    path = os.path.join(dirpath, name)
                    rel = str(roots.index(root)) + "/" + os.path.relpath(path, root)
                    found.append([path, rel])
    found.sort(key=lambda p: p[1])
    if limit and len(found) > limit:
        step = len(found) / float(limit)
        found = [found[int(i * step)] for i in range(limit)]
    return found


def compile_all(request):
    prefix = os.fsdecode(bytes.fromhex(request["prefix"]))
    done = []
    for path, rel in request["sources"]:
        cfile = os.path.join(request["out"], rel + "c")
        try:
            py_compile.compile(path, cfile=cfile, dfile=prefix + rel, doraise=True)
        except Exception:
            continue
        done.append(rel)
    return done


def load(pyc):
    with open(pyc, "rb") as f:
        return marshal.loads(f.read()[HEADER:])


def text(s):
    return s.encode("utf-8", "surrogatepass").hex()


def codes(code, seen):
    if id(code) in seen:
        return []
    seen.add(id(code))
    out = [code]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            out.extend(codes(const, seen))
    return out


def fields(code):
    out = {}
    for name in ("argcount", "posonlyargcount", "kwonlyargcount", "nlocals", "stacksize",
                 "flags", "firstlineno"):
        if hasattr(code, "co_" + name):
            out[name] = getattr(code, "co_" + name)
    for name in ("filename", "name", "qualname"):
        if hasattr(code, "co_" + name):
            out[name] = text(getattr(code, "co_" + name))
    return out


def key(obj):
    if isinstance(obj, types.CodeType):
        attrs = []
        for name in sorted(dir(obj)):
            if name.startswith("co_") and name not in ("co_lnotab",):
                value = getattr(obj, name)
                if not callable(value):
                    attrs.append((name, key(value)))
        return ("code", tuple(attrs))
    if isinstance(obj, (tuple, list)):
        return (type(obj).__name__, tuple(key(x) for x in obj))
    if isinstance(obj, (frozenset, set)):
        return (type(obj).__name__, frozenset(key(x) for x in obj))
    if isinstance(obj, float):
        return ("float", obj.hex())
    if isinstance(obj, complex):
        return ("complex", obj.real.hex(), obj.imag.hex())
    return (type(obj).__name__, obj)


def same(pairs):
    return [i for i, (a, b) in enumerate(pairs) if key(load(a)) != key(load(b))]


def main():
    request = json.load(sys.stdin)
    mode = request["mode"]
    if mode == "sources":
        answer = sources(request["limit"])
    elif mode == "compile":
        answer = compile_all(request)
    elif mode == "fields":
        answer = [[fields(c) for c in codes(load(p), set())] for p in request["pycs"]]
    elif mode == "same":
        answer = same(request["pairs"])
    else:
        raise SystemExit("unknown mode " + mode)
    json.dump(answer, sys.stdout)


main()
