"""Tax region codes: an ISO 3166-1 country (DE), an ISO 3166-2 subdivision (US-CA), or EU.

Pure (no Django): the codes come from pycountry, which follows the ISO lists, so a typo such as
"US-XX" is refused rather than silently taxed at nothing.
"""

from __future__ import annotations

import pycountry

# Not a country, but ISO 3166-1 reserves it, and union-wide rates (OSS) are filed under it.
_UNIONS = {"EU": "European Union"}


def region_name(code: str) -> str | None:
    """The region's name, or None when `code` names no known region. Codes are upper-case."""
    if not isinstance(code, str) or code != code.strip().upper() or not code:
        return None
    if code in _UNIONS:
        return _UNIONS[code]
    if "-" in code:
        found = pycountry.subdivisions.get(code=code)
    else:
        found = pycountry.countries.get(alpha_2=code) if len(code) == 2 else None
    return found.name if found else None


def region_problem(code: str) -> str | None:
    """Why `code` is not a tax region, or None when it is one."""
    if region_name(code) is None:
        return f"{code!r} is not a known region: use an ISO 3166 code such as DE or US-CA (upper-case), or EU"
    return None
