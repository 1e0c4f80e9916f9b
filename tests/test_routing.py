"""Routing rules (``radclass.integration.routing``) and the delivery queue (``radclass.integration.delivery``)."""

from __future__ import annotations

import time

import pytest

from radclass.integration.delivery import DeliveryQueue, DeliveryState
from radclass.integration.forward import Destination
from radclass.integration.routing import RetryPolicy, RoutingError, RoutingTable

TOML = """
default = ["ARCHIVE"]

[destination.NEURO]
address = "NEURO@127.0.0.1:11113"

[destination.ARCHIVE]
address = "ARCHIVE@127.0.0.1:11114"

[destination.SPINE]
address = "SPINE@127.0.0.1:11115"

[[route]]
name = "tumour"
sequence = ["T1C", "FLAIR"]
orientation = ["ax"]
min_confidence = 0.8
to = ["NEURO"]

[[route]]
name = "spine"
sequence = ["*", "UNKNOWN"]
anatomy = ["SPINE"]
to = ["SPINE", "ARCHIVE"]

[retry]
first_delay_seconds = 1
max_delay_seconds = 10
max_attempts = 5
"""


def _row(sequence="T1C", status="ok", orientation="AX", confidence=0.9, anatomy="BRAIN", contrast="post"):
    return {"sequence": sequence, "status": status, "orientation": orientation, "confidence": confidence,
            "anatomy": anatomy, "contrast": contrast}


def test_toml_rules_select_destinations():
    table = RoutingTable.from_toml(TOML)
    assert table.select(_row()) == ("NEURO",)
    assert table.select(_row(sequence="FLAIR", confidence=0.79)) == ("ARCHIVE",)  # below min_confidence
    assert table.select(_row(orientation="SAG")) == ("ARCHIVE",)
    assert table.select(_row(sequence="T2", anatomy="SPINE")) == ("SPINE", "ARCHIVE")
    # an abstention is UNKNOWN whatever its sequence column says; * does not select it, UNKNOWN does
    assert table.select(_row(sequence="T1C", status="unknown", anatomy="SPINE")) == ("SPINE", "ARCHIVE")
    assert table.select(_row(sequence="", status="skipped", anatomy="")) == ("ARCHIVE",)
    assert table.retry == RetryPolicy(1, 10, 5)
    assert table.describe()[0] == "route tumour: FLAIR,T1C orientation=AX confidence>=0.8 -> NEURO@127.0.0.1:11113"


def test_short_rules_and_default():
    table = RoutingTable.from_specs(["T1C,FLAIR=NEURO@127.0.0.1:104",
                                     "DWI[orientation=AX,COR;contrast=none;min_confidence=0.9]=STROKE@127.0.0.1:105"])
    assert table.select(_row(sequence="DWI", orientation="COR", confidence=0.95, contrast="none")) == ("STROKE",)
    assert table.select(_row(sequence="DWI", orientation="COR", confidence=0.95, contrast="pre")) == ()
    assert table.select(_row(sequence="UNKNOWN", status="unknown")) == ()  # no default: nowhere
    with_default = RoutingTable.from_specs(["T1C=NEURO@127.0.0.1:104"], default="PACS@127.0.0.1:106")
    assert with_default.select(_row(sequence="UNKNOWN", status="unknown")) == ("PACS",)
    assert with_default.destinations["PACS"] == Destination("127.0.0.1", 106, "PACS")


