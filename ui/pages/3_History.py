"""Recent predictions, newest first, from both paths; statistics; what user feedback says."""

import streamlit as st

from ui import client
from ui.components import (
    confidence_histogram,
    digit_counts,
    feedback_accuracy,
    model_input_image,
    page_header,
    prediction_panel,
    show_error,
)

PAGE_SIZE = 10
#: The statistics cover this many of the newest predictions (of the selected source).
STATS_WINDOW = 500
STATUS_BADGES = {
    "succeeded": ":green-badge[succeeded]",
    "rejected": ":orange-badge[rejected]",
    "failed": ":red-badge[failed]",
}

page_header("History", "Every prediction of both paths, newest first, read from DynamoDB through GET /predictions.")


@st.cache_data(show_spinner=False, max_entries=500)
def thumbnail(prediction_id: str) -> bytes | None:
    try:
        return client.thumbnail(prediction_id)
    except (client.Failure, OSError):  # an image that is gone or unreadable: the row says so
        return None


@st.cache_data(show_spinner=False, ttl=10)
def recent(source: str | None) -> list[dict]:
    return client.recent_predictions(STATS_WINDOW, source=source)


state = st.session_state
filters = st.columns([2, 1, 2, 1, 1])
source = filters[0].segmented_control(
    "Source", list(client.SOURCES), format_func=client.SOURCES.get, key="history_source"
)
digit = filters[1].selectbox("Digit", [None, *range(10)], format_func=lambda d: "any" if d is None else str(d))
status = filters[2].segmented_control("Status", list(STATUS_BADGES), key="history_status")
corrected = filters[3].toggle("Corrected only", key="history_corrected", help="predictions users corrected") or None
with filters[4]:
    st.write("")
    if st.button("Refresh", width="stretch"):
        recent.clear()

# Cursors of the pages seen so far; a change of filter starts again from the newest.
query = (source, digit, status, corrected)
if state.get("history_query") != query:
    state.history_query, state.history_cursors = query, [None]

try:
    page = client.list_predictions(
        limit=PAGE_SIZE,
        cursor=state.history_cursors[-1],
        source=source,
        digit=digit,
        status=status,
        corrected=corrected,
    )
except client.Failure as exc:
    show_error(exc, "History unavailable")
    st.stop()

list_tab, stats_tab = st.tabs(["Predictions", "Statistics"])

with list_tab:
    if not page.items:
        st.info("No predictions yet" + (" with these filters." if any(v is not None for v in query) else "."))
    for record in page.items:
        row = st.container(border=True)
        image_col, model_col, answer_col, meta_col = row.columns([1, 1, 2, 4], vertical_alignment="center")
        with image_col:
            thumb = thumbnail(record["prediction_id"]) if record.get("image_key") else None
            if thumb:
                st.image(thumb, caption="uploaded")
            else:
                st.caption("no image")
        with model_col:
            seen = model_input_image(record, scale=2)
            if seen is not None:
                st.image(seen, caption="model input")
        with answer_col:
            if record.get("status") == "succeeded":
                st.markdown(f"### {record.get('number', record.get('digit'))}")
                st.caption(f"confidence {float(record.get('confidence', 0)):.1%}")
            else:
                st.markdown(STATUS_BADGES.get(record.get("status"), str(record.get("status"))))
                st.caption(f"`{record.get('error_code', '')}`")
        with meta_col:
            feedback = record.get("feedback_label")
            st.markdown(
                f"**{client.SOURCES.get(record.get('source'), record.get('source'))}** · {record.get('created_at')}"
                + (f" · corrected to **{feedback}**" if feedback is not None else "")
            )
            if record.get("status") != "succeeded":
                st.caption(record.get("error_message", ""))
            if record.get("source") == "s3":
                st.caption(f"s3://{record.get('image_bucket')}/{record.get('source_key')}")
            if record.get("status") == "succeeded":
                with st.popover("Details"):
                    prediction_panel(record, key=f"history-{record['prediction_id']}")

    newer_col, position, older_col = st.columns([1, 2, 1])
    if older_col.button("Older →", disabled=page.cursor is None, width="stretch"):
        state.history_cursors.append(page.cursor)
        st.rerun()
    if newer_col.button("← Newer", disabled=len(state.history_cursors) == 1, width="stretch"):
        state.history_cursors.pop()
        st.rerun()
    position.caption(f"page {len(state.history_cursors)}, {PAGE_SIZE} per page")

with stats_tab:
    try:
        records = recent(source)
    except client.Failure as exc:
        show_error(exc, "Statistics unavailable")
        st.stop()
    accuracy = feedback_accuracy(records)
    st.caption(
        f"Over the newest {len(records)} predictions"
        + (f" of source {client.SOURCES[source]}" if source else "")
        + " (the source filter applies here; digit and status do not)."
    )
    metrics = st.columns(4)
    metrics[0].metric("Predictions", len(records))
    metrics[1].metric("Succeeded", accuracy.predictions)
    metrics[2].metric("Corrected by users", accuracy.corrected)
    metrics[3].metric(
        "Accuracy implied by feedback",
        "–" if accuracy.implied_accuracy is None else f"{accuracy.implied_accuracy:.1%}",
        help="Every prediction nobody corrected counts as right. Among the "
        f"{accuracy.with_feedback} predictions people judged, "
        + ("none" if accuracy.judged_accuracy is None else f"{accuracy.judged_accuracy:.0%}")
        + " were right (people mostly report mistakes).",
    )
    hist_col, digits_col = st.columns(2)
    with hist_col:
        st.markdown("**Confidence**")
        st.bar_chart(confidence_histogram(records), x="confidence", y="predictions", height=240)
    with digits_col:
        st.markdown("**Predicted digit**")
        st.bar_chart(digit_counts(records), x="digit", y="predictions", height=240)
