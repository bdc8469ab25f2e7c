"""On the sample run (the real pipeline, session fixture): one digest per recipient, reported per recipient."""

from __future__ import annotations

import email
from collections import Counter
from email import policy

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(sample_snapshot):
    path = sample_snapshot.snapshot.parent.parent / "alerts" / "alerts.sqlite"
    if not path.exists():
        pytest.skip(f"the reused snapshot has no alert store beside it ({path})")
    return path


def test_sample_run_sends_one_digest_per_recipient(store, monkeypatch):
    from pipelines.alerts.store import connect
    from pipelines.launcher import digests_for_runs

    monkeypatch.setenv("IPCITY_ALERT_STORE", str(store))
    with connect(read_only=True) as con:
        runs = [r[0] for r in con.execute("select distinct run_id from alerts.messages where run_id <> 'test'")]
        msgs = con.execute("select route, channel, recipient, run_id, status, n_firing from alerts.messages").fetchall()
        n_alerts = con.execute("select count(*) from alerts.alerts where state = 'firing'").fetchone()[0]
    assert runs and n_alerts > 0
    per_recipient = Counter((r[0], r[1], r[2], r[3]) for r in msgs)
    assert set(per_recipient.values()) == {1}  # one digest per recipient per run
    assert {r[4] for r in msgs} == {"delivered"}  # the default channel is the local outbox
    routes = {r[0] for r in msgs}
    assert {"province_office", "national_office"} <= routes
    # far fewer messages than alerts: a province office gets one message listing its cities; at most one per
    # province office, the national office and the data engineers
    assert len(msgs) < n_alerts and len(msgs) <= 31 + 2
    summary = digests_for_runs(runs)
    assert summary and all(r["messages"] == 1 for r in summary)
    assert sum(r["firing"] for r in summary) >= n_alerts  # every firing alert reached at least one recipient

    outbox = store.parent / "outbox"
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == len(msgs)
    mail = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert mail["X-Idempotency-Key"] == files[0].stem
