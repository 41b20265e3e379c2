"""The PII protector's fast paths give the same bytes as the plain constructions."""

from __future__ import annotations

import pickle
import random

from services.kit.pii import PiiProtector, sm3_hmac


def test_match_hash_is_the_sm3_hmac_of_the_id() -> None:
    """The keyed state copied per id yields exactly `sm3_hmac(match_key, id)`, for many ids and keys."""
    rng = random.Random(4)
    for secret in ("development-only-pii-key-never-use-in-production", "k", "x" * 200):
        pii = PiiProtector.from_secret(secret)
        for _ in range(5_000):
            citizen_id = "".join(rng.choice("0123456789X") for _ in range(rng.choice((0, 1, 17, 18, 18, 70))))
            assert pii.match_hash(citizen_id) == sm3_hmac(pii.match_key, citizen_id.encode("ascii"))
        # the keyed state is rebuilt after pickling (sharing's validation workers)
        copy = pickle.loads(pickle.dumps(pii))
        assert copy.match_hash("11010519491231002X") == pii.match_hash("11010519491231002X")


def test_encrypt_many_decrypts_to_the_ids_with_distinct_nonces() -> None:
    pii = PiiProtector.from_secret("test")
    ids = [f"22240119900101{i:04d}" for i in range(1_000)]
    sealed = pii.encrypt_many(ids)
    assert [pii.decrypt(blob) for blob in sealed] == ids
    assert len({blob[:12] for blob in sealed}) == len(ids)
    assert [len(blob) for blob in sealed] == [len(pii.encrypt(i)) for i in ids]
    assert pii.encrypt_many([]) == []
