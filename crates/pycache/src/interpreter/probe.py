# pycache's interpreter probe: prints one JSON object describing this interpreter.
#
# Runs on every Python pycache may meet (2.7, 3.3+, PyPy), so it uses only what all of them have.
# Paths are sent as the hex of their file-system bytes, so that no name is ever mangled.
import json
import marshal
import os
import sys


def fsbytes(path):
    if path is None:
        return None
    if isinstance(path, bytes):
        return path
    try:
        return os.fsencode(path)
    except AttributeError:  # Python 2: str is bytes already, unicode needs encoding
        return path.encode(sys.getfilesystemencoding())


def hexpath(path):
    data = fsbytes(path)
    if data is None:
        return None
    return "".join("%02x" % c for c in bytearray(data))


def main():
    info = {
        "probe_version": 2,
        "implementation": getattr(getattr(sys, "implementation", None), "name", None)
        or ("pypy" if "__pypy__" in sys.builtin_module_names else "cpython"),
        "version": "%d.%d.%d" % sys.version_info[:3],
        "sys_version": sys.version,
        "releaselevel": sys.version_info[3],
        "serial": sys.version_info[4],
        "cache_tag": getattr(getattr(sys, "implementation", None), "cache_tag", None),
        "marshal_version": marshal.version,
        "optimize": sys.flags.optimize,
        "pycache_prefix": hexpath(getattr(sys, "pycache_prefix", None)),
        "executable": hexpath(sys.executable),
        "prefix": hexpath(sys.prefix),
        "base_prefix": hexpath(getattr(sys, "base_prefix", sys.prefix)),
        "sys_path": [hexpath(p) for p in sys.path],
        "magic": None,
        "source_hash_of_empty": None,
        "extension_suffixes": [],
        "soabi": None,
        "ext_suffix": None,
    }
    try:
        import importlib.util
        import importlib.machinery

        info["magic"] = "".join("%02x" % c for c in bytearray(importlib.util.MAGIC_NUMBER))
        info["extension_suffixes"] = list(importlib.machinery.EXTENSION_SUFFIXES)
        source_hash = getattr(importlib.util, "source_hash", None)
        if source_hash is not None:
            info["source_hash_of_empty"] = "".join(
                "%02x" % c for c in bytearray(source_hash(b""))
            )
    except (ImportError, AttributeError):
        import imp

        info["magic"] = "".join("%02x" % c for c in bytearray(imp.get_magic()))
        info["extension_suffixes"] = [
            s for (s, _, kind) in imp.get_suffixes() if kind == imp.C_EXTENSION
        ]
    import sysconfig

    info["soabi"] = sysconfig.get_config_var("SOABI")
    info["ext_suffix"] = sysconfig.get_config_var("EXT_SUFFIX")
    out = json.dumps(info, sort_keys=True)
    sys.stdout.write(out + "\n")


if __name__ == "__main__":
    main()
