# pycache's compile worker: one long-lived interpreter that compiles sources it is sent.
#
# Protocol (every message is a frame: a little-endian u32 length, then that many bytes). Requests
# come on stdin; replies go to the descriptor named by the first argument (a pipe of its own:
# whatever the interpreter prints to stdout cannot be taken for a frame):
#   worker -> pycache, once: {"magic": hex, "version": "3.12.1", "pid": N} (JSON)
#   pycache -> worker: u8 level count, that many i8 optimization levels, u32 name length, the
#                      name compiled into the code (file-system bytes), then the source bytes
#   worker -> pycache: b"\0", u8 count, per level (u32 length + marshal.dumps(code)), then the
#                      warnings text (UTF-8); or b"\1", u32 length + the error text as
#                      py_compile/compileall print it, then the warnings text
# With PYCACHE_WORKER_FORK=1 (pycache compile --reproducible on PyPy) each request is compiled in
# a child forked from this pristine process, so no file's bytes depend on the files compiled
# before it (PyPy marks strings interned, `Z` rather than `z`, by what the process interned).
#
# The warnings text is what the compile printed: warnings, then anything written to the
# descriptors 1 and 2 meanwhile (captured in an unnamed temporary file), so pycache reports it
# with its file instead of interleaving it with its own output.
# Valid on CPython 3.6+ and PyPy 3. It compiles exactly as py_compile does:
# compile(source_bytes, dfile, 'exec', dont_inherit=True, optimize=level), and formats errors with
# py_compile.PyCompileError. It never writes files: pycache does.
#
# The imports are those of `python -m compileall` and no others (no json here): marshal writes a
# string as interned when it is interned in the writing process, and loading a module's pyc
# interns the strings it marks so. Importing anything else would change which strings are
# interned, and with it the bytes of some pycs (seen with '{' in a frozenset on 3.11).
import compileall  # noqa: F401  (the module set of `python -m compileall`)
import importlib.util
import marshal
import os
import py_compile
import runpy  # noqa: F401
import struct
import sys
import warnings


def read_exactly(stream, n):
    chunks = []
    while n:
        chunk = stream.read(n)
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(stream):
    head = read_exactly(stream, 4)
    if head is None:
        return None
    (length,) = struct.unpack("<I", head)
    return read_exactly(stream, length) if length else b""


def write_frame(stream, *parts):
    stream.write(struct.pack("<I", sum(len(p) for p in parts)))
    for part in parts:
        stream.write(part)
    stream.flush()


def open_capture():
    try:
        return os.open(os.environ.get("TMPDIR") or "/tmp", os.O_TMPFILE | os.O_RDWR, 0o600)
    except (AttributeError, OSError):
        return None


# Puts stdout and stderr back and returns what was written to them since capturing().
def captured_output(capture, saved):
    sys.stderr.flush()
    os.dup2(saved, 1)
    os.dup2(saved, 2)
    chunks = []
    os.lseek(capture, 0, 0)
    while True:
        chunk = os.read(capture, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def capturing(capture):
    sys.stderr.flush()
    os.ftruncate(capture, 0)
    os.lseek(capture, 0, 0)
    os.dup2(capture, 1)
    os.dup2(capture, 2)


def main():
    inp = sys.stdin.buffer
    out = os.fdopen(int(sys.argv[1]), "wb")
    # Anything printed while compiling goes to stderr (and is captured per file).
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    capture = open_capture()
    saved = os.dup(2)

    captured = []

    def showwarning(message, category, filename, lineno, file=None, line=None):
        captured.append(warnings.formatwarning(message, category, filename, lineno, line))

    warnings.showwarning = showwarning
    hello = '{"magic": "%s", "version": "%d.%d.%d", "pid": %d}' % (
        "".join("%02x" % b for b in bytearray(importlib.util.MAGIC_NUMBER)),
        sys.version_info[0],
        sys.version_info[1],
        sys.version_info[2],
        os.getpid(),
    )
    write_frame(out, hello.encode("ascii"))
    fork_each = os.environ.get("PYCACHE_WORKER_FORK") == "1"
    while True:
        frame = read_frame(inp)
        if frame is None:
            return
        if fork_each:
            pid = os.fork()
            if pid:
                _, status = os.waitpid(pid, 0)
                if status:
                    os._exit(1)  # the reply may be cut short: pycache replaces this worker
                continue
        count = frame[0]
        levels = struct.unpack("<%db" % count, frame[1 : 1 + count])
        at = 1 + count
        (name_len,) = struct.unpack("<I", frame[at : at + 4])
        at += 4
        dfile = os.fsdecode(frame[at : at + name_len])
        source = frame[at + name_len :]
        del captured[:]
        dumped = []
        error = None
        if capture is not None:
            capturing(capture)
        for level in levels:
            try:
                code = compile(source, dfile, "exec", dont_inherit=True, optimize=level)
            except Exception as err:
                error = py_compile.PyCompileError(err.__class__, err, dfile).msg
                break
            dumped.append(marshal.dumps(code))
            del code
        printed = captured_output(capture, saved) if capture is not None else b""
        text = "".join(captured).encode("utf-8", "backslashreplace") + printed
        if error is None:
            parts = [b"\0", struct.pack("<B", len(dumped))]
            for data in dumped:
                parts.append(struct.pack("<I", len(data)))
                parts.append(data)
            parts.append(text)
            write_frame(out, *parts)
        else:
            message = error.encode("utf-8", "backslashreplace")
            write_frame(out, b"\1", struct.pack("<I", len(message)), message, text)
        if fork_each:
            os._exit(0)


main()
