"""The alert store's JSON text is the standard encoder's compact, non-ASCII-keeping text,
whichever encoder wrote it (orjson, or the standard one for what orjson refuses)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from iocd.store.alert_rows import json_text

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.text(),  # any code point, lone surrogates and control characters included
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(json_values)
def test_the_text_is_the_standard_compact_text(value: Any) -> None:
    assert json_text(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))
