"""GB/T 4754-2017 国民经济行业分类: the section (门类, a letter) of an industry code.

An enterprise's ``industry_code`` is a section letter, or a 2-4 digit class whose first two
digits (大类) fall in one section, optionally prefixed with its letter. This is the standard's
structure, not a tunable figure.
"""

from __future__ import annotations

SECTIONS: tuple[tuple[int, int, str], ...] = (
    (1, 5, "A"),
    (6, 12, "B"),
    (13, 43, "C"),
    (44, 46, "D"),
    (47, 50, "E"),
    (51, 52, "F"),
    (53, 60, "G"),
    (61, 62, "H"),
    (63, 65, "I"),
    (66, 69, "J"),
    (70, 70, "K"),
    (71, 72, "L"),
    (73, 75, "M"),
    (76, 79, "N"),
    (80, 82, "O"),
    (83, 83, "P"),
    (84, 85, "Q"),
    (86, 90, "R"),
    (91, 96, "S"),
    (97, 97, "T"),
)
"""(first 大类, last 大类, 门类) of every section."""

NAMES = {
    "A": "农、林、牧、渔业",
    "B": "采矿业",
    "C": "制造业",
    "D": "电力、热力、燃气及水生产和供应业",
    "E": "建筑业",
    "F": "批发和零售业",
    "G": "交通运输、仓储和邮政业",
    "H": "住宿和餐饮业",
    "I": "信息传输、软件和信息技术服务业",
    "J": "金融业",
    "K": "房地产业",
    "L": "租赁和商务服务业",
    "M": "科学研究和技术服务业",
    "N": "水利、环境和公共设施管理业",
    "O": "居民服务、修理和其他服务业",
    "P": "教育",
    "Q": "卫生和社会工作",
    "R": "文化、体育和娱乐业",
    "S": "公共管理、社会保障和社会组织",
    "T": "国际组织",
}


def section(code: str | None) -> str | None:
    """The section letter of ``code`` (None when unknown or absent)."""
    if not code:
        return None
    if code[0].isalpha():
        return code[0].upper()
    if len(code) < 2 or not code[:2].isdigit():
        return None
    division = int(code[:2])
    for first, last, letter in SECTIONS:
        if first <= division <= last:
            return letter
    return None


def sql_ranges() -> dict[str, list[int] | list[str]]:
    """The table as three arrays, for ``unnest`` in SQL."""
    return {
        "sec_lo": [s[0] for s in SECTIONS],
        "sec_hi": [s[1] for s in SECTIONS],
        "sec_letter": [s[2] for s in SECTIONS],
    }
