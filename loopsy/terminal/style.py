"""Cell styles (the SGR pen): colours, attributes, parsing SGR parameters, writing SGR.

A :class:`Style` is an immutable tuple so equal styles hash and compare at C speed and
rows can hold references to a handful of shared objects instead of one object per cell.
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypeAlias

#: ``None`` is the terminal's default colour; an ``int`` is a palette index (0-7 the ANSI
#: colours, 8-15 their bright forms, 16-255 the xterm 256-colour cube and greys); a
#: 3-tuple is 24-bit RGB.
Color: TypeAlias = int | tuple[int, int, int] | None


class Style(NamedTuple):
    """How a cell is drawn. The default instance is :data:`DEFAULT`."""

    fg: Color = None
    bg: Color = None
    bold: bool = False
    dim: bool = False
    italic: bool = False
    underline: bool = False
    blink: bool = False
    reverse: bool = False
    hidden: bool = False
    strike: bool = False


DEFAULT = Style()

# Bounds on the memo tables: hostile truecolor streams could otherwise create millions of
# distinct styles. Clearing is safe because every table only caches pure functions.
_CACHE_LIMIT = 4096

_interned: dict[Style, Style] = {DEFAULT: DEFAULT}
#: The pen after a run of SGR sequences from a pen: the memo of apply_sgr_run, which the
#: printing hot path looks up itself before calling it.
TRANSITIONS: dict[tuple[Style, str], Style] = {}
_sgr_text: dict[Style, str] = {}
# What a run does to any pen: (starts from DEFAULT?, ((field index, value), ...)). Parsed
# once per run, so a pen not seen with that run before costs a tuple build, not a parse.
_Delta: TypeAlias = tuple[bool, tuple[tuple[int, Any], ...]]
_deltas: dict[str, _Delta] = {}
_FIELD = {name: index for index, name in enumerate(Style._fields)}
_new_tuple = tuple.__new__


def intern(style: Style) -> Style:
    """The shared instance equal to ``style`` (so rows compare styles by identity fast)."""
    found = _interned.get(style)
    if found is not None:
        return found
    if len(_interned) >= _CACHE_LIMIT:
        _interned.clear()
        _interned[DEFAULT] = DEFAULT
    _interned[style] = style
    return style


def apply_sgr(pen: Style, params: str) -> Style:
    """The pen after ``CSI params m``; ``params`` is the raw parameter string."""
    return apply_sgr_run(pen, f"\x1b[{params}m")


def apply_sgr_run(pen: Style, run: str) -> Style:
    """The pen after ``run``: one or more whole ``ESC [ params m`` sequences."""
    key = (pen, run)
    found = TRANSITIONS.get(key)
    if found is not None:
        return found
    delta = _deltas.get(run)
    if delta is None:
        if len(_deltas) >= _CACHE_LIMIT:
            _deltas.clear()
        delta = _deltas[run] = _parse_run(run)
    reset, changes = delta
    values = list(DEFAULT if reset else pen)
    for index, value in changes:
        values[index] = value
    result = intern(_new_tuple(Style, values))
    if len(TRANSITIONS) >= _CACHE_LIMIT:
        TRANSITIONS.clear()
    TRANSITIONS[key] = result
    return result


def _parse_run(run: str) -> _Delta:
    reset = False
    changes: dict[str, Any] = {}
    for params in run[2:-1].split("m\x1b["):
        starts_over, more = _parse(params)
        if starts_over:
            reset, changes = True, more
        else:
            changes.update(more)
    return reset, tuple((_FIELD[name], value) for name, value in changes.items())


def _number(text: str) -> int:
    if text.isdigit():
        return int(text) if len(text) < 6 else 65535
    return 0


def _extended_color(args: list[str]) -> tuple[Color | bool, int]:
    """Decode ``5;n`` or ``2;r;g;b`` (the words after 38/48/58).

    Returns (colour, words consumed); colour is ``False`` when the words are malformed.
    """
    if not args:
        return False, 0
    kind = _number(args[0])
    if kind == 5:
        if len(args) < 2:
            return False, len(args)
        index = _number(args[1])
        return (index if index <= 255 else False), 2
    if kind == 2:
        if len(args) < 4:
            return False, len(args)
        r, g, b = (_number(a) for a in args[1:4])
        if r > 255 or g > 255 or b > 255:
            return False, 4
        return (r, g, b), 4
    return False, 1


def _colon_color(sub: list[str]) -> Color | bool:
    """Decode the ITU form ``38:2:[colourspace]:r:g:b`` or ``38:5:n`` (``sub`` after 38)."""
    if sub and sub[0] == "2" and len(sub) >= 5:
        sub = [sub[0], *sub[2:5]]
    color, _ = _extended_color(sub)
    return color


_FLAGS_ON = {1: "bold", 2: "dim", 3: "italic", 4: "underline", 5: "blink", 6: "blink",
             7: "reverse", 8: "hidden", 9: "strike", 21: "underline"}
_FLAGS_OFF = {22: ("bold", "dim"), 23: ("italic",), 24: ("underline",), 25: ("blink",),
              27: ("reverse",), 28: ("hidden",), 29: ("strike",)}


def _parse(params: str) -> tuple[bool, dict[str, Any]]:
    words = params.split(";") if params else [""]
    reset = False
    changes: dict[str, Any] = {}
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if ":" in word:
            head, *sub = word.split(":")
            code = _number(head)
            if code in (38, 48):
                color = _colon_color(sub)
                if color is not False:
                    changes["fg" if code == 38 else "bg"] = color
            elif code == 4:
                changes["underline"] = _number(sub[0]) != 0 if sub else True
            continue
        code = _number(word)
        if code == 0:
            reset, changes = True, {}
        elif code in _FLAGS_ON:
            changes[_FLAGS_ON[code]] = True
        elif code in _FLAGS_OFF:
            for name in _FLAGS_OFF[code]:
                changes[name] = False
        elif 30 <= code <= 37:
            changes["fg"] = code - 30
        elif 40 <= code <= 47:
            changes["bg"] = code - 40
        elif 90 <= code <= 97:
            changes["fg"] = code - 90 + 8
        elif 100 <= code <= 107:
            changes["bg"] = code - 100 + 8
        elif code == 39:
            changes["fg"] = None
        elif code == 49:
            changes["bg"] = None
        elif code in (38, 48, 58):
            color, used = _extended_color(words[i:])
            i += used
            if color is not False and code != 58:
                changes["fg" if code == 38 else "bg"] = color
    return reset, changes


def _color_params(color: Color, base: int) -> str:
    if isinstance(color, tuple):
        return f"{base + 8};2;{color[0]};{color[1]};{color[2]}"
    assert color is not None
    if color < 8:
        return str(base + color)
    if color < 16:
        return str(base + 60 + color - 8)
    return f"{base + 8};5;{color}"


def sgr(style: Style) -> str:
    """The escape sequence that sets the pen to exactly ``style`` from any pen."""
    found = _sgr_text.get(style)
    if found is not None:
        return found
    parts = ["0"]
    if style.bold:
        parts.append("1")
    if style.dim:
        parts.append("2")
    if style.italic:
        parts.append("3")
    if style.underline:
        parts.append("4")
    if style.blink:
        parts.append("5")
    if style.reverse:
        parts.append("7")
    if style.hidden:
        parts.append("8")
    if style.strike:
        parts.append("9")
    if style.fg is not None:
        parts.append(_color_params(style.fg, 30))
    if style.bg is not None:
        parts.append(_color_params(style.bg, 40))
    text = "\x1b[" + ";".join(parts) + "m"
    if len(_sgr_text) >= _CACHE_LIMIT:
        _sgr_text.clear()
    _sgr_text[style] = text
    return text


def erase_style(pen: Style) -> Style:
    """The style of cells erased or scrolled in with ``pen`` active: only its background
    survives (xterm's background colour erase)."""
    if pen.bg is None:
        return DEFAULT
    return intern(Style(bg=pen.bg))
