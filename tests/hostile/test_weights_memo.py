"""Issue 41, item 7: the memo that spares re-hashing weights at load cannot be fooled by a
same-size change whose mtime is put back: it is keyed by the kernel's ctime (and inode)
too, which no user process can set back."""

from __future__ import annotations

import hashlib
import json
import os
import time

from gtzan_core.models import weights as weights_mod
from gtzan_core.models.weights import weights_sha256


def test_a_same_size_change_with_its_mtime_put_back_is_hashed_again(tmp_path):
    path = tmp_path / "variables.data-00000-of-00001"
    path.write_bytes(os.urandom(1 << 20))
    first = weights_sha256(path)
    assert first == hashlib.sha256(path.read_bytes()).hexdigest()
    side = path.with_name(path.name + ".sha256.json")
    memo_before = side.read_text()  # what a later process would find beside the file
    st = path.stat()
    time.sleep(0.05)  # (past the kernel clock's grain of a few milliseconds)
    forged = bytearray(path.read_bytes())
    forged[1234] ^= 0xFF  # one byte changed: same size
    path.write_bytes(bytes(forged))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # the mtime put back
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    expected = hashlib.sha256(bytes(forged)).hexdigest()
    assert weights_sha256(path) == expected != first  # the process's memo is not fooled
    weights_mod._hash_memo.clear()  # a fresh process: only the .sha256.json beside the file
    side.write_text(memo_before)  # the memo of the first content, same size and mtime
    assert weights_sha256(path) == expected  # nor the file beside it
    # an unchanged file is not hashed again: the memo answers (its digest, even a wrong one, is trusted)
    side.write_text(json.dumps({**json.loads(side.read_text()), "sha256": "memo"}))
    weights_mod._hash_memo.clear()
    assert weights_sha256(path) == "memo"
