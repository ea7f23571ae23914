"""Files for officials: the one owner of CSV, XLSX and PDF writing (tables.py, pdf.py)."""
