"""A QR code as terminal text: two modules per character cell (upper and lower half
blocks), black on white with a quiet zone, so a phone's camera reads it off the screen."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

DARK = "#000000"
LIGHT = "#ffffff"
QUIET_ZONE = 2  # modules of white around the code (the spec says 4; cameras cope with 2)


def qr_matrix(data: str) -> list[list[bool]]:
    """The code's modules (True: dark), quiet zone included."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_L

    code = qrcode.QRCode(border=QUIET_ZONE, error_correction=ERROR_CORRECT_L)
    code.add_data(data)
    code.make(fit=True)
    return [[bool(cell) for cell in row] for row in code.get_matrix()]


def qr_text(data: str) -> Text:
    """The code as lines of ``▀`` cells: the upper module is the foreground colour, the
    lower one the background."""
    matrix = qr_matrix(data)
    if len(matrix) % 2:
        matrix.append([False] * len(matrix[0]))
    styles = {
        (top, bottom): Style(color=DARK if top else LIGHT, bgcolor=DARK if bottom else LIGHT)
        for top in (False, True)
        for bottom in (False, True)
    }
    text = Text(no_wrap=True, overflow="crop")
    for y in range(0, len(matrix), 2):
        if y:
            text.append("\n")
        for top, bottom in zip(matrix[y], matrix[y + 1], strict=True):
            text.append("▀", styles[top, bottom])
    return text
