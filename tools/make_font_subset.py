"""Build casekit's bundled CJK font: a renamed subset of Noto Sans CJK SC Regular.

Run from the repository root (development only; fontTools ships with matplotlib)::

    python tools/make_font_subset.py [--source /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc]

The source is Debian's ``fonts-noto-cjk`` collection (``apt-get install fonts-noto-cjk``), face
"Noto Sans CJK SC" (face index 2 in the collection; looked up by name, not by index). The subset
keeps:

- ASCII and Latin-1 (U+0020-U+007E, U+00A0-U+00FF);
- General Punctuation (U+2000-U+206F), a few arrows and maths signs used in labels, and
  U+2212 MINUS SIGN (matplotlib's default minus);
- CJK Symbols and Punctuation (U+3000-U+303F) and Halfwidth and Fullwidth Forms (U+FF00-U+FFEF);
- every character of GB 2312 (the 6,763 hanzi of levels 1 and 2 plus the symbol rows), enumerated
  by decoding every GB 2312 byte pair;
- every non-ASCII character that appears in casekit's sources (``casekit/**/*.py``), its report
  template and the notebooks (``.py`` and ``.ipynb`` cell sources), so the kit's own vocabularies
  and texts always render; re-run this script after adding Chinese labels.

The family is renamed "Casekit CJK SC" because the SIL Open Font License 1.1 asks modified
versions not to use the original's primary font name. The output is deterministic for a given
source font, fontTools version and repository content (the head table's timestamps are kept from
the source).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
SOURCE_FACE = "Noto Sans CJK SC"
FAMILY = "Casekit CJK SC"
POSTSCRIPT = "CasekitCJKSC-Regular"
OUT = ROOT / "casekit" / "fonts" / "CasekitCJKSC-Regular.otf"

RANGES = [
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1 Supplement
    (0x2000, 0x206F),  # General Punctuation
    (0x2190, 0x2193),  # arrows used in "A→B→A" labels
    (0x21C4, 0x21C4),  # ⇄ (hand-over both ways)
    (0x2212, 0x2212),  # MINUS SIGN (axes.unicode_minus)
    (0x2264, 0x2265),  # ≤ ≥
    (0x3000, 0x303F),  # CJK Symbols and Punctuation
    (0xFF00, 0xFFEF),  # Halfwidth and Fullwidth Forms
]


def gb2312_characters() -> tuple[set[int], set[int]]:
    """Return (hanzi, symbols): code points of every GB 2312 character, by decoding byte pairs."""
    hanzi: set[int] = set()
    symbols: set[int] = set()
    for lead in range(0xA1, 0xF8):
        for trail in range(0xA1, 0xFF):
            try:
                char = bytes((lead, trail)).decode("gb2312")
            except UnicodeDecodeError:
                continue
            (hanzi if lead >= 0xB0 else symbols).add(ord(char))
    return hanzi, symbols


SOURCE_PATTERNS = (
    "casekit/**/*.py",
    "casekit/templates/*.ipynb",
    "notebooks/**/*.py",
    "notebooks/**/*.ipynb",
)


def _text_of(path: Path) -> str:
    text = path.read_text(encoding="utf-8", errors="ignore")
    if path.suffix == ".ipynb":  # cell sources, whatever escaping the JSON uses
        try:
            cells = json.loads(text).get("cells", [])
        except ValueError:
            return text
        return "\n".join("".join(cell.get("source", "")) for cell in cells)
    return text


def repository_characters(root: Path = ROOT) -> set[int]:
    """Return every non-ASCII code point used in casekit's sources, templates and notebooks."""
    found: set[int] = set()
    for pattern in SOURCE_PATTERNS:
        for path in sorted(root.glob(pattern)):
            if ".ipynb_checkpoints" in path.parts:
                continue
            found.update(ord(c) for c in _text_of(path) if ord(c) > 0x7F and c.isprintable())
    return found


def wanted_unicodes(root: Path = ROOT) -> tuple[set[int], dict[str, int]]:
    """Return the set of code points to keep and a count per source."""
    ranges = {cp for lo, hi in RANGES for cp in range(lo, hi + 1)}
    hanzi, symbols = gb2312_characters()
    repo = repository_characters(root)
    counts = {
        "ranges": len(ranges),
        "gb2312_hanzi": len(hanzi),
        "gb2312_symbols": len(symbols),
        "repository": len(repo),
    }
    return ranges | hanzi | symbols | repo, counts


def load_face(source: Path, face: str = SOURCE_FACE) -> TTFont:
    """Load the face called ``face`` from a .ttc collection (or a single .otf/.ttf)."""
    if source.suffix.lower() in {".ttc", ".otc"}:
        for number, font in enumerate(TTCollection(str(source), lazy=True).fonts):
            if font["name"].getDebugName(1) == face:
                return TTFont(str(source), fontNumber=number, recalcTimestamp=False)
        raise SystemExit(f"{source}: no face named {face!r}")
    return TTFont(str(source), recalcTimestamp=False)


def rename(font: TTFont) -> None:
    """Give the subset its own family name (OFL 1.1 condition 3) and record the modification."""
    name = font["name"]
    original_version = name.getDebugName(5) or ""
    values = {
        1: FAMILY,
        3: f"{POSTSCRIPT};casekit subset of Noto Sans CJK SC {original_version}",
        4: FAMILY,
        6: POSTSCRIPT,
        16: FAMILY,
        17: "Regular",
    }
    for record in list(name.names):
        if record.nameID in values:
            name.removeNames(nameID=record.nameID)
    for name_id, value in values.items():
        name.setName(value, name_id, 3, 1, 0x409)
        name.setName(value, name_id, 1, 0, 0)
    description = (
        "Subset of Noto Sans CJK SC (Adobe/Google, SIL OFL 1.1) made for casekit by "
        "tools/make_font_subset.py; renamed because it is a Modified Version."
    )
    name.setName(description, 10, 3, 1, 0x409)
    if "CFF " in font:
        cff = font["CFF "].cff
        cff.fontNames = [POSTSCRIPT]
        top = cff.topDictIndex[0]
        for attr, value in (("FullName", FAMILY), ("FamilyName", FAMILY)):
            if hasattr(top, attr):
                setattr(top, attr, value)
        if hasattr(top, "CIDFontName"):
            top.CIDFontName = POSTSCRIPT


def build(source: Path, out: Path, root: Path = ROOT) -> dict[str, object]:
    """Subset ``source`` into ``out`` and return a summary."""
    unicodes, counts = wanted_unicodes(root)
    font = load_face(source)
    cmap = font.getBestCmap()
    missing = sorted(cp for cp in unicodes if cp not in cmap)
    keep = sorted(cp for cp in unicodes if cp in cmap)
    options = subset.Options()
    options.layout_features = ["*"]  # keep shaping features (locl, vert, ...) for kept glyphs
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False  # CFF hints are not used by matplotlib's rasteriser; saves space
    options.desubroutinize = False
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(unicodes=keep)
    subsetter.subset(font)
    rename(font)
    out.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(out))
    data = out.read_bytes()
    return {
        **counts,
        "kept": len(keep),
        "not_in_source": [f"U+{cp:04X}" for cp in missing if cp > 0xFF][:20],
        "n_not_in_source": len(missing),
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "out": str(out.relative_to(root)) if out.is_relative_to(root) else str(out),
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if not args.source.exists():
        print(f"{args.source} not found: apt-get install fonts-noto-cjk", file=sys.stderr)
        return 2
    summary = build(args.source, args.out)
    for key, value in summary.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
