"""Bundles: a directory packed into a deterministic archive, addressed by its SHA-256.

The same directory always yields the same bytes (sorted entries, zeroed times and owners, no
compression timestamp), so deploying the same code twice is the same version. The manifest
travels inside the archive as `manifest.json` (canonical JSON).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

from contracts.manifest import Manifest, ManifestError, manifest_to_json, parse_manifest

MANIFEST_FILE = "manifest.json"
MAX_BUNDLE_BYTES = 5 * 1024 * 1024
_SKIP_DIRS = {"__pycache__", ".git", ".venv", "node_modules", ".pytest_cache"}
_SKIP_SUFFIXES = {".pyc", ".pyo"}


class BundleError(ValueError):
    """A directory or archive that cannot be a bundle; the message names the file."""


def digest_of(archive: bytes) -> str:
    """Content address of a bundle: `sha256:<hex>`."""
    return "sha256:" + hashlib.sha256(archive).hexdigest()


def version_id_of(digest: str) -> str:
    """Short, stable version id derived from the digest (same bundle → same version)."""
    return "ver_" + digest.removeprefix("sha256:")[:16]


def bundle_key(digest: str) -> str:
    """Redis key where the registry stores a bundle's bytes and the runtime reads them."""
    return f"bundle:{digest}"


def _files(root: Path) -> list[Path]:
    found = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part in _SKIP_DIRS or part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and path.suffix not in _SKIP_SUFFIXES:
            found.append(path)
    return found


def pack(directory: Path, manifest: Manifest | None = None) -> tuple[bytes, Manifest]:
    """Pack a directory (its `manifest.json`, or `manifest`) into a deterministic archive."""
    if manifest is None:
        manifest_path = directory / MANIFEST_FILE
        if not manifest_path.exists():
            raise BundleError(f"{directory} has no {MANIFEST_FILE}")
        manifest = parse_manifest(manifest_path.read_bytes())
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped:
        with tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
            _add(tar, MANIFEST_FILE, manifest_to_json(manifest))
            for path in _files(directory):
                name = path.relative_to(directory).as_posix()
                if name != MANIFEST_FILE:
                    _add(tar, name, path.read_bytes())
    archive = buffer.getvalue()
    if len(archive) > MAX_BUNDLE_BYTES:
        raise BundleError(f"bundle is {len(archive)} bytes; the limit is {MAX_BUNDLE_BYTES}")
    return archive, manifest


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def unpack(archive: bytes) -> dict[str, bytes]:
    """Every file of a bundle by relative path; refuses absolute paths, `..` and links."""
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            for member in tar.getmembers():
                name = member.name
                if not member.isfile() or name.startswith("/") or ".." in Path(name).parts:
                    raise BundleError(f"bundle entry {name!r} is not a plain relative file")
                extracted = tar.extractfile(member)
                files[name] = extracted.read() if extracted else b""
    except (tarfile.TarError, OSError, EOFError) as error:
        raise BundleError(f"not a bundle archive: {error}") from None
    return files


def manifest_of(archive: bytes) -> Manifest:
    """The manifest inside an archive; ManifestError names the offending field."""
    files = unpack(archive)
    if MANIFEST_FILE not in files:
        raise ManifestError(MANIFEST_FILE, "missing from bundle")
    return parse_manifest(files[MANIFEST_FILE])
