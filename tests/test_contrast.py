"""WCAG AA contrast of the stylesheet's colours (issue 16's design pass), computed from the
custom properties outbound.css defines: every text/background pair the components use reaches
4.5:1, focus rings and field borders 3:1 against what they sit on. Colours are only set through
those properties, so the pairs checked here are the pairs shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = Path(__file__).parent.parent / "src" / "outbound" / "web" / "static" / "outbound.css"


def design_css() -> str:
    """The shared components: everything above the helpers' own blocks ("/* == … == */")."""
    text = CSS.read_text()
    return text.split("/* ==", 1)[0]


def variables() -> dict[str, str]:
    root = re.search(r":root\{(.*?)\}", design_css(), re.S)
    assert root, "outbound.css defines its colours in :root"
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{3,6})", root.group(1)))


def luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    channels = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def ratio(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


# (text, background): what the components put on what.
TEXT_PAIRS = [
    ("ink", "bg"),
    ("ink", "card"),
    ("muted", "card"),
    ("muted", "bg"),
    ("greyed", "card"),
    ("accent", "card"),  # links, link buttons
    ("accent", "bg"),
    ("accent-ink", "accent"),  # primary buttons
    ("ink", "accent-soft"),  # secondary buttons, plain badges
    ("danger-ink", "bad"),  # danger buttons
    ("bad", "card"),  # field errors, figures that failed
    ("ok", "card"),
    ("warn", "card"),
    ("ok", "ok-bg"),  # badges and banner labels
    ("warn", "warn-bg"),
    ("bad", "bad-bg"),
    ("info", "info-bg"),
    ("ink", "ok-bg"),  # banner text
    ("ink", "warn-bg"),
    ("ink", "bad-bg"),
    ("ink", "info-bg"),
    ("accent", "ok-bg"),  # links inside banners
    ("accent", "warn-bg"),
    ("accent", "bad-bg"),
    ("accent", "info-bg"),
]
# (component edge, what it sits on): 3:1 for non-text contrast (WCAG 1.4.11).
EDGE_PAIRS = [
    ("focus", "card"),
    ("focus", "bg"),
    ("focus", "accent-soft"),
    ("focus", "bad-bg"),
    ("field-line", "card"),
]


@pytest.mark.parametrize(("text", "background"), TEXT_PAIRS)
def test_text_reaches_aa_contrast(text: str, background: str) -> None:
    colours = variables()
    got = ratio(colours[text], colours[background])
    assert got >= 4.5, f"--{text} on --{background}: {got:.2f}:1, AA needs 4.5:1"


@pytest.mark.parametrize(("edge", "background"), EDGE_PAIRS)
def test_focus_rings_and_fields_stand_out(edge: str, background: str) -> None:
    colours = variables()
    got = ratio(colours[edge], colours[background])
    assert got >= 3.0, f"--{edge} on --{background}: {got:.2f}:1, needs 3:1"


def test_components_use_only_the_checked_colours() -> None:
    """No colour literal outside :root, and every var() the components use is defined."""
    css = design_css()
    body = re.sub(r":root\{.*?\}", "", css, count=1, flags=re.S)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    assert re.findall(r"#[0-9a-fA-F]{3,6}\b", body) == []
    defined = set(re.findall(r"--([\w-]+):", css))
    used = set(re.findall(r"var\(--([\w-]+)\)", body))
    assert used - defined == set()


def test_the_ratio_is_wcags() -> None:
    assert ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
