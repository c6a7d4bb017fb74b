# Differential oracle for headers and source hashes: compiles each source with py_compile in
# each invalidation mode to an explicit cfile, and hashes byte strings with
# importlib.util.source_hash. JSON in, JSON out; bytes as hex.
import binascii
import importlib.util
import json
import py_compile
import sys


def main():
    request = json.load(sys.stdin)
    hashes = []
    if hasattr(importlib.util, "source_hash"):
        for data in request["blobs"]:
            hashes.append(
                binascii.hexlify(importlib.util.source_hash(binascii.unhexlify(data))).decode()
            )
    written = []
    for job in request["compile"]:
        kwargs = {"doraise": True}
        if job["mode"] is not None:
            kwargs["invalidation_mode"] = getattr(py_compile.PycInvalidationMode, job["mode"])
        py_compile.compile(job["source"], cfile=job["cfile"], **kwargs)
        written.append(job["cfile"])
    json.dump({"hashes": hashes, "written": written}, sys.stdout)


main()
