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


def list_pids(body):
    return sorted(os.listdir("/proc"))


def renice(body):
    os.setpriority(os.PRIO_PROCESS, body["pid"], 19)
    return "reniced"


def pin_cpu(body):
    os.sched_setaffinity(body["pid"], {0})
    return "pinned"


def pidfd(body):
    return os.pidfd_open(body["pid"])


def chmod_host_file(body):
    os.chmod(body["path"], 0o777)
    return "changed"


def touch_host_file(body):
    os.utime(body["path"], (0, 0))
    return "touched"


def read_xattr(body):
    return os.listxattr(body["path"])


def stat_host_file(body):
    return os.stat(body["path"]).st_size


def watch_dir(body):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(0)
    if fd < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return fd


def leave_thread(body):
    import threading

    def forever():
        while True:
            threading.Event().wait(0.05)

    threading.Thread(target=forever, daemon=True).start()
    return "left running"


def threads_now(body):
    import threading

    return threading.active_count()


def memfd_hoard(body):
    fd = os.memfd_create("hoard")
    chunk = b"x" * 2**20
    for _ in range(body["mb"]):
        os.write(fd, chunk)
    return "hoarded"


def fill_scratch(body):
    chunk = b"x" * 2**20
    for n in range(body["mb"] // 16):
        with open(os.path.join(os.environ["TMPDIR"], f"fill{n}"), "wb") as out:
            for _ in range(16):
                out.write(chunk)
    return "filled"


def many_threads(body):
    import threading

    threading.stack_size(64 * 1024)  # small stacks: the memory limit is not what stops it
    stop = threading.Event()
    started = []
    try:
        for _ in range(body["count"]):
            thread = threading.Thread(target=stop.wait, daemon=True)
            thread.start()
            started.append(thread)
    finally:
        stop.set()
        for thread in started:
            thread.join()
    return len(started)


def deny_flood(body):
    from sdk import secrets

    for _ in range(body["times"]):
        try:
            secrets.get("not_declared")
        except Exception:
            pass
    return "flooded"


def long_fields(body):
    from sdk import Log
    from sdk.context import current

    current().annotate(entity="e" * body["size"], event="v" * body["size"])
    Log.info("m" * body["size"])
    return "long"


def ingest_flood(body):
    from sdk import ingest

    for n in range(body["records"]):
        ingest.canonical("ticket", {"n": n}, idempotency_key=f"flood:{n}")
    return "ingested"


def deep_tree_exit(body):
    path = os.environ["TMPDIR"]
    fd = os.open(path, os.O_RDONLY)
    for _ in range(body["depth"]):
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os._exit(0)


def sealed_values(body):
    import gc

    found = 0
    for thing in gc.get_objects():
        for name in ("rotating_secrets", "secrets"):
            if type(thing).__name__ == "InstallationSnapshot":
                found += len(getattr(thing, name, None) or {})
    return found


async def http_get(body):
    from sdk import http

    return (await http.get(body["url"])).status_code


async def http_as_host(body):
    """Ask a declared host's server for another of its sites (domain fronting)."""
    from sdk import http

    return (await http.get(body["url"], headers={"Host": body["host"]})).json()


async def http_size(body):
    from sdk import http

    return len((await http.get(body["url"])).content)


ATTACKS = {
    f.__name__: f
    for f in list(globals().values())
    if callable(f) and getattr(f, "__module__", "") == __name__
}
