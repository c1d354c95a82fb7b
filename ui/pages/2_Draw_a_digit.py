"""Draw a digit with the mouse (or a finger) and predict it through POST /predict."""

import hashlib

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from ui import client
from ui.components import outcome_panel, page_header

CANVAS_PX = 280  # 10x MNIST's 28 px: strokes of 15-25 px end up about as thick as MNIST's pen

page_header(
    "Draw a digit",
    "Draw one digit (or a few side by side) in the box. The drawing is sent as a PNG to POST /predict, "
    "exactly like an uploaded image.",
)

state = st.session_state
state.setdefault("canvas_generation", 0)

draw_col, result_col = st.columns([2, 3], gap="large")
with draw_col:
    stroke = st.slider("Pen width", min_value=8, max_value=40, value=20, step=1)
    canvas = st_canvas(
        stroke_width=stroke,
        stroke_color="#FFFFFF",
        background_color="#000000",
        width=CANVAS_PX,
        height=CANVAS_PX,
        drawing_mode="freedraw",
        return_image_data=True,
        # A new key is a new, empty canvas: that is how "Clear" works.
        key=f"canvas-{state.canvas_generation}",
    )
    live = st.toggle("Predict as I draw", value=False, help="a prediction after every stroke")
    predict_col, clear_col = st.columns(2)
    predict_clicked = predict_col.button("Predict", type="primary", width="stretch")
    if clear_col.button("Clear", width="stretch"):
        state.canvas_generation += 1
        state.pop("draw_outcome", None)
        state.pop("draw_hash", None)
        st.rerun()

png = canvas.image_bytes
fingerprint = hashlib.sha1(png).hexdigest() if png else None
if png and (predict_clicked or (live and fingerprint != state.get("draw_hash"))):
    with result_col, st.spinner("asking the model…"):
        state.draw_outcome = client.predict_file("Your drawing", png, "image/png", "api")
    state.draw_hash = fingerprint
elif predict_clicked:
    result_col.info("Draw a digit first.")

with result_col:
    if "draw_outcome" in state:
        outcome_panel(state.draw_outcome, key=f"draw-{state.canvas_generation}-{state.draw_hash}")
    else:
        st.markdown("#### ← draw here")
        st.caption(
            "White on black, like the MNIST digits the model learnt from. The panel shows the digit, "
            "the model's confidence in each class and the 28×28 image it actually saw."
        )