@pytest.mark.parametrize(("specs", "message"), [
    (["T1X=A@127.0.0.1:1"], "sequence T1X is not one of"),
    (["T1=A@127.0.0.1"], "is not of the form AET@HOST:PORT"),
    (["T1=A@127.0.0.1:0"], "must be a whole number from 1 to 65535"),
    (["T1=ABCDEFGHIJKLMNOPQ@127.0.0.1:1"], "must be 1 to 16 characters"),
    (["T1[orientation=UP]=A@127.0.0.1:1"], "orientation UP is not one of"),
    (["T1[min_confidence=high]=A@127.0.0.1:1"], "min_confidence 'high' is not a number"),
    (["T1[min_confidence=1.5]=A@127.0.0.1:1"], "must lie between 0 and 1"),
    (["T1[colour=red]=A@127.0.0.1:1"], "qualifier 'colour=red' must be"),
    (["T1=A@127.0.0.1:1", "T2=A@127.0.0.1:2"], "one AE title cannot name two addresses"),
    (["T1 T2"], "is not of the form SELECTOR"),
])
def test_short_rule_errors_are_sentences(specs, message):
    with pytest.raises(RoutingError, match=message) as err:
        RoutingTable.from_specs(specs)
    assert str(err.value).endswith(".")


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace('to = ["NEURO"]', 'to = ["NOBODY"]'), "NOBODY, which is not a defined destination"),
    (lambda t: t.replace('default = ["ARCHIVE"]', 'default = ["GONE"]'), "default destination GONE"),
    (lambda t: t.replace("min_confidence = 0.8", 'min_confidence = "0.8"'), "must be a number between 0 and 1"),
    (lambda t: t.replace('orientation = ["ax"]', 'orient = ["AX"]'), "unknown key orient"),
    (lambda t: t.replace('anatomy = ["SPINE"]', 'anatomy = ["LEG"]'), "anatomy LEG is not one of"),
    (lambda t: t.replace("max_attempts = 5", "max_attempts = -1"), "number of delivery attempts"),
    (lambda t: t.replace("max_delay_seconds = 10", "max_delay_seconds = 0.5"), "must be at least the first"),
    (lambda t: t.replace('"NEURO@127.0.0.1:11113"', '"NEURO"'), "destination 'NEURO'"),
    (lambda t: t + "\n[[route]\n", "is not valid TOML"),
    (lambda t: t.replace('name = "spine"', 'name = "tumour"'), "tumour is used more than once"),
])
def test_toml_errors_are_sentences(edit, message):
    with pytest.raises(RoutingError, match=message):
        RoutingTable.from_toml(edit(TOML))


def test_retry_backoff_doubles_up_to_the_cap():
    policy = RetryPolicy(first_delay_seconds=2, max_delay_seconds=30, max_attempts=6)
    assert [policy.delay(n) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]
    assert not policy.gives_up(5) and policy.gives_up(6) and not RetryPolicy().gives_up(10 ** 6)


def test_queue_survives_reopening_and_ignores_repeats(tmp_path):
    files = []
    for i in range(3):
        files.append(tmp_path / f"{i}.dcm")
        files[-1].write_bytes(b"x")
    dest = Destination("127.0.0.1", 11113, "NEURO")
    queue = DeliveryQueue(tmp_path / "q.sqlite", RetryPolicy(first_delay_seconds=60, max_delay_seconds=60,
                                                             max_attempts=2))
    assert queue.enqueue("1.2.3", "NEURO", dest, files) == 3
    assert queue.enqueue("1.2.3", "NEURO", dest, files) == 0  # routed again: nothing new
    assert queue.enqueue("1.2.3", "ARCHIVE", dest, files[:1]) == 1  # another destination is another delivery
    due = queue.due()
    assert sorted(due) == ["ARCHIVE", "NEURO"] and len(due["NEURO"]) == 3
    queue.delivered(due["NEURO"][0])
    queue.failed(due["NEURO"][1:], "ConnectionError: refused")
    assert "NEURO" not in queue.due()  # waiting for its back-off
    later = queue.due(now=time.time() + 61)["NEURO"]
    assert [d.attempts for d in later] == [1, 1]
    queue.failed(later, "ConnectionError: refused")  # second attempt: the policy gives up

    reopened = DeliveryQueue(tmp_path / "q.sqlite")
    assert reopened.counts() == {DeliveryState.PENDING: 1, DeliveryState.DELIVERED: 1, DeliveryState.FAILED: 2}
    assert reopened.enqueue("1.2.3", "NEURO", dest, files) == 0  # a delivered or given-up instance stays so
    assert reopened.series_count() == 1
