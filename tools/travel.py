"""Travel distances for quotes: miles between the business's base and a customer's ZIP code or
city, from the US ZIP code centres shipped in the `zipcodes` package (nothing fetched)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

EARTH_MILES = 3958.8


@dataclass(frozen=True)
class Place:
    """Where a party would be: a ZIP code's centre, or the middle of a city's ZIP codes."""

    name: str  # "Folsom, CA 95630" or "Folsom, CA"
    state: str
    zip_code: str | None
    lat: float
    lon: float


@cache
def _index() -> tuple[dict[str, Place], dict[tuple[str, str], Place]]:
    """Every active ZIP code with a centre, and every city's centre (per state), built once."""
    import zipcodes  # ~40 MB of data: loaded on the first quote, not at start-up

    by_zip: dict[str, Place] = {}
    cities: dict[tuple[str, str], list[tuple[float, float]]] = {}
    names: dict[tuple[str, str], str] = {}
    for row in zipcodes.list_all():  # type: ignore[no-untyped-call]
        if not row.get("active") or not row.get("lat") or not row.get("long"):
            continue
        lat, lon = float(row["lat"]), float(row["long"])
        city, state = str(row["city"]), str(row["state"])
        by_zip[row["zip_code"]] = Place(
            f"{city}, {state} {row['zip_code']}", state, row["zip_code"], lat, lon
        )
        key = (city.lower(), state)
        cities.setdefault(key, []).append((lat, lon))
        names[key] = f"{city}, {state}"
    by_city = {
        key: Place(
            names[key],
            key[1],
            None,
            sum(p[0] for p in points) / len(points),
            sum(p[1] for p in points) / len(points),
        )
        for key, points in cities.items()
    }
    return by_zip, by_city


def by_zip(zip_code: str) -> Place | None:
    return _index()[0].get(zip_code)


def by_city(city: str, state: str | None = None, near: Place | None = None) -> Place | None:
    """A city by name: in the state given, else the one of that name nearest `near` (a Folsom
    texted to a Sacramento caterer is Folsom, CA)."""
    name = " ".join(city.lower().split())
    found = [place for (c, s), place in _index()[1].items() if c == name and state in (None, s)]
    if not found:
        return None
    if near is None:
        return found[0]
    return min(found, key=lambda p: miles_between(near, p))


@cache
def city_names(state: str) -> frozenset[str]:
    """The lower-case names of a state's cities, for reading a place out of a message."""
    return frozenset(c for (c, s) in _index()[1] if s == state)


def miles_between(a: Place, b: Place) -> Decimal:
    """Whole miles as the crow flies between two centres: the distance a quote's travel fee
    is estimated from (the booking's own mileage is what is charged)."""
    la1, lo1, la2, lo2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = (
        math.sin((la2 - la1) / 2) ** 2
        + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    )
    crow = 2 * EARTH_MILES * math.asin(math.sqrt(h))
    return Decimal(round(crow))
