"""Reading exported files back: PDF text (poppler's pdftotext) and a page as PNG (pdftoppm)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def pdf_text(body: bytes, tmp_path: Path) -> str:
    """The PDF's text as pdftotext extracts it (skips when poppler-utils is not installed)."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    source = tmp_path / "report.pdf"
    source.write_bytes(body)
    done = subprocess.run(
        ["pdftotext", "-layout", str(source), "-"], capture_output=True, check=True, timeout=60
    )
    return done.stdout.decode()


def first_page_png(body: bytes, tmp_path: Path) -> Path:
    """Page 1 at 60 dpi as a PNG (for a look with an image viewer)."""
    source = tmp_path / "page.pdf"
    source.write_bytes(body)
    prefix = tmp_path / "page"
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(source),
                    str(prefix)], check=True, timeout=60)  # fmt: skip
    return next(tmp_path.glob("page*.png"))
