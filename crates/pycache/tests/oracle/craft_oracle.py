# Writes pycs whose code comes from one text and whose header is what the interpreter itself
# would write for the source file as it is now (importlib's own _code_to_*_pyc helpers).
import importlib.util
import json
import os
import sys
from importlib import _bootstrap_external as bootstrap


def main():
    request = json.load(sys.stdin)
    for job in request["jobs"]:
        source = job["source"]
        code = compile(job["code_text"], source, "exec", dont_inherit=True)
        with open(source, "rb") as f:
            source_bytes = f.read()
        st = os.stat(source)
        if job["mode"] == "timestamp":
            if hasattr(bootstrap, "_code_to_timestamp_pyc"):
                data = bootstrap._code_to_timestamp_pyc(code, st.st_mtime, st.st_size)
            else:  # 3.6
                data = bootstrap._code_to_bytecode(code, st.st_mtime, st.st_size)
        else:
            data = bootstrap._code_to_hash_pyc(
                code, importlib.util.source_hash(source_bytes), job["mode"] == "checked"
            )
        pyc = importlib.util.cache_from_source(source)
        os.makedirs(os.path.dirname(pyc), exist_ok=True)
        with open(pyc, "wb") as f:
            f.write(data)
    json.dump({"ok": True}, sys.stdout)


main()
