"""统一社会信用代码 (GB 32100-2015): valid codes, a wrong check character, a wrong length."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.assets.credit_code import (
    ALPHABET,
    WEIGHTS,
    CreditCodeError,
    check_character,
    is_valid,
    validate,
)

VALID = [
    "91350100M000100Y43",  # the standard's own example
    "91110000802100433B",
    "91440300708461136T",
    "9144030071526726XG",
]


def test_weights_are_powers_of_three_mod_31() -> None:
    assert WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    assert len(ALPHABET) == 31 and not set("IOZSV") & set(ALPHABET)


@pytest.mark.parametrize("code", VALID)
def test_valid_codes_pass(code: str) -> None:
    assert validate(code) == code
    assert is_valid(code)


def test_lower_case_and_spaces_are_normalised() -> None:
    assert validate("  91350100m000100y43 ") == "91350100M000100Y43"


@pytest.mark.parametrize("code", VALID)
def test_every_wrong_check_character_is_refused(code: str) -> None:
    for char in ALPHABET:
        if char == code[-1]:
            continue
        with pytest.raises(CreditCodeError, match="check character"):
            validate(code[:-1] + char)


def test_a_changed_body_character_is_caught() -> None:
    with pytest.raises(CreditCodeError, match=r"check character is '3' but .* give '6'"):
        validate("91350100M000100Y53")


@pytest.mark.parametrize(
    ("code", "length"),
    [("", 0), ("91350100M000100Y4", 17), ("91350100M000100Y433", 19), ("9135", 4)],
)
def test_wrong_lengths_are_refused(code: str, length: int) -> None:
    with pytest.raises(CreditCodeError, match=f"must be 18 characters long, got {length}"):
        validate(code)
    assert not is_valid(code)


@pytest.mark.parametrize("bad", ["I", "O", "Z", "S", "V", "-", "中"])
def test_characters_outside_the_alphabet_are_refused(bad: str) -> None:
    with pytest.raises(CreditCodeError, match=r"character 9 .* is not allowed"):
        validate("91350100" + bad + "000100Y43")


@given(st.text(alphabet=ALPHABET, min_size=17, max_size=17))
def test_any_body_with_its_check_character_is_valid(body: str) -> None:
    code = body + check_character(body)
    assert is_valid(code)


@given(
    st.text(alphabet=ALPHABET, min_size=17, max_size=17),
    st.integers(0, 16),
    st.integers(1, 30),
)
def test_any_single_substitution_is_detected(body: str, position: int, shift: int) -> None:
    """Mod 31 with weights prime to 31: changing one character always changes the check."""
    code = body + check_character(body)
    changed = ALPHABET[(ALPHABET.index(body[position]) + shift) % 31]
    altered = code[:position] + changed + code[position + 1 :]
    assert not is_valid(altered)
