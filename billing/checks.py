"""System checks for billing (`manage.py check`, and every runserver and migrate).

WeasyPrint subsets the invoice fonts with HarfBuzz's subsetting library when the system has it, and
otherwise with fontTools in Python: PDFs then still render, only about 2.5 times slower (420 ms against
170 ms a page here), which a period close's thousands of PDFs feel. Nothing else tells the operator.
"""

from __future__ import annotations

import ctypes.util

from django.core.checks import Tags, Warning, register


@register(Tags.compatibility)
def pdf_font_subsetting(app_configs=None, **kwargs) -> list[Warning]:
    if ctypes.util.find_library("harfbuzz-subset") is not None:
        return []
    return [
        Warning(
            "HarfBuzz's font subsetting library is not installed: invoice PDFs render about 2.5 times slower "
            "(WeasyPrint falls back to fontTools).",
            hint="Install it with the system's package manager, e.g. apt-get install libharfbuzz-subset0.",
            id="billing.W001",
        )
    ]
