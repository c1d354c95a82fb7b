"""The prediction store against the emulator: item shape, S3 layout, conditional writes, listing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import boto3
import pytest

from chalicelib import store as store_module
from chalicelib.config import StageConfig
from chalicelib.errors import BadRequest, EndpointUnavailable, ImageRejected, NotFound
from chalicelib.media import accept_image
from chalicelib.store import PredictionStore, inbox_prediction_id, new_prediction_id, utc_now
from ops import provision
from tests import images
from tests.stack_fixtures import ensure_provisioned

pytestmark = pytest.mark.integration

PNG = images.png(images.blank((28, 28), 0))


def result(digit: int, confidence: float = 0.97) -> dict:
    """An endpoint answer in the contract's shape (docs/contracts.md)."""
    probabilities = [(1 - confidence) / 9] * 10
    probabilities[digit] = confidence
    return {
        "digit": digit,
        "number": str(digit),
        "confidence": confidence,
        "probabilities": probabilities,
        "top_k": [{"digit": digit, "probability": confidence}],
        "digits": [{"digit": digit, "confidence": confidence, "probabilities": probabilities, "box": [1, 2, 20, 26]}],
        "model_input": "iVBORw0KGgo=",
        "model_version": "test-version",
    }


@pytest.fixture
def store(provisioned: StageConfig) -> PredictionStore:
    ensure_provisioned(provisioned)
    return PredictionStore(provisioned)


@pytest.fixture
def empty_store(aws: StageConfig) -> PredictionStore:
    """A store on a freshly reset emulator, for tests that list everything there is."""
    return PredictionStore(aws)


def save(store: PredictionStore, digit: int, source: str = "api", **extra) -> dict:
    common = {"prediction_id": new_prediction_id(), "source": source, "created_at": utc_now()}
    common.update(extra)
    if source == "api":
        common.setdefault("image", accept_image(PNG))
    else:
        common.setdefault("source_key", f"inbox/{common['prediction_id']}.png")
    return store.save_succeeded(result=result(digit), latency_ms=12.5, **common)


def test_index_names_match_provisioning():
    assert (store_module.FEED_INDEX, store_module.SOURCE_INDEX) == (provision.FEED_INDEX, provision.SOURCE_INDEX)


def test_api_prediction_writes_image_result_and_item(store: PredictionStore, provisioned: StageConfig):
    record = save(store, 7)
    pid, day = record["prediction_id"], record["created_at"][:10].replace("-", "/")
    assert record["image_key"] == f"images/{day}/{pid}.png"
    assert record["result_key"] == f"results/{day}/{pid}.json"
    assert record["image_bucket"] == provisioned.results_bucket
    s3 = boto3.client("s3")
    stored_image = s3.get_object(Bucket=provisioned.results_bucket, Key=record["image_key"])
    assert stored_image["Body"].read() == PNG and stored_image["ContentType"] == "image/png"
    stored_result = s3.get_object(Bucket=provisioned.results_bucket, Key=record["result_key"])["Body"].read()
    stored_result = json.loads(stored_result)
    assert stored_result == record
    item = boto3.resource("dynamodb").Table(provisioned.predictions_table).get_item(Key={"prediction_id": pid})["Item"]
    assert item["feed"] == "all" and item["source"] == "api" and item["status"] == "succeeded"
    assert isinstance(item["confidence"], Decimal) and item["digit"] == 7
    assert store.get(pid) == record
    assert record["confidence"] == 0.97 and record["latency_ms"] == 12.5
    assert len(record["created_at"]) == 27 and record["created_at"].endswith("Z")


def test_a_number_of_several_digits_has_digit_null_in_the_record_and_its_json(
    store: PredictionStore, provisioned: StageConfig
):
    """docs/contracts.md: ``digit`` is the digit when exactly one was found, else null (not left out)."""
    answer = result(4)
    answer.update(digit=None, number="42", digits=answer["digits"] * 2)
    common = {"prediction_id": new_prediction_id(), "source": "api", "created_at": utc_now()}
    record = store.save_succeeded(result=answer, latency_ms=3.0, image=accept_image(PNG), **common)
    assert "digit" in record and record["digit"] is None and record["number"] == "42"
    assert store.get(record["prediction_id"]) == record
    stored = boto3.client("s3").get_object(Bucket=provisioned.results_bucket, Key=record["result_key"])["Body"].read()
    assert json.loads(stored)["digit"] is None


