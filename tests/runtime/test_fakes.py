"""The fakes: what jobs read from a device, a session that records and answers nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, delete, insert, select, text, update
from sqlalchemy.exc import NoResultFound, OperationalError, SQLAlchemyError

from netraven_contracts.runtime import (
    FAKE_DEVICE_ID,
    FAKE_JOB_ID,
    FakeCall,
    FakeDevice,
    FakeSession,
    WriteBlockedError,
    default_config,
)
from netraven_contracts.runtime.fakes import OPTIONAL_DEVICE_ATTRIBUTES, is_write_statement

TABLE = Table("t", MetaData(), Column("id", Integer, primary_key=True))


def test_job_id_differs_from_the_device_id_and_neither_looks_like_a_bool() -> None:
    assert FAKE_JOB_ID != FAKE_DEVICE_ID
    assert {FAKE_JOB_ID, FAKE_DEVICE_ID}.isdisjoint({0, 1})


def test_fake_device_has_every_attribute_jobs_read() -> None:
    device = FakeDevice()
    assert type(device.id) is int and device.id == FAKE_DEVICE_ID
    for name in ("hostname", "ip_address", "device_type", "username", "password", "serial_number", "model"):
        value = getattr(device, name)
        assert isinstance(value, str) and value, name
    assert device.port == 22
    assert device.ip_address.startswith("192.0.2.")  # TEST-NET-1: never routed
    assert device.hostname.endswith(".invalid")       # never resolves


def test_minimal_device_lacks_the_optional_attributes() -> None:
    device = FakeDevice.minimal()
    for name in OPTIONAL_DEVICE_ATTRIBUTES:
        with pytest.raises(AttributeError):
            getattr(device, name)
    assert getattr(device, "model", None) is None
    assert device.id == FAKE_DEVICE_ID


def test_device_attributes_can_be_overridden_added_and_removed() -> None:
    device = FakeDevice(id=5, vendor="cisco", port=FakeDevice.ABSENT)
    assert (device.id, device.vendor) == (5, "cisco")
    assert not hasattr(device, "port")
    assert "vendor='cisco'" in repr(device)


def test_default_config_is_shaped_like_netravens_and_fresh_each_time() -> None:
    config = default_config()
    assert set(config) == {"worker", "ssh", "redaction"}
    assert isinstance(config["redaction"]["patterns"], list)
    assert isinstance(config["ssh"]["timeout"], int)
    config["worker"]["thread_pool_size"] = 99
    assert default_config()["worker"]["thread_pool_size"] == 5


def test_queries_answer_empty_through_the_usual_chains() -> None:
    db = FakeSession()
    query = db.query("Device").filter_by(id=1).filter(True).order_by("id")
    assert (query.first(), query.one_or_none(), query.all(), query.count(), query.scalar()) == (None, None, [], 0, None)
    with pytest.raises(NoResultFound):
        query.one()
    assert db.execute(select(TABLE)).scalars().all() == []
    assert db.execute(text("SELECT 1")).first() is None
    assert db.scalar(select(TABLE)) is None
    assert db.get("Device", 1) is None
    assert [call.name for call in db.calls] == ["query", "execute", "execute", "scalar", "get"]


def test_writes_are_recorded() -> None:
    db = FakeSession()
    db.add("row")
    db.add_all(["a", "b"])
    db.commit()
    db.rollback()
    assert db.added == ["row", "a", "b"]
    assert db.committed
    assert [call.name for call in db.writes] == ["add", "add_all", "commit"]
    assert db.calls[0] == FakeCall("add", ("row",), {}, write=True)


@pytest.mark.parametrize("call", [
    lambda db: db.add(1), lambda db: db.commit(), lambda db: db.flush(), lambda db: db.delete(1),
    lambda db: db.merge(1), lambda db: db.execute(insert(TABLE)), lambda db: db.query("X").update({"a": 1}),
    lambda db: db.execute(text("UPDATE t SET id = 1")),
])
def test_blocked_writes_raise_an_oserror(call) -> None:
    db = FakeSession(block_writes=True)
    with pytest.raises(OSError, match="blocked"):
        call(db)
    assert db.calls[-1].blocked and db.calls[-1].write
    assert isinstance(WriteBlockedError("x"), PermissionError)


def test_reads_are_not_blocked() -> None:
    db = FakeSession(block_writes=True)
    db.query("X").all()
    db.execute(select(TABLE))
    db.rollback()
    assert not db.writes


def test_failing_session_raises_operational_error_except_on_rollback_and_close() -> None:
    db = FakeSession(fail=True)
    for call in (lambda: db.query("X"), lambda: db.add(1), lambda: db.commit(), lambda: db.execute(select(TABLE))):
        with pytest.raises(OperationalError) as caught:
            call()
        assert isinstance(caught.value, SQLAlchemyError)
    db.rollback()
    db.close()


@pytest.mark.parametrize(("statement", "write"), [
    (select(TABLE), False), (insert(TABLE), True), (update(TABLE), True), (delete(TABLE), True),
    ("SELECT * FROM t", False), ("  -- comment\n select 1", False), ("/* c */ SHOW x", False),
    ("WITH x AS (SELECT 1) SELECT * FROM x", False), ("WITH x AS (DELETE FROM t RETURNING *) SELECT 1", True),
    ("INSERT INTO t VALUES (1)", True), ("truncate t", True), (text("select 1"), False),
    (text("DROP TABLE t"), True), (object(), True),
])
def test_write_statements_are_told_from_reads(statement: object, write: bool) -> None:
    assert is_write_statement(statement) is write
