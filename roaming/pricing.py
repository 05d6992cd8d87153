"""What a charging session costs under an OCPI 2.2.1 tariff: pure functions over the tariff (its OCPI JSON, as a dict)
and the session's meter readings, no database, so the session and CDR services and the tests call them alike.

The rules are the tariffs module's, with the step_size rules of the CDRs module, as the 2.2.1 errata
(release-2.2.1-bugfixes) words them: where the examples of 2.2.1 contradict its own text about step_size, the errata
rewrote the examples, and we follow the errata.

- The session is cut into slices wherever something a restriction looks at may change: a meter reading, the local
  clock passing a start_time, an end_time or midnight, a change of the UTC offset, a min/max_duration elapsing, the
  energy passing a min/max_kwh. Per slice and per dimension the active price component is the first of its type in
  the first element whose restrictions all hold. Consecutive slices that charge (or not) alike under the same
  components make one charging period.
- Between two readings the energy is taken to flow evenly, at the interval's average power; an interval in which
  energy flowed is charging time (TIME), one without is parking time (PARKING_TIME).
- step_size counts once per session: for ENERGY, the session's billed energy is rounded up by the step of the last
  ENERGY component used; for TIME and PARKING_TIME together, the last time-based component used rounds up the total
  of its own dimension only (charging followed by paid parking leaves the charging time as it was). The difference is
  billed with that last component.
- FLAT is charged once: the first FLAT component that becomes active.
- VAT is per component; the totals carry incl_vat only when every non-zero cost of the session has a VAT.
- min_price and max_price bound total_cost (excluding and including VAT, each); the totals per dimension are left as
  they were computed, as the spec says nothing of spreading the difference over them.

Left out: reservations (an element with a `reservation` restriction prices a reservation, never a charging session);
choosing the tariff (its `type`, start_date_time and end_date_time: the caller passes the tariff that applies);
rounding money (the errata leaves it to law and contract: amounts keep OCPI's 4 decimals)."""

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

from .objects.tariffs import DAYS_OF_WEEK
from .protocol import timestamp

WH_PER_KWH = Decimal(1000)
SECONDS_PER_HOUR = Decimal(3600)
# Interpolated energies carry division noise far below this; it is dropped before rounding up to a step.
QUANTITY_RESOLUTION = Decimal("0.000001")
OCPI_DECIMALS = Decimal("0.0001")
COST_FIELDS = {
    "total_fixed_cost": "FLAT",
    "total_energy_cost": "ENERGY",
    "total_time_cost": "TIME",
    "total_parking_cost": "PARKING_TIME",
}


@dataclass(frozen=True)
class MeterSample:
    """A meter reading of the session: the energy delivered since it started (0 at the start), and the current summed
    over the phases when the charger reports it (only min_current/max_current restrictions need it)."""

    at: datetime
    energy_wh: float
    current_a: float | None = None


@dataclass(frozen=True)
class PricedSession:
    """A session priced: its OCPI charging periods and the totals of a CDR (Price dicts, amounts in kWh and hours).
    The periods carry what was measured; the costs include what step_size adds."""

    charging_periods: list[dict]
    total_cost: dict
    total_fixed_cost: dict
    total_energy_cost: dict
    total_time_cost: dict
    total_parking_cost: dict
    total_energy: float
    total_time: float
    total_parking_time: float

    def cdr_fields(self) -> dict:
        """The fields of an OCPI CDR that pricing fills in."""
        return {
            "charging_periods": self.charging_periods,
            "total_cost": self.total_cost,
            "total_fixed_cost": self.total_fixed_cost,
            "total_energy": self.total_energy,
            "total_energy_cost": self.total_energy_cost,
            "total_time": self.total_time,
            "total_time_cost": self.total_time_cost,
            "total_parking_time": self.total_parking_time,
            "total_parking_cost": self.total_parking_cost,
        }

    def session_fields(self) -> dict:
        """The fields of an OCPI Session that pricing fills in (so far, for a session still going on)."""
        return {"kwh": self.total_energy, "charging_periods": self.charging_periods, "total_cost": self.total_cost}


