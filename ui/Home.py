"""Home: what the service does, whether its parts are up, and today's traffic."""

import streamlit as st

from ui import client
from ui.components import page_header, pipeline_diagram

page_header(
    "Digit recognition",
    "A PyTorch CNN on a SageMaker endpoint, behind an AWS Chalice API and an S3 upload trigger; "
    "every prediction is recorded in DynamoDB and S3.",
)

st.markdown(
    """
Send a picture of a handwritten digit (or a few digits in a row) and get back the digit, the model's
confidence in each of the ten classes, and the 28×28 image the model actually looked at.
Two ways in, both recorded the same way:

- **instant**: `POST /predict` on the API answers within the request;
- **event-driven**: drop the image into the S3 inbox bucket; the upload event triggers a Lambda that
  calls the same endpoint and writes the result to DynamoDB.
"""
)

links = st.columns(3)
links[0].page_link("pages/1_Upload_an_image.py", label="Upload an image", icon=":material/upload:")
links[1].page_link("pages/2_Draw_a_digit.py", label="Draw a digit", icon=":material/draw:")
links[2].page_link("pages/3_History.py", label="History", icon=":material/history:")

config = client.config()
checks = client.system_status()
st.graphviz_chart(pipeline_diagram({check.name: check.ok for check in checks}))
st.caption("green: answered just now; red: did not answer; grey: not checked from here")

status_col, counts_col = st.columns([3, 2], gap="large")

with status_col:
    st.subheader("Status")
    for check in checks:
        st.markdown(f"{':green-badge[up]' if check.ok else ':red-badge[down]'} **{check.name}**: {check.detail}")
    st.caption(f"stage `{config.stage}`, region `{config.region}`")
    if st.button("Refresh"):
        st.rerun()

with counts_col:
    st.subheader("Predictions today")
    try:
        [today] = client.daily_counts(1)
    except client.Failure as exc:
        st.warning(f"Counts unavailable: {exc.message}")
    else:
        api_col, s3_col = st.columns(2)
        api_col.metric("instant (API)", today["api"])
        s3_col.metric("event-driven (S3)", today["s3"])
        st.caption("since midnight UTC (GET /stats)")
