"""cashback_kit.ids: uuid4-shaped ids from a buffer of kernel randomness."""

from __future__ import annotations

import os
import uuid

from cashback_kit.ids import random_hex


def test_ids_are_version_4_uuids_and_do_not_repeat() -> None:
    ids = [random_hex() for _ in range(3000)]  # across several refills of the buffer
    assert len(set(ids)) == len(ids)
    for value in ids:
        parsed = uuid.UUID(hex=value)
        assert parsed.hex == value and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_a_forked_child_does_not_hand_out_its_parents_next_ids() -> None:
    random_hex()  # the parent's buffer is filled
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, to the parent
        os.close(read)
        os.write(write, random_hex().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 32 and child != random_hex()
