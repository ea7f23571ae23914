"""Bulk data out: streaming CSV and Parquet exports of readings and rollups, and the park's
data catalogue (what each dataset holds, its units, its rhythm, where to get it)."""
