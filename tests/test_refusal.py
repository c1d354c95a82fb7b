""" "Not a digit" without a trained model: the threshold's sources, the split of the eleventh output,
the refusal of a whole request, 10-, 11- and 12-class state_dicts, and the threshold's choice in training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model import refusal
from model.contract import STATUSES, InputError
from model.inference import Prediction, to_response
from model.network import NOT_A_DIGIT, TOUCHING, DigitNet, from_state_dict
from model.preprocess import Digit
from training import refusal as calibration

pytestmark = pytest.mark.unit


def test_threshold_comes_from_the_stage_then_the_archive_then_the_default() -> None:
    metadata = {"not_a_digit": {"threshold": 0.42}}
    assert refusal.threshold(metadata, {}) == 0.42
    assert refusal.threshold(metadata, {refusal.THRESHOLD_ENV: "0.8"}) == 0.8
    assert refusal.threshold({}, {refusal.THRESHOLD_ENV: " "}) == refusal.DEFAULT_THRESHOLD
    for bad in ("high", "nan", "inf"):
        with pytest.raises(ValueError):
            refusal.threshold(metadata, {refusal.THRESHOLD_ENV: bad})


def test_split_gives_digit_probabilities_given_a_digit() -> None:
    eleven = np.array([[0.1, 0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0.4], [0.9, 0, 0, 0, 0, 0, 0, 0, 0, 0.1, 0.0]], np.float32)
    digits, not_digit = refusal.split(eleven)
    assert digits.shape == (2, 10) and np.allclose(digits.sum(axis=1), 1)
    assert np.allclose(digits[0, :2], [1 / 6, 5 / 6]) and np.allclose(not_digit, [0.4, 0.0])
    ten = eleven[:, :10] / eleven[:, :10].sum(axis=1, keepdims=True)
    same, never = refusal.split(ten)
    assert same is ten and not never.any()


def test_a_mark_read_as_digits_that_touch_is_not_one_digit() -> None:
    """With a twelfth output, a mark is refused on its probability of not being one digit: no digit,
    or digits run together that the service did not cut (answering one digit for them would misread)."""
    twelve = np.array([[0.05] * 10 + [0.1, 0.4], [0.09] * 10 + [0.1, 0.0]], np.float32)
    digits, not_one = refusal.split(twelve)
    assert np.allclose(digits.sum(axis=1), 1) and np.allclose(not_one, [0.5, 0.1])


def test_one_mark_that_is_no_digit_refuses_the_whole_request() -> None:
    refusal.check(np.array([0.1, 0.49]), 0.5)  # nothing refused
    with pytest.raises(InputError) as info:
        refusal.check(np.array([0.1, 0.7, 0.9]), 0.5)
    assert info.value.code == "not_a_digit" and info.value.status == STATUSES["not_a_digit"] == 422
    assert "mark 2 of 3" in info.value.message
    with pytest.raises(InputError, match="this mark"):
        refusal.check(np.array([0.5]), 0.5)
    with pytest.raises(InputError, match="mark 2 of 2 \\(left to right\\), pixels 40-90 across and 5-60 down, looks"):
        refusal.check(np.array([0.1, 0.9]), 0.5, [(0, 0, 30, 60), (40, 5, 90, 60)])


def _read_as_0(sure: float, marks: int = 1) -> np.ndarray:
    """``(marks, 10)`` probabilities of digits: 0 at ``sure``, the rest shared by the others."""
    probabilities = np.full((marks, 10), (1 - sure) / 9, np.float32)
    probabilities[:, 0] = sure
    return probabilities


def _prediction(not_digit: list[float], threshold: float, sure: float = 0.9, floor: float = 0.3) -> Prediction:
    digits = [Digit(np.full((28, 28), 200, np.uint8), (10 * i, 0, 10 * i + 8, 28)) for i in range(len(not_digit))]
    probabilities = _read_as_0(sure, len(not_digit))
    return Prediction(digits, probabilities, "test", np.array(not_digit, np.float32), threshold, floor)


def test_the_response_is_a_refusal_at_the_threshold_and_an_answer_below_it() -> None:
    with pytest.raises(InputError) as info:
        to_response(_prediction([0.2, 0.95], 0.9))
    assert info.value.code == "not_a_digit"
    assert to_response(_prediction([0.2, 0.95], 1.0))["number"] == "00"  # a stage that never refuses
    ten_class = Prediction(_prediction([0.0], 0.5).digits, _read_as_0(0.9), "test")
    assert to_response(ten_class)["digit"] == 0


def test_the_confidence_floor_comes_from_the_stage_then_the_default() -> None:
    assert refusal.floor({}) == refusal.DEFAULT_FLOOR
    assert refusal.floor({refusal.FLOOR_ENV: "0.5"}) == 0.5 and refusal.floor({refusal.FLOOR_ENV: ""}) == 0.3
    for bad in ("low", "nan", "-inf"):
        with pytest.raises(ValueError):
            refusal.floor({refusal.FLOOR_ENV: bad})


def test_a_digit_read_under_the_confidence_floor_refuses_the_request_and_names_both_readings() -> None:
    assert to_response(_prediction([0.1], 0.5, sure=0.3))["confidence"] == pytest.approx(0.3)  # at the floor
    with pytest.raises(InputError) as info:
        to_response(_prediction([0.1, 0.1, 0.1], 0.5, sure=0.29))
    assert info.value.code == "low_confidence" and info.value.status == STATUSES["low_confidence"] == 422
    assert info.value.message.startswith(
        "cannot read mark 1 of 3 (left to right), pixels 0-8 across and 0-28 down, with confidence: it reads 0 "
        "with probability 0.29 or 1 with 0.08, under the confidence floor 0.30"
    )
    assert to_response(_prediction([0.1, 0.1], 0.5, sure=0.29, floor=0.0))["number"] == "00"  # a stage answering all
    with pytest.raises(InputError) as info:  # a mark that is no digit is named first: it is the likelier reason
        to_response(_prediction([0.1, 0.9], 0.5, sure=0.2))
    assert info.value.code == "not_a_digit"


def test_state_dicts_of_ten_eleven_and_twelve_outputs_load_and_others_do_not() -> None:
    for classes in (10, NOT_A_DIGIT + 1, TOUCHING + 1):
        network = from_state_dict(DigitNet(classes=classes).state_dict()).eval()
        assert network(torch.zeros(2, 1, 28, 28)).shape == (2, classes)
    with pytest.raises(RuntimeError):
        from_state_dict(DigitNet(classes=13).state_dict())


def test_the_chosen_threshold_refuses_at_most_the_allowed_share_of_digits() -> None:
    rng = np.random.default_rng(0)
    digits = rng.beta(0.5, 20, 10_000)  # mostly near 0, a long tail
    not_digits = rng.beta(8, 1, 2_000)
    chosen = calibration.choose(digits, 0.001)
    assert (digits >= chosen).mean() <= 0.001
    assert (digits >= chosen - 0.01).mean() > 0.001 or chosen == 0.05  # the lowest such threshold
    curve = calibration.tradeoff(digits, not_digits)
    refused = [c["not_digits_refused"] for c in curve]
    assert refused == sorted(refused, reverse=True)  # a higher threshold never refuses more


def test_pieces_of_a_cut_mark_are_refused_only_when_more_likely_no_digit() -> None:
    assert refusal.part_limit(0.3) == refusal.PART_THRESHOLD == 0.5 and refusal.part_limit(0.8) == 0.8
    refusal.check(np.array([0.1, 0.45]), np.array([0.3, refusal.part_limit(0.3)]))  # a piece at 0.45: kept
    with pytest.raises(InputError):
        refusal.check(np.array([0.35, 0.1]), np.array([0.3, refusal.part_limit(0.3)]))  # a whole mark at 0.35
