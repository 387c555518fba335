"""The S3 object store against a real SeaweedFS: the contract, buckets, errors, timeouts."""

from __future__ import annotations

import itertools
import logging
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from minio import Minio

from adapters.storage.s3 import S3ObjectStore
from core.errors import StoreUnavailable
from core.ports import ObjectStore
from tests.adapters.object_store_contract import ObjectStoreContract, VersionedListingContract
from tests.support.seaweedfs import SeaweedServer
from tests.support.vllm_server import HOST, free_port

_bucket_numbers = itertools.count()


def new_bucket() -> str:
    return f"test-{next(_bucket_numbers)}-{threading.get_ident() % 10000}"


def s3_store(server: SeaweedServer, bucket: str) -> S3ObjectStore:
    return S3ObjectStore(
        endpoint=server.endpoint,
        access_key=server.access_key,
        secret_key=server.secret_key,
        bucket=bucket,
        secure=False,
        region="us-east-1",
    )


def admin_client(server: SeaweedServer) -> Minio:
    return Minio(
        server.endpoint,
        access_key=server.access_key,
        secret_key=server.secret_key,
        secure=False,
        region="us-east-1",
    )


class TestS3ObjectStore(ObjectStoreContract, VersionedListingContract):
    @pytest.fixture
    def store(self, seaweedfs: SeaweedServer) -> ObjectStore:
        """Each test gets its own, not yet existing, bucket."""
        return s3_store(seaweedfs, new_bucket())


def test_bucket_is_created_on_first_use(seaweedfs: SeaweedServer) -> None:
    """Nothing is contacted at construction; the first call creates the missing bucket."""
    bucket = new_bucket()
    store = s3_store(seaweedfs, bucket)
    assert not admin_client(seaweedfs).bucket_exists(bucket)

    store.put("a/b.json", b"1")

    assert admin_client(seaweedfs).bucket_exists(bucket)
    assert s3_store(seaweedfs, bucket).get("a/b.json") == b"1"


def test_processes_racing_to_create_the_bucket_all_succeed(seaweedfs: SeaweedServer) -> None:
    """Eight stores creating one bucket at the same moment: no error, every write kept."""
    bucket = new_bucket()
    stores = [s3_store(seaweedfs, bucket) for _ in range(8)]
    start = threading.Barrier(len(stores))

    def write(n: int) -> None:
        start.wait()
        stores[n].put(f"k/{n}.json", b"x")

    with ThreadPoolExecutor(max_workers=len(stores)) as pool:
        list(pool.map(write, range(len(stores))))

    assert list(stores[0].list("k/")) == [f"k/{n}.json" for n in range(8)]


def test_a_bucket_deleted_behind_its_back_is_created_again(seaweedfs: SeaweedServer) -> None:
    """After the bucket disappears, the next write recreates it and succeeds."""
    bucket = new_bucket()
    store = s3_store(seaweedfs, bucket)
    store.put("k/1.json", b"1")
    admin = admin_client(seaweedfs)
    admin.remove_object(bucket, "k/1.json")
    admin.remove_bucket(bucket)

    store.put("k/2.json", b"2")

    assert list(store.list()) == ["k/2.json"]


def test_invalid_bucket_name_is_refused_at_construction(seaweedfs: SeaweedServer) -> None:
    """A bucket name S3 would reject fails fast, before any record could be spooled for it."""
    with pytest.raises(ValueError, match="bucket"):
        s3_store(seaweedfs, "Not_A_Bucket")


def test_unreachable_endpoint_is_store_unavailable() -> None:
    """With nothing listening, every operation raises StoreUnavailable naming the endpoint."""
    port = free_port()
    store = S3ObjectStore(
        endpoint=f"{HOST}:{port}",
        access_key="leximind-test",
        secret_key="leximind-test-secret-4f9a",
        bucket="leximind",
        secure=False,
        connect_timeout=1.0,
        retries=1,
    )
    calls = [
        lambda: store.put("a/b.json", b"1"),
        lambda: store.get("a/b.json"),
        lambda: store.exists("a/b.json"),
        lambda: store.delete("a/b.json"),
        lambda: list(store.list("a/")),
    ]
    for call in calls:
        with pytest.raises(StoreUnavailable, match=f"{HOST}:{port}"):
            call()


def test_wrong_secret_is_store_unavailable_and_never_logged(
    seaweedfs: SeaweedServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused signature is StoreUnavailable; the secret shows in no message or repr."""
    secret = "wrong-secret-8d1e77"
    store = S3ObjectStore(
        endpoint=seaweedfs.endpoint,
        access_key=seaweedfs.access_key,
        secret_key=secret,
        bucket=new_bucket(),
        secure=False,
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(StoreUnavailable) as raised:
        store.put("a/b.json", b"1")

    assert "SignatureDoesNotMatch" in str(raised.value) or "AccessDenied" in str(raised.value)
    assert secret not in str(raised.value) and secret not in repr(store)
    assert secret not in caplog.text


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((HOST, 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_a_server_that_never_answers_times_out(silent_server: int) -> None:
    """The read timeout bounds a hung server: StoreUnavailable instead of waiting forever."""
    store = S3ObjectStore(
        endpoint=f"{HOST}:{silent_server}",
        access_key="leximind-test",
        secret_key="leximind-test-secret-4f9a",
        bucket="leximind",
        secure=False,
        read_timeout=0.3,
        retries=1,
    )
    with pytest.raises(StoreUnavailable, match=r"ReadTimeout|timed out|MaxRetryError"):
        store.put("a/b.json", b"1")