def price_session(
    *, tariff: dict | None, started_at: datetime, stopped_at: datetime, samples: list[MeterSample], time_zone: str
) -> PricedSession:
    """Price the session from started_at to stopped_at (aware, in any zone; for a session going on, stopped_at is now)
    under `tariff`, or at no cost when there is none. `samples` should include the reading at stopped_at: time after
    the last reading counts as not charging. `time_zone` is the location's (IANA name), in which the restrictions'
    times, dates and days of the week are read."""
    # In UTC: Python adds to and subtracts datetimes of one zone by the wall clock, which skips or repeats an hour.
    started_at, stopped_at = started_at.astimezone(UTC), stopped_at.astimezone(UTC)
    tariff = tariff or {}
    elements = tariff.get("elements", [])
    zone = ZoneInfo(time_zone)
    readings = _readings(samples, started_at, stopped_at)
    slices = _slices(readings, _cuts(elements, zone, started_at, stopped_at), _kwh_limits_wh(elements))
    actives = [_active_components(elements, slice_, zone, started_at) for slice_ in slices]
    periods = _periods(slices, actives)
    return PricedSession(
        charging_periods=[period.as_ocpi(tariff.get("id")) for period in periods],
        **_costs(_charges(periods, actives), tariff),
        total_energy=_number(readings[-1].energy_wh / WH_PER_KWH),
        total_time=_number(_seconds(stopped_at - started_at) / SECONDS_PER_HOUR),
        total_parking_time=_number(sum((p.seconds for p in periods if not p.charging), Decimal(0)) / SECONDS_PER_HOUR),
    )


@dataclass(frozen=True)
class _Reading:
    at: datetime
    energy_wh: Decimal
    current_a: float | None


@dataclass(frozen=True)
class _Slice:
    """A stretch of the session in which nothing a restriction looks at changes."""

    start: datetime
    end: datetime
    energy_before_wh: Decimal  # delivered since the session started, at the start of the slice
    energy_wh: Decimal
    power_kw: Decimal  # 0 when not charging
    current_a: Decimal | None  # None: charging, at a current nobody measured

    @property
    def charging(self) -> bool:
        return self.energy_wh > 0


@dataclass
class _Period:
    """Slices that charge (or not) alike under the same price components: one OCPI charging period."""

    start: datetime
    charging: bool
    components: dict  # dimension -> (index of the element, price component), of the dimensions this period uses
    energy_wh: Decimal = Decimal(0)
    seconds: Decimal = Decimal(0)
    powers_kw: list = field(default_factory=list)
    currents_a: list = field(default_factory=list)

    def as_ocpi(self, tariff_id: str | None) -> dict:
        if self.charging:
            dimensions = [
                ("ENERGY", self.energy_wh / WH_PER_KWH),
                ("TIME", self.seconds / SECONDS_PER_HOUR),
                ("MAX_POWER", max(self.powers_kw)),
                ("MIN_POWER", min(self.powers_kw)),
            ]
            if self.currents_a:
                dimensions += [("MAX_CURRENT", max(self.currents_a)), ("MIN_CURRENT", min(self.currents_a))]
        else:
            dimensions = [("PARKING_TIME", self.seconds / SECONDS_PER_HOUR)]
        period = {
            "start_date_time": timestamp(self.start),
            "dimensions": [{"type": kind, "volume": _number(_decimal(volume))} for kind, volume in dimensions],
        }
        if tariff_id:
            period["tariff_id"] = tariff_id
        return period


@dataclass
class _Charge:
    """An amount of one dimension billed with one price component: Wh for ENERGY, seconds for (PARKING_)TIME."""

    dimension: str
    component: dict
    quantity: Decimal

    @property
    def excl_vat(self) -> Decimal:
        unit = {"ENERGY": WH_PER_KWH, "FLAT": Decimal(1)}.get(self.dimension, SECONDS_PER_HOUR)
        return _decimal(self.component["price"]) * self.quantity / unit

    @property
    def incl_vat(self) -> Decimal | None:
        vat = self.component.get("vat")
        if vat is None:
            return None if self.excl_vat else Decimal(0)  # nothing owed is nothing owed with any VAT
        return self.excl_vat * (1 + _decimal(vat) / 100)


