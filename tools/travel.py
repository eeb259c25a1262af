"""Travel distances for quotes: miles between the business's base and a customer's ZIP code or
city, from the US ZIP code centres shipped in the `zipcodes` package (nothing fetched).

The package answers lookups in compiled code; only the business's own state is read into
Python (its city names, for reading a place out of a message), once per process."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any

import zipcodes


@dataclass(frozen=True)
class Place:
    """Where a party would be: a ZIP code's centre, or the middle of a city's ZIP codes."""

    name: str  # "Folsom, CA 95630" or "Folsom, CA"
    state: str
    zip_code: str | None
    lat: float
    lon: float


def _usable(row: dict[str, Any]) -> bool:
    return bool(row.get("active") and row.get("lat") and row.get("long"))


@lru_cache(maxsize=4096)
def by_zip(zip_code: str) -> Place | None:
    row = next((r for r in zipcodes.matching(zip_code) if _usable(r)), None)  # type: ignore[no-untyped-call]
    if row is None:
        return None
    name = f"{row['city']}, {row['state']} {zip_code}"
    return Place(name, row["state"], zip_code, float(row["lat"]), float(row["long"]))


@cache
def _cities(state: str) -> dict[str, Place]:
    """Every city of a state by its lower-case name, at the middle of its ZIP codes."""
    points: dict[str, list[tuple[float, float]]] = {}
    names: dict[str, str] = {}
    for row in zipcodes.filter_by_state(state):  # type: ignore[no-untyped-call]
        if _usable(row):
            key = str(row["city"]).lower()
            points.setdefault(key, []).append((float(row["lat"]), float(row["long"])))
            names[key] = f"{row['city']}, {state}"
    return {
        key: Place(
            names[key],
            state,
            None,
            sum(p[0] for p in spots) / len(spots),
            sum(p[1] for p in spots) / len(spots),
        )
        for key, spots in points.items()
    }


def warm_up(base_zip: str) -> None:
    """Load the ZIP code tables a turn reads (the base's place and its state's cities), half a
    second of work the first customer would otherwise wait for."""
    home = by_zip(base_zip)
    if home is not None:
        city_names(home.state)


def by_city(city: str, state: str) -> Place | None:
    """A city of the state by name ("folsom", "Elk Grove")."""
    return _cities(state).get(" ".join(city.lower().split()))


@cache
def city_names(state: str) -> frozenset[str]:
    """The lower-case names of a state's cities, for reading a place out of a message."""
    return frozenset(_cities(state))


def miles_between(a: Place, b: Place) -> Decimal:
    """Whole miles as the crow flies between two centres: the distance a quote's travel fee
    is estimated from (the booking's own mileage is what is charged)."""
    return Decimal(round(zipcodes.haversine(a.lon, a.lat, b.lon, b.lat)))  # type: ignore[no-untyped-call]