def test_inbox_records_point_at_the_inbox_object(store: PredictionStore, provisioned: StageConfig):
    pid = inbox_prediction_id(provisioned.inbox_bucket, "inbox/a b.png", "etag1")
    assert pid == inbox_prediction_id(provisioned.inbox_bucket, "inbox/a b.png", "etag1")
    assert pid != inbox_prediction_id(provisioned.inbox_bucket, "inbox/a b.png", "etag2")
    record = save(store, 3, source="s3", prediction_id=pid, source_key="inbox/a b.png")
    assert (record["image_bucket"], record["image_key"], record["source_key"]) == (
        provisioned.inbox_bucket,
        "inbox/a b.png",
        "inbox/a b.png",
    )


def test_a_failed_record_is_replaced_by_a_later_success_but_a_finished_one_never(store: PredictionStore):
    pid, key = new_prediction_id(), "inbox/x.png"
    failure = EndpointUnavailable("down", retry_after=5)
    failed = store.save_failed(prediction_id=pid, source="s3", created_at=utc_now(), error=failure, source_key=key)
    assert failed["status"] == "failed" and failed["error_code"] == "endpoint_unavailable"
    assert "result_key" not in failed
    succeeded = save(store, 4, source="s3", prediction_id=pid, source_key=key)
    assert succeeded["status"] == "succeeded" and "error_code" not in succeeded
    store.add_feedback(pid, 9)
    # A late redelivery must neither duplicate nor overwrite the finished record (and its feedback).
    again = store.save_rejected(
        prediction_id=pid, source="s3", created_at=utc_now(), error=ImageRejected("x"), source_key=key
    )
    assert again["status"] == "succeeded" and again["feedback_label"] == 9
    store.save_failed(prediction_id=pid, source="s3", created_at=utc_now(), error=failure, source_key=key)
    assert store.get(pid)["status"] == "succeeded"


def test_rejected_records_keep_the_error(store: PredictionStore):
    error = ImageRejected("no digit here", code="no_digit_found", status=422)
    record = store.save_rejected(
        prediction_id=new_prediction_id(), source="s3", created_at=utc_now(), error=error, source_key="inbox/b.png"
    )
    assert (record["status"], record["error_code"]) == ("rejected", "no_digit_found")
    assert record["error_message"] == error.message
    assert "digit" not in record


def test_feedback_round_trip_and_unknown_ids(store: PredictionStore):
    record = save(store, 1)
    updated = store.add_feedback(record["prediction_id"], 7)
    assert updated["feedback_label"] == 7 and updated["feedback_at"] >= record["created_at"]
    assert store.get(record["prediction_id"])["feedback_label"] == 7
    for unknown in (new_prediction_id(), "not-an-id"):
        with pytest.raises(NotFound):
            store.add_feedback(unknown, 3)
        assert store.get(unknown) is None


def test_listing_is_newest_first_and_pages_with_a_cursor(empty_store: PredictionStore):
    store = empty_store
    saved = [save(store, i % 10, source="api" if i % 3 else "s3") for i in range(7)]
    newest_first = [r["prediction_id"] for r in reversed(saved)]
    seen, cursor, pages = [], None, 0
    while True:
        page = store.list(limit=3, cursor=cursor)
        seen += [r["prediction_id"] for r in page.items]
        pages += 1
        cursor = page.cursor
        if cursor is None:
            break
    assert seen == newest_first and pages == 3
    only_s3 = store.list(limit=10, source="s3")
    assert [r["prediction_id"] for r in only_s3.items] == [
        p for p, r in zip(newest_first, reversed(saved), strict=True) if r["source"] == "s3"
    ]
    assert only_s3.cursor is None


def test_a_full_last_page_has_no_cursor(empty_store: PredictionStore):
    """Exactly ``limit`` items left: all of them, and no cursor to an empty page (shared case)."""
    store = empty_store
    saved = [save(store, 5 if i % 2 else 3) for i in range(4)]
    newest_first = [r["prediction_id"] for r in reversed(saved)]
    everything = store.list(limit=4)
    assert [r["prediction_id"] for r in everything.items] == newest_first and everything.cursor is None
    first = store.list(limit=2)
    last = store.list(limit=2, cursor=first.cursor)
    assert [r["prediction_id"] for r in first.items + last.items] == newest_first and last.cursor is None
    fives = store.list(limit=2, digit=5)
    assert [r["digit"] for r in fives.items] == [5, 5] and fives.cursor is None
    one_more = store.list(limit=1, digit=3)
    assert one_more.cursor and store.list(limit=1, digit=3, cursor=one_more.cursor).cursor is None
    assert store.list(limit=2, source="api").cursor is not None
    assert store.list(limit=4, source="api").cursor is None


