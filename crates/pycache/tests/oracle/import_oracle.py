# Differential oracle for freshness: imports each named module from one directory and reports
# the VALUE it has. A pyc compiled from other text than the source gives itself away: VALUE is
# the pyc's text when import used the pyc, the source's text when it recompiled.
import json
import sys


def main():
    request = json.load(sys.stdin)
    sys.path.insert(0, request["dir"])
    sys.dont_write_bytecode = True
    seen = {}
    for name in request["modules"]:
        try:
            module = __import__(name)
            seen[name] = getattr(module, "VALUE", None)
        except Exception as error:
            seen[name] = "error: %s: %s" % (type(error).__name__, error)
    json.dump(seen, sys.stdout)


main()