def _readings(samples: list[MeterSample], started_at: datetime, stopped_at: datetime) -> list[_Reading]:
    """The readings within the session, from 0 Wh at its start to its end (where, without a reading, the energy stays
    what was last read)."""
    samples = [replace(s, at=s.at.astimezone(UTC)) for s in samples]
    inside = sorted((s for s in samples if started_at < s.at < stopped_at), key=lambda s: s.at)
    readings = [_Reading(started_at, Decimal(0), None)]
    readings += [_Reading(s.at, _decimal(s.energy_wh), s.current_a) for s in inside]
    at_stop = [s for s in samples if s.at == stopped_at]
    if at_stop:
        readings.append(_Reading(stopped_at, _decimal(at_stop[-1].energy_wh), at_stop[-1].current_a))
    else:
        readings.append(_Reading(stopped_at, readings[-1].energy_wh, None))
    return readings


def _cuts(elements: list[dict], zone: ZoneInfo, started_at: datetime, stopped_at: datetime) -> set[datetime]:
    """The moments in the session at which a restriction of time, date, day or duration may start or stop holding."""
    restrictions = [element.get("restrictions") or {} for element in elements]
    clock_times = {time(0)} | {
        time.fromisoformat(r[key]) for r in restrictions for key in ("start_time", "end_time") if r.get(key)
    }
    cuts = set(_utc_offset_changes(zone, started_at, stopped_at))
    day, last_day = started_at.astimezone(zone).date(), stopped_at.astimezone(zone).date()
    while day <= last_day:
        for clock in clock_times:
            for fold in (0, 1):  # a clock time the autumn repeats is passed twice
                cuts.add(datetime.combine(day, clock, tzinfo=zone).replace(fold=fold).astimezone(UTC))
        day += timedelta(days=1)
    for r in restrictions:
        for key in ("min_duration", "max_duration"):
            if r.get(key) is not None:
                cuts.add(started_at + timedelta(seconds=r[key]))
    return {cut for cut in cuts if started_at < cut < stopped_at}


def _utc_offset_changes(zone: ZoneInfo, started_at: datetime, stopped_at: datetime) -> list[datetime]:
    """When the local clock jumps in the session (daylight saving time): a clock time in the skipped hour is passed at
    the jump, and so is, going back, every clock time of the repeated hour."""
    changes = []
    step = timedelta(hours=1)
    moment = started_at
    while moment < stopped_at:
        later = min(moment + step, stopped_at)
        if moment.astimezone(zone).utcoffset() != later.astimezone(zone).utcoffset():
            before, after = moment, later
            while after - before > timedelta(microseconds=1):
                middle = before + (after - before) / 2
                if middle.astimezone(zone).utcoffset() == before.astimezone(zone).utcoffset():
                    before = middle
                else:
                    after = middle
            changes.append(after)
        moment = later
    return changes


def _kwh_limits_wh(elements: list[dict]) -> set[Decimal]:
    return {
        _decimal(restrictions[key]) * WH_PER_KWH
        for restrictions in (element.get("restrictions") or {} for element in elements)
        for key in ("min_kwh", "max_kwh")
        if restrictions.get(key) is not None
    }