def test_filters_keep_paging_until_the_page_is_full(empty_store: PredictionStore, monkeypatch: pytest.MonkeyPatch):
    store = empty_store
    saved = [save(store, 5 if i in (0, 4, 8) else 2) for i in range(10)]
    monkeypatch.setattr(store_module, "MAX_QUERY_PAGES", 50)
    fives = [r["prediction_id"] for r in reversed(saved) if r["digit"] == 5]
    first = store.list(limit=2, digit=5)
    assert [r["prediction_id"] for r in first.items] == fives[:2] and first.cursor
    rest = store.list(limit=2, digit=5, cursor=first.cursor)
    assert [r["prediction_id"] for r in rest.items] == fives[2:] and rest.cursor is None
    failed = store.list(limit=5, status="failed")
    assert failed.items == [] and failed.cursor is None


def test_daily_counts_per_source_from_the_index(empty_store: PredictionStore):
    store = empty_store
    now = datetime.now(UTC)

    def day(days_ago: int) -> str:
        return (now - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    for source, days_ago in (("api", 0), ("api", 0), ("s3", 0), ("s3", 1), ("api", 2)):
        save(store, 1, source=source, created_at=day(days_ago))
    counts = store.daily_counts(2)
    assert counts == [
        {"date": day(1)[:10], "api": 0, "s3": 1, "total": 1},
        {"date": day(0)[:10], "api": 2, "s3": 1, "total": 3},
    ]
    assert [d["total"] for d in store.daily_counts(3)] == [1, 1, 3]
    for days in (0, store_module.MAX_STATS_DAYS + 1):
        with pytest.raises(BadRequest):
            store.daily_counts(days)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"limit": 0},
        {"limit": 101},
        {"source": "ftp"},
        {"digit": 10},
        {"status": "done"},
        {"cursor": "!!"},
        {"cursor": "eyJhIjoxfQ"},
        {"source_key": ""},
        {"source_key": "inbox/a.png", "source": "api"},
        {"source_key": "k" * 1025},
    ],
)
def test_bad_listing_arguments_are_400(store: PredictionStore, kwargs: dict):
    with pytest.raises(BadRequest):
        store.list(**kwargs)


def test_a_cursor_only_fits_its_own_listing(store: PredictionStore):
    for i in range(3):
        save(store, i)
    cursor = store.list(limit=1).cursor
    with pytest.raises(BadRequest, match="cursor"):
        store.list(limit=1, cursor=cursor, source="api")  # by-time cursor on the by-source index


def test_the_records_of_one_inbox_key_are_listed_newest_first(empty_store: PredictionStore):
    """An inbox upload is found by its key (a user who copied a file into the bucket knows only that):
    one record per version uploaded, newest first; other keys and the API's records are left out."""
    store = empty_store
    first = save(store, 3, source="s3", source_key="inbox/ünï code.png")
    save(store, 4, source="s3", source_key="inbox/other.png")
    save(store, 5)
    again = save(store, 6, source="s3", source_key="inbox/ünï code.png")  # a new version of the key
    page = store.list(source_key="inbox/ünï code.png")
    assert [r["prediction_id"] for r in page.items] == [again["prediction_id"], first["prediction_id"]]
    assert page.cursor is None
    assert store.list(source_key="inbox/ünï code.png", source="s3", limit=1).items[0]["digit"] == 6
    assert store.list(source_key="inbox/none.png").items == []


def test_ping_reads_the_table(store: PredictionStore):
    store.ping()


def test_corrected_filter_and_the_feedback_export_query(empty_store: PredictionStore):
    store = empty_store
    right, wrong, unjudged = save(store, 3), save(store, 4), save(store, 5)
    several = save(store, 1)
    store.add_feedback(right["prediction_id"], 3)  # confirmed
    store.add_feedback(wrong["prediction_id"], 9)  # corrected
    store.table.update_item(  # a several-digit record has no single digit: any label corrects it
        Key={"prediction_id": several["prediction_id"]},
        UpdateExpression="REMOVE digit SET #n = :n",
        ExpressionAttributeNames={"#n": "number"},
        ExpressionAttributeValues={":n": "12"},
    )
    store.add_feedback(several["prediction_id"], 1)

    def ids(page) -> set[str]:
        return {r["prediction_id"] for r in page.items}

    assert ids(store.list(corrected=True)) == {wrong["prediction_id"], several["prediction_id"]}
    assert ids(store.list(corrected=False)) == {right["prediction_id"], unjudged["prediction_id"]}
    assert ids(store.list(corrected=True, digit=4)) == {wrong["prediction_id"]}
    exported = list(store.with_feedback())
    assert [r["prediction_id"] for r in exported] == [
        several["prediction_id"],
        wrong["prediction_id"],
        right["prediction_id"],
    ]  # newest first
