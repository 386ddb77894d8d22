"""The Public Suffix List's own test vectors (checkPublicSuffix) against domains.names."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import idna
import pytest

from domains.names import is_public_suffix, organizational_domain, registrable_domain

VECTORS = Path(__file__).parent / "data" / "test_psl.main.txt"
_CALL = re.compile(r"^checkPublicSuffix\((.*), (.*)\);$")


def _vectors() -> list[tuple[str | None, str | None]]:
    found = []
    for line in VECTORS.read_text(encoding="utf-8").splitlines():
        match = _CALL.match(line.strip())
        if match:
            found.append(tuple(None if arg == "null" else ast.literal_eval(arg) for arg in match.groups()))
    return found


VECTOR_CASES = _vectors()


def test_the_vector_file_is_all_there() -> None:
    assert len(VECTOR_CASES) == 78


@pytest.mark.parametrize(("name", "expected"), VECTOR_CASES, ids=[str(v[0]) for v in VECTOR_CASES])
def test_it_finds_the_registrable_domain_of_every_psl_vector(name: str | None, expected: str | None) -> None:
    assert registrable_domain(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [(n, e) for n, e in VECTOR_CASES if n and not n.isascii()],
)
def test_it_gives_the_same_answer_for_the_a_label_form(name: str, expected: str | None) -> None:
    a_label = idna.encode(name, uts46=True).decode()
    expected_a = idna.encode(expected, uts46=True).decode() if expected else None
    assert registrable_domain(a_label) == expected_a


def test_organizational_domain_is_the_registrable_domain() -> None:
    assert organizational_domain("mail.example.co.uk") == "example.co.uk"
    assert organizational_domain("a.b.c.example.com.") == "example.com"
    assert organizational_domain("Example.COM") == "example.com"


def test_organizational_domain_of_a_suffix_is_itself() -> None:
    assert organizational_domain("co.uk") == "co.uk"


@pytest.mark.parametrize("name", ["com", "co.uk", "github.io", "uk.com", "kyoto.jp", "xn--55qx5d.cn"])
def test_it_knows_public_suffixes(name: str) -> None:
    assert is_public_suffix(name) is True


@pytest.mark.parametrize("name", ["example.com", "example.co.uk", "someone.github.io", "mailsetup.test"])
def test_it_knows_registrable_names_are_not_public_suffixes(name: str) -> None:
    assert is_public_suffix(name) is False
