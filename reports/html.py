"""The Jinja2 environment every report renders with: templates in reports/templates/ (a shared layout with
the CSS, base.html.j2, and shared macros for tables, cards and severity badges, macros.html.j2),
autoescaping on, and an error for any name a template uses that the report did not give it."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # `tojson` (chart specifications, inside <script>) escapes <, >, & and ' for HTML; dates as text
    env.policies["json.dumps_kwargs"] = {"sort_keys": False, "default": str}
    return env


def render(template: str, **context: Any) -> str:
    """The template reports/templates/TEMPLATE rendered with `context`."""
    return environment().get_template(template).render(**context)


def macros(template: str) -> Any:
    """The macros of reports/templates/TEMPLATE, callable from Python (each returns escaped markup)."""
    return environment().get_template(template).module
