"""vaegan demo - home page (placeholder until the app issue lands)."""

import streamlit as st

st.set_page_config(page_title="vaegan", page_icon="🧪", layout="wide")
st.title("vaegan")
st.write("VAEs and GANs you can train, measure and poke at.")
