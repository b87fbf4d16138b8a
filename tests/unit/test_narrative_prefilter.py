"""The containment test `Renderer.narrative` runs before compiling a value stream's name pattern
must never skip a page the pattern would match."""
from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from flowsite.render import _CASELESS_ASCII

NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ -'&0123456789", min_size=1, max_size=8)
TEXT = st.text(alphabet=st.sampled_from(list("aiksIKS -'&09") + ["\u0130", "\u0131", "\u017f", "\u212a", "é", "ß", "\u1e9e"]), max_size=30)


@settings(max_examples=300, deadline=None)
@given(NAME, TEXT, TEXT)
def test_an_ascii_name_the_pattern_finds_is_contained_in_the_folded_text(name: str, before: str, after: str):
    # The text around a case variant of the name, with the letters re.I matches to ASCII ones mixed in.
    variant = "".join({"i": "\u0131", "s": "\u017f", "k": "\u212a", "I": "\u0130"}.get(c, c.swapcase()) for c in name)
    for text in (before + variant + after, before + name + after, before + after):
        if re.search(r"\b" + re.escape(name) + r"\b", text, re.I):
            assert name.lower() in text.translate(_CASELESS_ASCII).lower()
