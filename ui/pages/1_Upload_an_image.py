"""Upload one or more images and predict them through the instant path or the event-driven path."""

import streamlit as st

from ui import client
from ui.components import outcome_panel, page_header

page_header(
    "Upload an image",
    "PNG, JPEG, WebP, GIF, BMP or TIFF. A photo or a scan works too: the digit is found, cropped and "
    "centred the way MNIST digits are; several digits in a row are read left to right.",
)

PATHS = {
    "Instant: POST /predict": "api",
    "Event-driven: S3 inbox → trigger → DynamoDB": "s3",
}

path_label = st.radio(
    "How to send it",
    list(PATHS),
    horizontal=True,
    help="Instant: the API calls the model within the request. Event-driven: the file is put into the "
    "inbox bucket; its upload event triggers the S3 handler, and this page shows the result as soon as "
    "the handler has written it to DynamoDB.",
)
files = st.file_uploader(
    "Images",
    type=list(client.UPLOAD_EXTENSIONS),
    accept_multiple_files=True,
    help=f"up to {client.MAX_UPLOAD_BYTES / 1e6:.0f} MB each",
)

if st.button("Predict", type="primary", disabled=not files):
    path = PATHS[path_label]
    outcomes = []
    for file in files:
        waiting = "calling the API" if path == "api" else "uploaded to the inbox, waiting for the S3 trigger"
        with st.spinner(f"{file.name}: {waiting}…"):
            outcomes.append(client.predict_file(file.name, file.getvalue(), file.type, path))
    # Kept in session state: the panels (and their correction controls) survive the reruns they cause.
    st.session_state["upload_outcomes"] = outcomes

for index, outcome in enumerate(st.session_state.get("upload_outcomes", [])):
    outcome_panel(outcome, key=f"upload-{index}")