def _slices(readings: list[_Reading], cuts: set[datetime], kwh_limits_wh: set[Decimal]) -> list[_Slice]:
    slices = []
    for first, second in pairwise(readings):
        if second.at <= first.at:
            continue
        seconds = _seconds(second.at - first.at)
        delivered = second.energy_wh - first.energy_wh
        charging = delivered > 0
        points = {first.at: first.energy_wh, second.at: second.energy_wh}
        for cut in cuts:
            if first.at < cut < second.at:
                points[cut] = first.energy_wh + delivered * _seconds(cut - first.at) / seconds
        for limit in kwh_limits_wh:
            if charging and first.energy_wh < limit < second.energy_wh:
                passed = first.at + timedelta(seconds=float((limit - first.energy_wh) / delivered * seconds))
                if first.at < passed < second.at:
                    points[passed] = limit  # exactly, so min_kwh holds from this slice on and max_kwh no longer
        power_kw = delivered / WH_PER_KWH / (seconds / SECONDS_PER_HOUR) if charging else Decimal(0)
        current_a = (None if second.current_a is None else _decimal(second.current_a)) if charging else Decimal(0)
        for (start, energy_before), (end, energy_after) in pairwise(sorted(points.items())):
            slices.append(_Slice(start, end, energy_before, energy_after - energy_before, power_kw, current_a))
    if not slices:  # a session of no length is still a session: one empty period, and its FLAT fee
        slices.append(_Slice(readings[0].at, readings[0].at, Decimal(0), Decimal(0), Decimal(0), Decimal(0)))
    return slices


def _active_components(elements: list[dict], slice_: _Slice, zone: ZoneInfo, started_at: datetime) -> dict:
    """Per dimension, the component that prices it in this slice: the first of its type in the first element whose
    restrictions all hold and that has one. Dimension -> (index of the element, component)."""
    active = {}
    for index, element in enumerate(elements):
        if _restrictions_hold(element.get("restrictions") or {}, slice_, zone, started_at):
            for component in element["price_components"]:
                active.setdefault(component["type"], (index, component))
    return active


def _restrictions_hold(restrictions: dict, slice_: _Slice, zone: ZoneInfo, started_at: datetime) -> bool:
    """Whether all the restrictions hold at the start of the slice (nothing they look at changes within it)."""
    if restrictions.get("reservation"):
        return False
    local = slice_.start.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    start_time = time.fromisoformat(restrictions["start_time"]) if restrictions.get("start_time") else None
    end_time = time.fromisoformat(restrictions["end_time"]) if restrictions.get("end_time") else None
    if start_time and end_time and end_time < start_time:  # wraps around midnight (an end of 00:00 ends the day)
        in_hours = clock >= start_time or clock < end_time
    else:
        in_hours = (start_time is None or clock >= start_time) and (end_time is None or clock < end_time)
    energy_kwh = slice_.energy_before_wh / WH_PER_KWH
    elapsed = _seconds(slice_.start - started_at)
    checks = [
        in_hours,
        not restrictions.get("day_of_week") or DAYS_OF_WEEK[local.weekday()] in restrictions["day_of_week"],
        not restrictions.get("start_date") or local.date() >= date.fromisoformat(restrictions["start_date"]),
        not restrictions.get("end_date") or local.date() < date.fromisoformat(restrictions["end_date"]),
        _at_least(energy_kwh, restrictions.get("min_kwh")),
        _below(energy_kwh, restrictions.get("max_kwh")),
        _at_least(slice_.power_kw, restrictions.get("min_power")),
        _below(slice_.power_kw, restrictions.get("max_power")),
        _at_least(elapsed, restrictions.get("min_duration")),
        _below(elapsed, restrictions.get("max_duration")),
        _at_least(slice_.current_a, restrictions.get("min_current")),
        _below(slice_.current_a, restrictions.get("max_current")),
    ]
    return all(checks)


# A restriction on a value nobody measured (None) cannot be said to hold.
def _at_least(value: Decimal | None, minimum) -> bool:
    return minimum is None or (value is not None and value >= _decimal(minimum))


def _below(value: Decimal | None, maximum) -> bool:
    return maximum is None or (value is not None and value < _decimal(maximum))


