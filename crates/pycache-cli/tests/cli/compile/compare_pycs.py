# Compares pairs of pycs inside the interpreter that wrote them: the header bytes must be equal,
# and marshal.loads of both payloads must be equal object by object (code objects attribute by
# attribute, co_filename included). Also counts byte-identical files. JSON in, JSON out.
import json
import marshal
import sys
import types

HEADER = 16 if sys.version_info >= (3, 7) else 12
CODE_ATTRS = [a for a in dir(compile("", "", "exec")) if a.startswith("co_") and a not in ("co_lines", "co_positions", "co_lnotab")]


def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, types.CodeType):
        return all(same(getattr(a, n), getattr(b, n)) for n in CODE_ATTRS if not callable(getattr(a, n)))
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, (set, frozenset)):
        return a == b
    if isinstance(a, float) and a != a:
        return b != b
    return a == b


def main():
    pairs = json.load(sys.stdin)
    report = {"pairs": len(pairs), "identical": 0, "equal": 0, "header_diff": [], "object_diff": [], "byte_diff": []}
    for ours, theirs in pairs:
        with open(ours, "rb") as f:
            a = f.read()
        with open(theirs, "rb") as f:
            b = f.read()
        if a == b:
            report["identical"] += 1
            report["equal"] += 1
            continue
        report["byte_diff"].append(ours)
        if a[:HEADER] != b[:HEADER]:
            report["header_diff"].append(ours)
            continue
        if same(marshal.loads(a[HEADER:]), marshal.loads(b[HEADER:])):
            report["equal"] += 1
        else:
            report["object_diff"].append(ours)
    json.dump(report, sys.stdout)


main()
