# Describes every pyc under a directory, for comparing what two compilers wrote: its relative
# path, header, the co_filename of every code object inside, and which pycs are hard links of
# one another. JSON out.
import json
import marshal
import os
import sys
import types

HEADER = 16 if sys.version_info >= (3, 7) else 12


def filenames(code, out):
    out.append(code.co_filename)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            filenames(const, out)
    return out


def main():
    root = sys.argv[1]
    entries = {}
    inodes = {}
    for dirpath, dirnames, files in os.walk(root):
        dirnames.sort()
        for name in sorted(files):
            if not name.endswith(".pyc"):
                continue
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                data = f.read()
            st = os.stat(path)
            group = inodes.setdefault(st.st_ino, len(inodes))
            entries[os.path.relpath(path, root)] = {
                "header": data[:HEADER].hex(),
                "filenames": filenames(marshal.loads(data[HEADER:]), []),
                "link_group": group if st.st_nlink > 1 else None,
                "mode": oct(st.st_mode & 0o777),
            }
    json.dump(entries, sys.stdout, sort_keys=True)


main()
