"""Where a job's result files live, and the URLs that serve them: one place for result paths.

Two backends with one interface, chosen by ``PART3D_RESULTS_URL`` (``backend()``):

* ``FolderResults`` (the embedded default): ``PART3D_HOME/results/<job id>/``, served by the
  front door's signed, expiring ``/files`` URLs;
* ``S3Results`` (``s3://bucket/prefix``; endpoint, region and credentials from the usual AWS
  variables, e.g. ``AWS_ENDPOINT_URL`` for MinIO or Tencent COS): a worker writes the job's
  files in a local work folder and ``publish`` uploads them under ``prefix/<job id>/`` (only
  then is DONE recorded); clients get presigned GET URLs.

A worker writes into ``work_folder(job_id)``; ``publish`` makes the files it names (and every
file beside them: an OBJ's MTL and textures) available; ``url``, ``read_text``, ``remove`` and
``reachable`` serve the front door and the cleaner.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import shutil
import time
from collections import OrderedDict
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from part3d.errors import Part3DError
from part3d.service.config import config, store


def valid_job_id(job_id: str) -> bool:
    """Job ids are 19 digits (API.md §4): anything else never names a results folder."""
    return job_id.isascii() and job_id.isdigit() and len(job_id) == 19


def _checked(job_id: str) -> str:
    if not valid_job_id(job_id):
        raise Part3DError(f"{job_id!r} is not a job id")
    return job_id


_OBJ_TEXTURE = re.compile(r"^(.*_parts)_[^/]+\.(png|jpe?g)$", re.IGNORECASE)


def _bundle(name: str) -> str:
    """An OBJ, its MTL and its textures (``<stem>_parts_<texture>``) share one signature, so
    that a client finds them beside the OBJ with the OBJ's query string."""
    if name.endswith((".obj", ".mtl")):
        return name[:-4]
    match = _OBJ_TEXTURE.match(name)
    return match.group(1) if match else name


class FolderResults:
    """Result files in ``root/<job id>/``, served by signed ``/files`` URLs of ``public_url``
    (HMAC with ``url_key``)."""

    def __init__(self, root: Path, public_url: str, url_key: bytes) -> None:
        self.root, self.public_url, self.url_key = root, public_url.rstrip("/"), url_key

    def work_folder(self, job_id: str) -> Path:
        return self.root / _checked(job_id)

    def publish(self, job_id: str, names: list[str]) -> None:
        """The files are where clients are served from already."""

    def read_text(self, job_id: str, name: str) -> str:
        path = self.work_folder(job_id) / name
        return path.read_text(encoding="utf-8") if path.is_file() else ""

    def _signature(self, job_id: str, name: str, expires: int) -> str:
        msg = f"{job_id}/{_bundle(name)}/{expires}".encode()
        return hmac.new(self.url_key, msg, hashlib.sha256).hexdigest()

    def url(self, job_id: str, name: str, expires: int) -> str:
        sig = self._signature(job_id, name, expires)
        return f"{self.public_url}/files/{job_id}/{name}?expires={expires}&signature={sig}"

    def served_path(
        self, job_id: str, name: str, expires: int, signature: str, now: float
    ) -> Path | None:
        """The file a ``/files`` URL names, or None when the URL is expired, tampered with,
        or names nothing inside the job's folder."""
        if not valid_job_id(job_id):
            return None
        if expires < now or not hmac.compare_digest(
            self._signature(job_id, name, expires), signature
        ):
            return None
        base = self.work_folder(job_id).resolve()
        path = (base / name).resolve()
        if base not in path.parents or not path.is_file():
            return None
        return path

    def remove(self, job_id: str) -> None:
        if valid_job_id(job_id):
            shutil.rmtree(self.work_folder(job_id), ignore_errors=True)

    def reachable(self) -> bool:
        return self.root.is_dir()


class S3Results:
    """Result files in an S3-compatible bucket, under ``prefix/<job id>/``; ``work`` is the
    local folder jobs are written in before they are uploaded."""

    def __init__(self, url: str, work: Path) -> None:
        import boto3
        from botocore.config import Config as BotoConfig

        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise Part3DError(f"PART3D_RESULTS_URL {url!r}: use s3://bucket/prefix")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self.work = work
        self._texts: OrderedDict[str, str] = OrderedDict()
        self.client = boto3.client(
            "s3",
            config=BotoConfig(
                retries={"max_attempts": 5, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
            ),
        )

    def _key(self, job_id: str, name: str = "") -> str:
        key = f"{_checked(job_id)}/{name}"
        return f"{self.prefix}/{key}" if self.prefix else key

    def work_folder(self, job_id: str) -> Path:
        return self.work / _checked(job_id)

    def publish(self, job_id: str, names: list[str]) -> None:
        work = self.work_folder(job_id)
        try:
            folders = {(work / n).parent for n in names}
            for path in sorted(p for d in folders for p in d.iterdir() if p.is_file()):
                name = path.relative_to(work).as_posix()
                self.client.upload_file(str(path), self.bucket, self._key(job_id, name))
        finally:
            shutil.rmtree(work, ignore_errors=True)

    #: Texts kept in memory (results never change once published): how many, how large.
    CACHE_ENTRIES, CACHE_TEXT = 128, 1 << 20

    def read_text(self, job_id: str, name: str) -> str:
        key = self._key(job_id, name)
        if key in self._texts:
            self._texts.move_to_end(key)
            return self._texts[key]
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.NoSuchKey:
            return ""
        text = reply["Body"].read().decode("utf-8")
        if len(text) <= self.CACHE_TEXT:
            self._texts[key] = text
            while len(self._texts) > self.CACHE_ENTRIES:
                self._texts.popitem(last=False)
        return text

    def url(self, job_id: str, name: str, expires: int) -> str:
        return self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._key(job_id, name)},
            ExpiresIn=max(1, min(int(expires - time.time()), 7 * 24 * 3600)),
        )

    def served_path(self, *args) -> Path | None:
        return None  # clients fetch from the bucket, never through /files

    def remove(self, job_id: str) -> None:
        if not valid_job_id(job_id):
            return
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(job_id)
        )
        for page in pages:
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})
        for key in [k for k in self._texts if k.startswith(self._key(job_id))]:
            del self._texts[key]
        shutil.rmtree(self.work_folder(job_id), ignore_errors=True)

    def reachable(self) -> bool:
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return True
        except Exception:  # noqa: BLE001 - any failure means unreachable
            return False


@cache
def backend() -> FolderResults | S3Results:
    cfg = config()
    if cfg.results_url:
        return S3Results(cfg.results_url, cfg.home / "work")
    return FolderResults(cfg.results, cfg.public_url, store().url_key)


# The service's calls, on the configured backend.


def folder(job_id: str) -> Path:
    """The folder a worker writes a job's files in."""
    return backend().work_folder(job_id)


def publish(job_id: str, names: list[str]) -> None:
    backend().publish(job_id, names)


def read_text(job_id: str, name: str) -> str:
    return backend().read_text(job_id, name)


def url(job_id: str, name: str, expires: int) -> str:
    """An absolute URL of a result file that needs no credentials and expires at ``expires``."""
    return backend().url(job_id, name, expires)


def served_path(job_id: str, name: str, expires: int, signature: str, now: float) -> Path | None:
    return backend().served_path(job_id, name, expires, signature, now)


def remove(job_id: str) -> None:
    backend().remove(job_id)


def reachable() -> bool:
    return backend().reachable()
