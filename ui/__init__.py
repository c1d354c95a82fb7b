"""The Streamlit UI (``streamlit run ui/Home.py``): Home, image upload, draw a digit, history.

Pages hold layout only; :mod:`ui.client` holds every call to the API and to AWS.
"""
