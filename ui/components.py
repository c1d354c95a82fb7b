"""Pieces of layout shared by the pages: the result panel, error messages, the page header."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any

import streamlit as st
from PIL import Image

from ui import client

#: The 28x28 model input is shown this many times larger, nearest-neighbour (so pixels stay pixels).
MODEL_INPUT_SCALE = 6

#: What to tell a person for each error code of the API (docs/contracts.md); the API's own message follows.
ERROR_HINTS: dict[str, str] = {
    "no_digit_found": "No digit found in this image. Is it blank, or too faint?",
    "not_a_digit": (
        "This does not look like a digit (a letter, a symbol, a shape, a scribble, or a decimal point or minus"
        " sign in a number?). Write digits 0-9 only."
    ),
    "several_lines": "The digits are on more than one line. Write one number, on one line.",
    "low_confidence": "A digit could not be read with confidence. Write it more clearly, or crop closer to the number.",
    "unsupported_media_type": "This file is not an image we can read (PNG, JPEG, GIF, WebP, BMP, TIFF).",
    "image_too_large": "This image is too large.",
    "corrupt_image": "This image could not be decoded (damaged or truncated file?).",
    "empty_body": "The file is empty.",
    "endpoint_unavailable": "The model endpoint is not available right now; try again in a few seconds.",
    "endpoint_throttled": "The model endpoint is busy; try again in a few seconds.",
    "storage_unavailable": "The prediction store is not available right now; try again in a few seconds.",
    "api_unreachable": "The API cannot be reached. Is the stack running (`make up`)?",
    "upload_failed": "The image could not be put into the inbox bucket.",
}


def page_header(title: str, caption: str) -> None:
    st.set_page_config(page_title=f"{title} · Digits", page_icon=":material/draw:", layout="wide")
    st.title(title)
    st.caption(caption)


def pipeline_diagram(up: dict[str, bool]) -> str:
    """The two paths as a Graphviz graph, each part green (up), red (down) or grey (not checked)."""

    def node(name: str, label: str, check: str | None = None, shape: str = "box") -> str:
        color = "#9ca3af" if check not in up else ("#16a34a" if up[check] else "#dc2626")
        return f'{name} [label="{label}", shape={shape}, color="{color}", fontcolor="{color}", penwidth=2];'

    return "\n".join(
        [
            "digraph { rankdir=LR; bgcolor=transparent; node [fontname=sans, fontsize=11, style=rounded];",
            node("you", "you", shape="oval"),
            node("api", "API\\n(Chalice)", "API"),
            node("inbox", "S3 inbox", "Inbox bucket", shape="cylinder"),
            node("trigger", "S3 trigger\\n(Lambda)"),
            node("model", "SageMaker\\nendpoint", "Model endpoint"),
            node("table", "DynamoDB", "Predictions table", shape="cylinder"),
            node("results", "S3 results", "Results bucket", shape="cylinder"),
            'you -> api [label="POST /predict"]; you -> inbox [label=upload]; inbox -> trigger [label=event];',
            "api -> model; trigger -> model; model -> table [style=invis]; model -> results [style=invis];",
            "api -> table; trigger -> table; api -> results; trigger -> results;",
            "}",
        ]
    )


def show_error(exc: client.Failure, what: str = "") -> None:
    """A rejected image or an unavailable service, in words, with the API's code."""
    hint = ERROR_HINTS.get(exc.code, "The request failed.")
    prefix = f"**{what}**: " if what else ""
    st.error(f"{prefix}{hint}\n\n{exc.message} (`{exc.code}`{f', HTTP {exc.status}' if exc.status else ''})")


def outcome_panel(outcome: client.Outcome, key: str) -> None:
    """One uploaded file's result: the prediction, or why there is none (with the record id if stored)."""
    title = f"{outcome.name} · {client.SOURCES[outcome.path]} · {outcome.seconds:.2f} s"
    if outcome.failure is None and outcome.prediction is not None:
        prediction_panel(outcome.prediction, key=key, title=title)
        return
    assert outcome.failure is not None
    show_error(outcome.failure, title)
    if outcome.prediction is not None:
        _details(outcome.prediction)


def model_input_image(prediction: dict[str, Any], scale: int = MODEL_INPUT_SCALE) -> Image.Image | None:
    """The 28 x 28n image the model saw, enlarged nearest-neighbour; None when the record has none (or one
    that is not a PNG: a record is data from elsewhere, and one bad record must not break a page)."""
    encoded = prediction.get("model_input")
    if not encoded:
        return None
    try:
        img = Image.open(io.BytesIO(base64.b64decode(encoded)))
        return img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    except (OSError, ValueError):  # binascii.Error is a ValueError; UnidentifiedImageError an OSError
        return None


def _answer(prediction: dict[str, Any]) -> str:
    number = prediction.get("number")
    digit = prediction.get("digit")
    return str(number if number not in (None, "") else digit)


