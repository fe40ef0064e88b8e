"""Where a job's result files live, and the URLs that serve them: one place for result paths.

The embedded backend is a folder under ``PART3D_HOME/results/<job id>/`` served by the front
door's signed, expiring ``/files`` URLs. (A distributed backend, S3-compatible storage with
presigned URLs, is planned to implement the same functions.)
"""

from __future__ import annotations

import hashlib
import hmac
import re
import shutil
from pathlib import Path

from part3d.errors import Part3DError
from part3d.service.config import config, store


def valid_job_id(job_id: str) -> bool:
    """Job ids are 19 digits (API.md §4): anything else never names a results folder."""
    return job_id.isascii() and job_id.isdigit() and len(job_id) == 19


def folder(job_id: str) -> Path:
    """The folder of a job's files (created by the worker that runs it)."""
    if not valid_job_id(job_id):
        raise Part3DError(f"{job_id!r} is not a job id")
    return config().results / job_id


def read_text(job_id: str, name: str) -> str:
    path = folder(job_id) / name
    return path.read_text(encoding="utf-8") if path.exists() else ""


def remove(job_id: str) -> None:
    if valid_job_id(job_id):
        shutil.rmtree(folder(job_id), ignore_errors=True)


_OBJ_TEXTURE = re.compile(r"^(.*_parts)_[^/]+\.(png|jpe?g)$", re.IGNORECASE)


def _bundle(name: str) -> str:
    """An OBJ, its MTL and its textures (``<stem>_parts_<texture>``) share one signature, so
    that a client finds them beside the OBJ with the OBJ's query string."""
    if name.endswith((".obj", ".mtl")):
        return name[:-4]
    match = _OBJ_TEXTURE.match(name)
    return match.group(1) if match else name


def _signature(job_id: str, name: str, expires: int) -> str:
    msg = f"{job_id}/{_bundle(name)}/{expires}".encode()
    return hmac.new(store().url_key, msg, hashlib.sha256).hexdigest()


def url(job_id: str, name: str, expires: int) -> str:
    """An absolute URL of a result file that needs no credentials and expires at ``expires``."""
    sig = _signature(job_id, name, expires)
    return f"{config().public_url}/files/{job_id}/{name}?expires={expires}&signature={sig}"


def served_path(job_id: str, name: str, expires: int, signature: str, now: float) -> Path | None:
    """The file a ``/files`` URL names, or None when the URL is expired, tampered with, or
    names nothing inside the job's folder."""
    if not valid_job_id(job_id):
        return None
    if expires < now or not hmac.compare_digest(_signature(job_id, name, expires), signature):
        return None
    base = folder(job_id).resolve()
    path = (base / name).resolve()
    if base not in path.parents or not path.is_file():
        return None
    return path
