"""统一社会信用代码 (unified social credit code), GB 32100-2015: shape and check character.

Eighteen characters from a 31-character alphabet (digits and capital letters without I, O, Z,
S, V): registration authority (1), entity category (1), administrative division (6), the
entity's identifier (9, the GB 11714 organisation code) and a check character (1). Character
``i`` (1-based, of the first 17) has the weight 3^(i-1) mod 31; the check character's value is
``31 - (Σ value × weight mod 31)``, with 31 written as ``0``.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The code's characters, in the order of their values 0..30."""

LENGTH = 18
MODULUS = 31
WEIGHTS = tuple(pow(3, i, MODULUS) for i in range(LENGTH - 1))
"""1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28."""

VALUES = {char: value for value, char in enumerate(ALPHABET)}


class CreditCodeError(ValueError):
    """Why a string is not a valid 统一社会信用代码 (the message says which rule failed)."""


def normalize(code: str) -> str:
    """Surrounding spaces removed, letters in capitals (the only case the standard uses)."""
    return code.strip().upper()


def check_character(body: str) -> str:
    """The check character of the first 17 characters of a code."""
    if len(body) != LENGTH - 1:
        raise CreditCodeError(f"need {LENGTH - 1} characters to compute a check, got {len(body)}")
    _check_alphabet(body)
    total = sum(VALUES[char] * weight for char, weight in zip(body, WEIGHTS, strict=True))
    return ALPHABET[(MODULUS - total % MODULUS) % MODULUS]


def _check_alphabet(code: str) -> None:
    for position, char in enumerate(code, start=1):
        if char not in VALUES:
            raise CreditCodeError(
                f"character {position} ({char!r}) is not allowed: use digits and capital "
                "letters other than I, O, Z, S and V"
            )


def validate(code: str) -> str:
    """The normalised code, or CreditCodeError naming the rule it breaks."""
    code = normalize(code)
    if len(code) != LENGTH:
        raise CreditCodeError(f"must be {LENGTH} characters long, got {len(code)}")
    _check_alphabet(code)
    expected = check_character(code[:-1])
    if code[-1] != expected:
        raise CreditCodeError(
            f"check character is {code[-1]!r} but the first 17 characters give {expected!r}"
        )
    return code


def is_valid(code: str) -> bool:
    try:
        validate(code)
    except CreditCodeError:
        return False
    return True
