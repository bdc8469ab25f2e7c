"""The 404 page in the reader's language (Dash's own says "404 - Page not found" in English)."""

from __future__ import annotations

from dash import dcc, html

from ..components import href
from ..i18n import norm_lang, t

MODULE = "not_found_404"  # the module name Dash pages uses for unknown paths


def layout(lang=None, **_):
    lang = norm_lang(lang)
    return html.Div(
        [
            html.H1(t("page_not_found", lang), className="ipc-page-title"),
            dcc.Link(t("back_home", lang), href=href("/", lang)),
        ],
        className="ipc-page ipc-notfound",
        lang="en" if lang == "en" else "zh-CN",
    )