def prediction_panel(prediction: dict[str, Any], key: str, title: str | None = None) -> None:
    """The result of one prediction: the answer, its confidence, the probabilities, what the model saw,
    and a control to correct it."""
    with st.container(border=True):
        if title:
            st.markdown(f"**{title}**")
        answer, seen, chart = st.columns([1, 1, 2], gap="medium")
        confidence = float(prediction.get("confidence") or 0.0)
        with answer:
            st.metric("Prediction", _answer(prediction), help="the digit(s) found, left to right")
            st.progress(confidence, text=f"confidence {confidence:.1%}")
            if confidence < 0.6:
                st.caption(":material/warning: low confidence: the model is unsure")
        with seen:
            image = model_input_image(prediction)
            if image is not None:
                st.image(image, caption="what the model saw (28×28 per digit)")
        with chart:
            probabilities = prediction.get("probabilities") or []
            if probabilities:
                st.bar_chart(
                    {"probability": [float(p) for p in probabilities]},
                    x_label="digit",
                    y_label="probability",
                    height=190,
                )
            digits = prediction.get("digits") or []
            if len(digits) > 1:
                st.caption(
                    "digits: "
                    + ", ".join(f"**{d['digit']}** ({float(d['confidence']):.0%})" for d in digits)
                    + " · chart: the first digit"
                )
        _details(prediction)
        if prediction.get("prediction_id") and len(str(prediction.get("number") or "")) <= 1:
            # Feedback is one digit (POST /predictions/{id}/feedback takes 0-9): single-digit predictions only.
            feedback_control(prediction, key)


def _details(prediction: dict[str, Any]) -> None:
    """One line of provenance: path, model latency, model version, record id, time, inbox object."""
    parts = []
    if prediction.get("source"):
        parts.append(f"via **{prediction['source']}**")
    if prediction.get("latency_ms") is not None:
        parts.append(f"model {float(prediction['latency_ms']):.0f} ms")
    if prediction.get("model_version"):
        parts.append(f"model version `{prediction['model_version']}`")
    if prediction.get("prediction_id"):
        parts.append(f"id `{prediction['prediction_id']}`")
    if prediction.get("created_at"):
        parts.append(str(prediction["created_at"]))
    if prediction.get("source_key"):
        parts.append(f"from `s3://{prediction.get('image_bucket')}/{prediction['source_key']}`")
    if parts:
        st.caption(" · ".join(parts))


def feedback_control(prediction: dict[str, Any], key: str) -> None:
    """ "Wrong? Correct it": pick the right digit, sent to the API as feedback."""
    current = prediction.get("feedback_label", prediction.get("feedback"))
    if isinstance(current, dict):
        current = current.get("label")
    sent_key = f"feedback-sent-{key}"
    if st.session_state.get(sent_key) is not None:
        current = st.session_state[sent_key]
    if current is not None:
        st.caption(f":material/check: corrected to **{current}**, thank you")
    with st.expander("Wrong? Correct it"):
        label = st.segmented_control(
            "The right digit", list(range(10)), key=f"feedback-label-{key}", selection_mode="single"
        )
        if st.button("Send correction", key=f"feedback-send-{key}", disabled=label is None):
            try:
                client.send_feedback(prediction["prediction_id"], int(label))
            except client.Failure as exc:
                show_error(exc, "Correction not saved")
            else:
                st.session_state[sent_key] = int(label)
                st.rerun()


# -- statistics of a list of records (the History page) ----------------------------------------------------


def confidence_histogram(records: list[dict[str, Any]], bins: int = 10) -> dict[str, list]:
    """Counts of succeeded predictions per confidence bin (``"0.9-1.0"`` ...), for a bar chart."""
    counts = [0] * bins
    for record in records:
        if record.get("status") == "succeeded" and record.get("confidence") is not None:
            counts[min(int(float(record["confidence"]) * bins), bins - 1)] += 1
    labels = [f"{i / bins:.1f}–{(i + 1) / bins:.1f}" for i in range(bins)]
    return {"confidence": labels, "predictions": counts}


def digit_counts(records: list[dict[str, Any]]) -> dict[str, list]:
    """How often each digit was predicted (single-digit predictions), for a bar chart."""
    counts = [0] * 10
    for record in records:
        if record.get("status") == "succeeded" and isinstance(record.get("digit"), int):
            counts[record["digit"]] += 1
    return {"digit": [str(d) for d in range(10)], "predictions": counts}


@dataclass(frozen=True)
class FeedbackAccuracy:
    """What user feedback says about the model: of ``with_feedback`` judged predictions, ``confirmed`` were right."""

    predictions: int
    with_feedback: int
    confirmed: int

    @property
    def corrected(self) -> int:
        return self.with_feedback - self.confirmed

    @property
    def judged_accuracy(self) -> float | None:
        """Right among the predictions people judged (biased: people mostly report mistakes)."""
        return self.confirmed / self.with_feedback if self.with_feedback else None

    @property
    def implied_accuracy(self) -> float | None:
        """Right among all predictions, counting every prediction nobody corrected as right."""
        return 1 - self.corrected / self.predictions if self.predictions else None


def feedback_accuracy(records: list[dict[str, Any]]) -> FeedbackAccuracy:
    succeeded = [r for r in records if r.get("status") == "succeeded"]
    judged = [r for r in succeeded if r.get("feedback_label") is not None]
    confirmed = sum(1 for r in judged if str(r["feedback_label"]) == str(r.get("number", r.get("digit"))))
    return FeedbackAccuracy(len(succeeded), len(judged), confirmed)
