"""A one-page Streamlit dashboard: a table and a chart of made-up sales."""

import pandas as pd
import streamlit as st

st.title("Sales dashboard")
sales = pd.DataFrame({"month": range(1, 13), "sales": [250 + 12.5 * m for m in range(1, 13)]})
st.metric("Total sales", f"{sales['sales'].sum():.0f}")
st.line_chart(sales, x="month", y="sales")
st.dataframe(sales)
