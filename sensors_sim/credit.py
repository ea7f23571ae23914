"""Valid-looking 统一社会信用代码 (GB 32100-2015) for generated firms.

Registration authority 9 (工商), category 1 (企业), a 6-digit division, a 9-character
organisation code (GB 11714: eight digits and their check character) and the GB 32100 check
character, computed by app.assets.credit_code (which validates them).
"""

from __future__ import annotations

import random

from app.assets.credit_code import check_character

ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def organisation_check(digits: str) -> str:
    """GB 11714 check character of an 8-digit organisation code body."""
    total = sum(int(d) * w for d, w in zip(digits, ORG_WEIGHTS, strict=True))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def make_credit_code(division: str, rng: random.Random) -> str:
    digits = f"{rng.randint(10_000_000, 99_999_999)}"
    body = f"91{division}{digits}{organisation_check(digits)}"
    return body + check_character(body)
