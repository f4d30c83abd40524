"""ANSI colours in task logs (X2): SGR sequences become ``<span>``s; everything else is HTML-escaped.

Only SGR (``ESC [ … m``) is interpreted: bold, dim, italic, underline, the 8 + 8 bright colours
(classes ``ansi-fg-N`` / ``ansi-bg-N``, styled by ``runs/_styles.html``), 256 colours and true colour
(an inline ``color`` we compute from validated numbers, never from the log). Other escape sequences
(cursor movement, erase line, OSC titles …) and control characters are dropped.

A log arrives in pieces, so a colour may start in one piece and continue in the next: ``to_html`` takes
the style in effect before the text and returns the style in effect after it, as a short SGR code
string (``"1;31"``) that a page can carry to its next request.
"""

from __future__ import annotations

import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

_ESCAPES = re.compile(
    r"\x1b\[([0-9;:]*)m"  # SGR (group 1)
    r"|\x1b\[[0-?]*[ -/]*[@-~]"  # other CSI
    r"|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?"  # OSC
    r"|\x1b[@-Z\\-_]?"  # other two-character escapes, or a lone ESC
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]|\r(?!\n)")
_STATE_RE = re.compile(r"^[0-9;]{0,60}$")
_CUBE = (0, 95, 135, 175, 215, 255)


def _palette_256(n: int) -> str:
    if n < 232:
        n -= 16
        return _hex(_CUBE[n // 36], _CUBE[(n // 6) % 6], _CUBE[n % 6])
    grey = 8 + (n - 232) * 10
    return _hex(grey, grey, grey)


def _hex(r: int, g: int, b: int) -> str:
    return f"#{r:02x}{g:02x}{b:02x}"


class Style:
    """The SGR attributes in effect."""

    __slots__ = ("bold", "dim", "italic", "underline", "fg", "bg")

    def __init__(self):
        self.bold = self.dim = self.italic = self.underline = False
        self.fg: tuple | None = None  # ("n", 0..15) | ("256", 16..255) | ("rgb", r, g, b)
        self.bg: tuple | None = None

    def apply(self, params: str) -> None:
        parts = re.split("[;:]", params) if params else [""]
        codes = [int(p) if p.isdigit() and len(p) <= 3 else (0 if p == "" else -1) for p in parts]
        i = 0
        while i < len(codes):
            code = codes[i]
            i += 1
            if code == 0:
                self.__init__()
            elif code in (1, 2, 3, 4):
                setattr(self, ("bold", "dim", "italic", "underline")[code - 1], True)
            elif code == 22:
                self.bold = self.dim = False
            elif code == 23:
                self.italic = False
            elif code == 24:
                self.underline = False
            elif 30 <= code <= 37 or 90 <= code <= 97:
                self.fg = ("n", code - 30 if code < 90 else code - 82)
            elif 40 <= code <= 47 or 100 <= code <= 107:
                self.bg = ("n", code - 40 if code < 100 else code - 92)
            elif code == 39:
                self.fg = None
            elif code == 49:
                self.bg = None
            elif code in (38, 48):
                colour, i = _extended(codes, i)
                if colour is not None:
                    setattr(self, "fg" if code == 38 else "bg", colour)

    def codes(self) -> str:
        out = [str(n) for n, on in ((1, self.bold), (2, self.dim), (3, self.italic), (4, self.underline)) if on]
        for base, colour in ((38, self.fg), (48, self.bg)):
            if colour is None:
                continue
            if colour[0] == "n":
                n = colour[1]
                out.append(str((base - 8 if n < 8 else base + 52) + n % 8))
            elif colour[0] == "256":
                out.append(f"{base};5;{colour[1]}")
            else:
                out.append(f"{base};2;{colour[1]};{colour[2]};{colour[3]}")
        return ";".join(out)

    def open_tag(self) -> str:
        classes = [f"ansi-{name}" for name in ("bold", "dim", "italic", "underline") if getattr(self, name)]
        styles = []
        for prop, kind, colour in (("color", "fg", self.fg), ("background-color", "bg", self.bg)):
            if colour is None:
                continue
            if colour[0] == "n":
                classes.append(f"ansi-{kind}-{colour[1]}")
            elif colour[0] == "256":
                n = colour[1]
                styles.append(f"{prop}:{_palette_256(n)}")
            else:
                styles.append(f"{prop}:{_hex(*colour[1:])}")
        if not classes and not styles:
            return ""
        attrs = f' class="{" ".join(classes)}"' if classes else ""
        attrs += f' style="{";".join(styles)}"' if styles else ""
        return f"<span{attrs}>"


def _extended(codes: list[int], i: int) -> tuple[tuple | None, int]:
    """``38;5;n`` or ``38;2;r;g;b`` after the 38/48 at ``codes[i - 1]``."""
    if i < len(codes) and codes[i] == 5 and i + 1 < len(codes):
        n = codes[i + 1]
        if 0 <= n <= 15:
            return ("n", n), i + 2
        return (("256", n) if 16 <= n <= 255 else None), i + 2
    if i < len(codes) and codes[i] == 2 and i + 3 < len(codes):
        rgb = codes[i + 1 : i + 4]
        return (("rgb", *rgb) if all(0 <= c <= 255 for c in rgb) else None), i + 4
    return None, len(codes)


def to_html(text: str, state: str = "") -> tuple[SafeString, str]:
    """``text`` as safe HTML with colour spans, and the SGR state after it (see the module docstring)."""
    style = Style()
    if state and _STATE_RE.match(state):
        style.apply(state)
    text = text.replace("\r\n", "\n")
    out: list[str] = []
    pos = 0

    def emit(piece: str) -> None:
        piece = _CONTROL.sub("", piece)
        if not piece:
            return
        tag = style.open_tag()
        out.append(f"{tag}{escape(piece)}</span>" if tag else escape(piece))

    for match in _ESCAPES.finditer(text):
        emit(text[pos : match.start()])
        pos = match.end()
        if match.group(1) is not None:
            style.apply(match.group(1))
    emit(text[pos:])
    return mark_safe("".join(out)), style.codes()  # noqa: S308 — every piece of log text is escaped above


def render(text: str) -> SafeString:
    """The whole of ``text`` as HTML."""
    return to_html(text)[0]


def plain(text: str) -> str:
    """Plain text without escape sequences (for downloads that ask for it)."""
    return _CONTROL.sub("", _ESCAPES.sub("", text.replace("\r\n", "\n")))
