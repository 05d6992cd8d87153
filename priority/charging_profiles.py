"""The charging profiles load management sends, built from an allocation and what the charger says it can do.
Pure functions: no database, no I/O.

Per charger, load management keeps (OCPP 1.6, 3.13 Smart Charging; profile ids from PROFILE_ID_BASE up, so they
never collide with the operator's stored profiles, whose ids are their primary keys):
- a *safe* TxDefaultProfile on connector 0, one stack level below ours, with no end: the connector's share if every
  connector of the site charged at once. It is what the charger falls back to when Powerfill is gone, so losing
  Powerfill never lets the site exceed its limits.
- a *hold* TxDefaultProfile on connector 0 at our stack level: 0 A until the lease ends. A new session waits for
  its allocation (a recompute follows every StartTransaction) instead of taking power that is already given out.
- a TxProfile per running session at our stack level: its allocation until the lease ends.
- a ChargePointMaxProfile on connector 0 where the operator set the charger's max current below what it reports.
Leases end at `validTo`; recomputes renew them well before, so while Powerfill runs they never lapse.

What the charger can do comes from GetConfiguration: ChargeProfileMaxStackLevel (with only level 0 there is no room
for a hold below a lease: the safe profile is all it gets besides its sessions' profiles),
ChargingScheduleAllowedChargingRateUnit (a charger that takes only W gets watts: amps x voltage x phases) and
ChargingScheduleMaxPeriods (every profile here has one period, so any charger that does smart charging takes it).
"""

from dataclasses import dataclass
from datetime import datetime

from ocpp.v16.enums import ChargingProfileKindType, ChargingProfilePurposeType, ChargingRateUnitType

from ocpp_core.timestamps import ocpp_time

PROFILE_ID_BASE = 1_900_000_000
SAFE_PROFILE_ID = PROFILE_ID_BASE + 1
HOLD_PROFILE_ID = PROFILE_ID_BASE + 2
CHARGE_POINT_MAX_PROFILE_ID = PROFILE_ID_BASE + 3
TX_PROFILE_ID_BASE = PROFILE_ID_BASE + 100  # + connector id

CAPABILITY_KEYS = (
    "SupportedFeatureProfiles",
    "ChargeProfileMaxStackLevel",
    "ChargingScheduleAllowedChargingRateUnit",
    "ChargingScheduleMaxPeriods",
)


@dataclass(frozen=True)
class ChargerCapabilities:
    """What a charger reported about smart charging (None: it did not say, or we did not ask yet)."""

    smart_charging: bool | None = None
    max_stack_level: int | None = None
    current: bool = True
    power: bool = False
    max_periods: int | None = None

    @classmethod
    def from_configuration(cls, configuration: dict) -> "ChargerCapabilities":
        """From ChargeBox.configuration ({key: {"value": ..., "readonly": ...}}, as GetConfiguration keeps it)."""

        def value(key):
            entry = configuration.get(key)
            return entry.get("value") if isinstance(entry, dict) else None

        def integer(key):
            try:
                return int(value(key))
            except (TypeError, ValueError):
                return None

        profiles = value("SupportedFeatureProfiles")
        units = value("ChargingScheduleAllowedChargingRateUnit")
        unit_names = {unit.strip().lower() for unit in units.split(",")} if units else {"current"}
        return cls(
            smart_charging=None if profiles is None else "smartcharging" in profiles.replace(" ", "").lower(),
            max_stack_level=integer("ChargeProfileMaxStackLevel"),
            current="current" in unit_names or not unit_names & {"power"},
            power="power" in unit_names,
            max_periods=integer("ChargingScheduleMaxPeriods"),
        )

    @property
    def known(self) -> bool:
        return self.smart_charging is not None or self.max_stack_level is not None

    @property
    def stack_level(self) -> int:
        """Ours: the highest the charger has, so a lease overrides the operator's profiles of the same purpose."""
        return 1 if self.max_stack_level is None else max(self.max_stack_level, 0)

    @property
    def has_hold_level(self) -> bool:
        return self.stack_level >= 1


def profile_payload(
    *,
    profile_id: int,
    purpose: ChargingProfilePurposeType,
    stack_level: int,
    connector_id: int,
    amps: float,
    phases: int,
    capabilities: ChargerCapabilities,
    voltage: float,
    valid_to: datetime | None = None,
    transaction_id: int | None = None,
    starting: datetime | None = None,
) -> dict:
    """The SetChargingProfile request (camelCase, as sent) limiting to `amps` per phase on `phases` phases:
    relative to each session's start, or absolute from `starting` (a ChargePointMaxProfile has no session)."""
    if capabilities.current or not capabilities.power:
        unit, limit = ChargingRateUnitType.amps, round(amps, 1)
    else:
        unit, limit = ChargingRateUnitType.watts, round(amps * voltage * phases, 1)
    kind = ChargingProfileKindType.absolute if starting else ChargingProfileKindType.relative
    profile = {
        "chargingProfileId": profile_id,
        "stackLevel": stack_level,
        "chargingProfilePurpose": purpose.value,
        "chargingProfileKind": kind.value,
        "chargingSchedule": {
            "chargingRateUnit": unit.value,
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit, "numberPhases": phases}],
        },
    }
    if starting is not None:
        profile["chargingSchedule"]["startSchedule"] = ocpp_time(starting)
    if transaction_id is not None:
        profile["transactionId"] = transaction_id
    if valid_to is not None:
        profile["validTo"] = ocpp_time(valid_to)
    return {"connectorId": connector_id, "csChargingProfiles": profile}


def amps_of(payload: dict, *, voltage: float) -> float | None:
    """The per-phase current a SetChargingProfile request allows (for the socket's deviation check)."""
    try:
        schedule = payload["csChargingProfiles"]["chargingSchedule"]
        period = schedule["chargingSchedulePeriod"][0]
        limit = float(period["limit"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    if schedule.get("chargingRateUnit") == ChargingRateUnitType.watts.value:
        return limit / (voltage * (period.get("numberPhases") or 3))
    return limit
