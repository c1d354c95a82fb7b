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


def _prediction(not_digit: list[float], threshold: float) -> Prediction:
    digits = [Digit(np.full((28, 28), 200, np.uint8), (0, 0, 28, 28)) for _ in not_digit]
    probabilities = np.full((len(not_digit), 10), 0.1, np.float32)
    return Prediction(digits, probabilities, "test", np.array(not_digit, np.float32), threshold)


def test_the_response_is_a_refusal_at_the_threshold_and_an_answer_below_it() -> None:
    with pytest.raises(InputError) as info:
        to_response(_prediction([0.2, 0.95], 0.9))
    assert info.value.code == "not_a_digit"
    assert to_response(_prediction([0.2, 0.95], 1.0))["number"] == "00"  # a stage that never refuses
    ten_class = Prediction(_prediction([0.0], 0.5).digits, np.full((1, 10), 0.1, np.float32), "test")
    assert to_response(ten_class)["digit"] == 0


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
