"""Ways around the SDK a hostile extension might try; every one must fail in the sandbox."""

import ctypes
import os
import socket
import subprocess
import urllib.request

STASH = {}


def connect_tcp(body):
    with socket.create_connection((body["host"], body["port"]), timeout=2) as conn:
        conn.sendall(b"PING\r\n")
        return conn.recv(100).decode()


def unix_socket(body):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(body["path"])
        return "connected"


def raw_socket_syscall(body):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.syscall(41, 2, 1, 0)  # socket(AF_INET, SOCK_STREAM, 0) on x86_64
    if fd < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return fd


def urllib_get(body):
    with urllib.request.urlopen(body["url"], timeout=2) as response:
        return response.read().decode()


def environment(body):
    return os.environ[body["name"]]


def parent_environment(body):
    with open(f"/proc/{os.getppid()}/environ", "rb") as environ:
        return environ.read().decode(errors="replace")


def read_file(body):
    with open(body["path"]) as stolen:
        return stolen.read()


def import_module(body):
    module = __import__(body["module"], fromlist=["_"])
    return repr(module)


def spin(body):
    while True:
        pass


def allocate(body):
    hoard = bytearray(body["bytes"])
    return len(hoard)


def fork(body):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    return pid


def spawn(body):
    return subprocess.run(["/bin/echo", "escaped"], capture_output=True).stdout.decode()


def write_file(body):
    with open(body["path"], "w") as target:
        target.write("written")
    return body["path"]


def write_scratch(body):
    path = os.path.join(os.environ["TMPDIR"], "note.txt")
    with open(path, "w") as note:
        note.write(body["text"])
    with open(path) as note:
        return note.read()


def kill_parent(body):
    os.kill(os.getppid(), 9)
    return "killed"


def stash(body):
    STASH["value"] = body["value"]
    return "stashed"


def peek(body):
    return STASH.get("value")


def flood_logs(body):
    from sdk import Log

    for i in range(body["lines"]):
        Log.info("x" * body["size"], n=i)
    return "flooded"


def huge_response(body):
    return "x" * body["bytes"]


def crash(body):
    os._exit(3)


def ok(body):
    return "fine"


ATTACKS = {
    f.__name__: f
    for f in list(globals().values())
    if callable(f) and getattr(f, "__module__", "") == __name__
}
