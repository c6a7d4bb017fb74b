# Differential oracle for cache paths: answers each case with the running interpreter's own
# importlib.util.cache_from_source / source_from_cache. Input and output are JSON on stdin/stdout;
# paths travel as hex of their file-system bytes.
import binascii
import importlib.util
import json
import os
import sys


def fs(hexed):
    return os.fsdecode(binascii.unhexlify(hexed))


def out(path):
    return binascii.hexlify(os.fsencode(path)).decode("ascii")


def answer(call):
    try:
        return {"ok": out(call())}
    except Exception as error:  # the exception type and message are what we compare
        return {"error": type(error).__name__, "message": str(error)}


def main():
    request = json.load(sys.stdin)
    os.chdir(fs(request["cwd"]))
    results = []
    for case in request["cases"]:
        prefix = case.get("prefix")
        sys.pycache_prefix = fs(prefix) if prefix is not None else None
        path = fs(case["path"])
        if case["kind"] == "cache":
            opt = case.get("opt")
            if opt is None:
                results.append(answer(lambda: importlib.util.cache_from_source(path)))
            else:
                results.append(
                    answer(lambda: importlib.util.cache_from_source(path, optimization=opt))
                )
        else:
            results.append(answer(lambda: importlib.util.source_from_cache(path)))
    json.dump(results, sys.stdout)


main()