def _periods(slices: list[_Slice], actives: list[dict]) -> list[_Period]:
    periods = []
    for slice_, active in zip(slices, actives, strict=True):
        used = ("ENERGY", "TIME") if slice_.charging else ("PARKING_TIME",)
        components = {dimension: active[dimension] for dimension in used if dimension in active}
        if not periods or (periods[-1].charging, periods[-1].components) != (slice_.charging, components):
            periods.append(_Period(slice_.start, slice_.charging, components))
        period = periods[-1]
        period.energy_wh += slice_.energy_wh
        period.seconds += _seconds(slice_.end - slice_.start)
        if slice_.charging:
            period.powers_kw.append(slice_.power_kw)
            if slice_.current_a is not None:
                period.currents_a.append(slice_.current_a)
    return periods


def _charges(periods: list[_Period], actives: list[dict]) -> list[_Charge]:
    """What the session bills: the FLAT fee, then what each period uses, in order, with the steps rounded up."""
    charges = []
    flat = next((active["FLAT"][1] for active in actives if "FLAT" in active), None)  # the first to become active
    if flat:
        charges.append(_Charge("FLAT", flat, Decimal(1)))
    for period in periods:
        quantities = {
            "ENERGY": period.energy_wh,
            "TIME": period.seconds if period.charging else Decimal(0),
            "PARKING_TIME": Decimal(0) if period.charging else period.seconds,
        }
        for dimension, (_, component) in period.components.items():
            if quantities[dimension] > 0:
                charges.append(_Charge(dimension, component, quantities[dimension]))
    _round_up_to_step(charges, {"ENERGY"})
    _round_up_to_step(charges, {"TIME", "PARKING_TIME"})
    return charges


def _round_up_to_step(charges: list[_Charge], dimensions: set[str]) -> None:
    """step_size, once per session for these dimensions: the last charge of them decides the dimension and the step;
    that dimension's total is rounded up to a whole number of steps, and the last charge bills the difference."""
    billed = [charge for charge in charges if charge.dimension in dimensions]
    if not billed:
        return
    last = billed[-1]
    step = Decimal(last.component["step_size"])
    if step <= 0:
        return
    total = sum((charge.quantity for charge in billed if charge.dimension == last.dimension), Decimal(0))
    steps = (total.quantize(QUANTITY_RESOLUTION) / step).to_integral_value(rounding=ROUND_CEILING)
    last.quantity += steps * step - total


def _sum(charges: list[_Charge]) -> tuple[Decimal, Decimal | None]:
    """The cost of these charges excluding VAT, and including VAT when that is known for all of them."""
    excl = sum((charge.excl_vat for charge in charges), Decimal(0))
    incls = [charge.incl_vat for charge in charges]
    incl = None if None in incls else sum(incls, Decimal(0))
    return excl, incl


def _costs(charges: list[_Charge], tariff: dict) -> dict:
    """total_cost, within the tariff's min_price and max_price (which bound the amounts excluding and including VAT
    each), and the cost per kind; including VAT everywhere or nowhere."""
    excl, incl = _sum(charges)
    for bound, limit in ((tariff.get("min_price"), max), (tariff.get("max_price"), min)):
        if bound:
            excl = limit(excl, _decimal(bound["excl_vat"]))
            if incl is not None and bound.get("incl_vat") is not None:
                incl = limit(incl, _decimal(bound["incl_vat"]))
    costs = {"total_cost": _price(excl, incl)}
    for name, dimension in COST_FIELDS.items():
        part_excl, part_incl = _sum([charge for charge in charges if charge.dimension == dimension])
        costs[name] = _price(part_excl, part_incl if incl is not None else None)
    return costs


def _price(excl: Decimal, incl: Decimal | None) -> dict:
    price = {"excl_vat": _number(excl)}
    if incl is not None:
        price["incl_vat"] = _number(incl)
    return price


def _number(value: Decimal) -> float:
    return float(value.quantize(OCPI_DECIMALS, rounding=ROUND_HALF_UP))


def _decimal(value) -> Decimal:
    return Decimal(str(value))


def _seconds(duration: timedelta) -> Decimal:
    return Decimal(duration // timedelta(microseconds=1)) / 1_000_000
