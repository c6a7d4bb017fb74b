# What this interpreter's import finds for each module name in one directory:
# importlib.machinery.PathFinder.find_spec(name, [dir]). JSON in, JSON out.
import importlib.machinery
import json
import sys


def main():
    request = json.load(sys.stdin)
    found = {}
    for name in request["names"]:
        spec = importlib.machinery.PathFinder.find_spec(name, [request["dir"]])
        if spec is None:
            found[name] = None
        elif spec.origin is None or spec.origin == "namespace":
            found[name] = {"namespace": list(spec.submodule_search_locations)}
        else:
            found[name] = {"origin": spec.origin, "package": spec.submodule_search_locations is not None}
    json.dump(found, sys.stdout)


main()
