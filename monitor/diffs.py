"""A word diff (a list of (op, text): -1 deleted, 0 kept, 1 inserted) in; its renderings out: plain text, HTML for
emails and feeds, and rich text for the terminal. Every renderer of a word diff is here (the site's pages render
theirs in `web/templates/macros.html`, with screen-reader labels)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

if TYPE_CHECKING:
    from rich.text import Text

WordDiff = Iterable[Iterable[Any]]


def diff_as_text(diff: WordDiff) -> str:
    """Plain text: deletions as [-...-], insertions as {+...+}."""
    return "".join(chunk if op == 0 else f"[-{chunk}-]" if op < 0 else f"{{+{chunk}+}}" for op, chunk in diff)


def diff_as_html(diff: WordDiff) -> Markup:
    """HTML with inline styles (for email clients): <del> and <ins>, every chunk escaped."""
    out = []
    for op, chunk in diff:
        text = escape(chunk)
        if op == 0:
            out.append(text)
        elif op < 0:
            out.append(Markup('<del style="background:#fee4e2;color:#b42318">{}</del>').format(text))
        else:
            out.append(Markup('<ins style="background:#dcfae6;color:#067647">{}</ins>').format(text))
    return Markup("").join(out)


def diff_as_rich_text(diff: WordDiff) -> Text:
    """For the terminal: the text form's symbols as well as colour, so it reads without colour too."""
    from rich.text import Text  # only the terminal channels need rich's text model

    text = Text()
    for op, chunk in diff:
        if op == 0:
            text.append(chunk)
        elif op < 0:
            text.append(f"[-{chunk}-]", style="red strike")
        else:
            text.append(f"{{+{chunk}+}}", style="green")
    return text
