"""The staged overlay: point reads see staged writes, commit is atomic, rollback undoes."""

from ssdbpy.storage.engine import Engine


def test_staged_reads_commit_and_rollback(tmp_path):
    e = Engine(str(tmp_path / "db"))
    e.put(b"a", b"1")
    assert e.get(b"a") == b"1"
    sp = e.savepoint()
    e.put(b"a", b"2")
    e.delete(b"b")
    e.put(b"c", b"3")
    e.rollback(sp)
    assert e.get(b"a") == b"1" and e.get(b"c") is None
    commits = []
    e.on_commit.append(lambda: commits.append(1))
    e.commit()
    assert commits == [1]
    e.close()
    e2 = Engine(str(tmp_path / "db"))
    assert e2.get(b"a") == b"1"
    e2.close()


def test_iteration_sees_staged_writes(tmp_path):
    e = Engine(str(tmp_path / "db"))
    e.put(b"k1", b"v")
    e.put(b"k2", b"v")
    e.delete(b"k1")
    assert [k for k, _ in e.iterate(b"k", b"l")] == [b"k2"]
    assert not e.dirty
    assert e.first_key(b"k", b"l") == b"k2" and e.last_key(b"a", b"z") == b"k2"
    e.close()


def test_rollback_of_delete_restores_staged_value(tmp_path):
    e = Engine(str(tmp_path / "db"))
    e.put(b"x", b"1")
    sp = e.savepoint()
    e.delete(b"x")
    assert e.get(b"x") is None
    e.rollback(sp)
    assert e.get(b"x") == b"1"
    e.close()


def test_rollback_after_a_mid_command_commit_undoes_later_writes(tmp_path):
    e = Engine(str(tmp_path / "db"))
    sp = e.savepoint()
    e.put(b"a", b"1")
    list(e.iterate())  # commits "a"
    e.put(b"b", b"2")
    e.rollback(sp)
    assert e.get(b"a") == b"1" and e.get(b"b") is None
    e.close()


def test_reverse_iteration_bounds(tmp_path):
    e = Engine(str(tmp_path / "db"))
    for k in (b"a", b"b", b"c", b"e"):
        e.put(k, b"v" + k)
    e.commit()

    def rev(start, stop, inc_start=True, inc_stop=False):
        return list(e.iterate(start, stop, include_start=inc_start, include_stop=inc_stop, reverse=True, keys_only=True))

    assert rev(b"c", b"e") == [b"c"]  # a lone key equal to the inclusive start
    assert rev(b"c", b"e", inc_stop=True) == [b"e", b"c"]
    assert rev(b"a", b"c", inc_start=False) == [b"b"]
    assert rev(None, None) == [b"e", b"c", b"b", b"a"]
    assert rev(b"b", b"z") == [b"e", b"c", b"b"]
    assert rev(None, b"0") == []
    assert list(e.iterate(b"b", b"c", include_stop=True, reverse=True)) == [(b"c", b"vc"), (b"b", b"vb")]
    e.close()
