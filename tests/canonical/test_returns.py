"""Return lines carry the serials of the units coming back: at most one per unit, each once."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from canonical import ReturnLine


def test_a_return_line_carries_serials_up_to_its_quantity() -> None:
    assert ReturnLine(line_id="l1", quantity=2).serials == []
    assert ReturnLine(line_id="l1", quantity=2, serials=["SN-1"]).serials == ["SN-1"]
    assert ReturnLine(line_id="l1", quantity=2, serials=["SN-1", "SN-2"]).serials == [
        "SN-1",
        "SN-2",
    ]


@pytest.mark.parametrize(
    ("serials", "message"),
    [
        (["SN-1", "SN-2", "SN-3"], "serials: 3 serials for a return of quantity 2"),
        (["SN-1", "SN-1"], "serials: a serial number appears twice in one line"),
        ([""], "at least 1 character"),
        (["S" * 129], "at most 128 characters"),
    ],
)
def test_a_return_line_refuses_serials_that_cannot_be_its_units(
    serials: list[str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        ReturnLine(line_id="l1", quantity=2, serials=serials)
