"""The S3 object store (MinIO, SeaweedFS, AWS S3) on the `minio` client."""

from __future__ import annotations

import io
import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

import certifi
import urllib3
from minio import Minio
from minio.error import MinioException, S3Error
from minio.helpers import check_bucket_name

from core.errors import StoreUnavailable
from core.object_keys import validate_key

_log = logging.getLogger(__name__)

T = TypeVar("T")

_MISSING_OBJECT = frozenset({"NoSuchKey", "NoSuchObject", "ResourceNotFound"})
_BUCKET_IS_THERE = frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"})


def http_pool(
    *, connect_timeout: float, read_timeout: float, retries: int, secure: bool
) -> urllib3.PoolManager:
    """A connection pool with bounded timeouts and a bounded, backed-off retry.

    The minio client's own default waits five minutes and retries five times: far too long
    for a caller that would rather spool the record and answer the user.
    """
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
        maxsize=10,
        cert_reqs="CERT_REQUIRED" if secure else "CERT_NONE",
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        retries=urllib3.Retry(
            total=retries,
            backoff_factor=0.1,
            backoff_max=2.0,
            status_forcelist=[500, 502, 503, 504],
            raise_on_status=True,
        ),
    )


class S3ObjectStore:
    """Implements core.ports.ObjectStore on one S3 bucket.

    The bucket is created on first use if it is missing; creating it is idempotent and safe
    when several processes race to do it. Nothing is contacted at construction, so a process
    starts while the store is down. Every vendor error leaves as StoreUnavailable (KeyError for
    a missing object); an invalid key or bucket name is ValueError.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool = True,
        region: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        retries: int = 2,
    ) -> None:
        check_bucket_name(bucket, strict=True)
        self._bucket = bucket
        self._endpoint = endpoint
        self._pool = http_pool(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries=retries,
            secure=secure,
        )
        self._client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=self._pool,
        )
        self._bucket_ready = False
        self._bucket_lock = threading.Lock()

    @property
    def bucket(self) -> str:
        return self._bucket

    def __repr__(self) -> str:
        return f"S3ObjectStore(endpoint={self._endpoint!r}, bucket={self._bucket!r})"

    def close(self) -> None:
        """Closes the pooled connections (a later call would open new ones)."""
        self._pool.clear()

    def put(self, key: str, data: bytes, *, content_type: str = "application/json") -> None:
        validate_key(key)
        self._call(
            f"write {key}",
            lambda: self._client.put_object(
                self._bucket, key, io.BytesIO(data), len(data), content_type=content_type
            ),
        )

    def get(self, key: str) -> bytes:
        validate_key(key)

        def read() -> bytes:
            response = self._client.get_object(self._bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        return self._call(f"read {key}", read, missing=key)

    def exists(self, key: str) -> bool:
        validate_key(key)
        try:
            self._call(
                f"look up {key}", lambda: self._client.stat_object(self._bucket, key), missing=key
            )
        except KeyError:
            return False
        return True

    def delete(self, key: str) -> None:
        validate_key(key)
        self._call(f"delete {key}", lambda: self._client.remove_object(self._bucket, key))

    def list(self, prefix: str = "") -> Iterator[str]:
        for key, _ in self.list_versions(prefix):
            yield key

    def list_versions(self, prefix: str = "") -> Iterator[tuple[str, str]]:
        """Keys with their ETag (content hash for a single-part upload), from one listing."""
        objects = self._call(
            f"list {prefix!r}",
            lambda: iter(self._client.list_objects(self._bucket, prefix=prefix, recursive=True)),
        )
        while True:
            found = self._call(f"list {prefix!r}", lambda: next(objects, None))
            if found is None:
                return
            if found.object_name is not None and not found.is_dir:
                yield found.object_name, (found.etag or "").strip('"')

    def ensure_bucket(self) -> None:
        """Creates the bucket unless it exists; raises StoreUnavailable if the store cannot."""
        if self._bucket_ready:
            return
        with self._bucket_lock:
            if self._bucket_ready:
                return
            try:
                if not self._client.bucket_exists(self._bucket):
                    self._client.make_bucket(self._bucket)
                    _log.info("created bucket %s on %s", self._bucket, self._endpoint)
            except S3Error as exc:
                # Another process created it between our check and our request.
                if exc.code not in _BUCKET_IS_THERE:
                    raise self._unavailable("create the bucket", exc) from exc
            except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
                raise self._unavailable("create the bucket", exc) from exc
            self._bucket_ready = True

    def _call(self, action: str, operation: Callable[[], T], *, missing: str | None = None) -> T:
        """Runs one client operation with the bucket ensured and the errors translated.

        `missing`: the key to name in a KeyError when the object does not exist. A bucket
        deleted behind our back is created again and the operation tried once more.
        """
        retried = False
        while True:
            self.ensure_bucket()
            try:
                return operation()
            except S3Error as exc:
                if missing is not None and exc.code in _MISSING_OBJECT:
                    raise KeyError(missing) from None
                if exc.code == "NoSuchBucket":
                    self._bucket_ready = False
                    if not retried:
                        retried = True
                        _log.warning("bucket %s disappeared; creating it again", self._bucket)
                        continue
                raise self._unavailable(action, exc) from exc
            except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
                raise self._unavailable(action, exc) from exc

    def _unavailable(self, action: str, exc: Exception) -> StoreUnavailable:
        detail = exc.code if isinstance(exc, S3Error) else type(exc).__name__
        return StoreUnavailable(
            f"object store {self._endpoint} bucket {self._bucket}: cannot {action}: {detail}: {exc}"
        )
