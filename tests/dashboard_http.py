"""Calling Dash callbacks over HTTP the way the browser does (for server-level tests without a browser)."""

from __future__ import annotations


def callback_body(
    outputs: list[tuple[str, str]], inputs: list[tuple[str, str, object]], state: list[tuple[str, str, object]] = ()
) -> dict:
    if len(outputs) == 1:
        output = f"{outputs[0][0]}.{outputs[0][1]}"
        outputs_list = {"id": outputs[0][0], "property": outputs[0][1]}
    else:
        output = ".." + "...".join(f"{i}.{p}" for i, p in outputs) + ".."
        outputs_list = [{"id": i, "property": p} for i, p in outputs]
    return {
        "output": output,
        "outputs": outputs_list,
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"] if inputs else [],
    }


def rankings_body(year: int, lang: str = "zh") -> dict:
    return callback_body(
        [("rk-grid", "rowData"), ("rk-total", "data")],
        [
            ("rk-year", "value", year),
            ("rk-province", "value", None),
            ("rk-group", "value", None),
            ("rk-stage", "value", None),
            ("rk-programme", "value", ["programme"]),
        ],
        [("rk-lang", "data", lang)],
    )


def page_body(pathname: str, search: str = "") -> dict:
    """The pages router: returns the page layout for a URL."""
    return callback_body(
        [("_pages_content", "children"), ("_pages_store", "data")],
        [("_pages_location", "pathname", pathname), ("_pages_location", "search", search)],
    )
