from django.db import models


class PriorityChangeSource(models.TextChoices):
    API = "api", "REST API"
    ADMIN = "admin", "admin"
    UNPLUG = "unplug", "unplugged (reset to 0)"
    RESET = "reset", "reset of all (DELETE /priorities)"


class ProfileApplyStatus(models.TextChoices):
    """What became of the last charging profile load management sent a connector."""

    ACCEPTED = "Accepted", "accepted"
    REJECTED = "Rejected", "rejected by the charger"
    NOT_SUPPORTED = "NotSupported", "charger does not support smart charging"
    NOT_SENT = "NotSent", "not sent (charger offline or busy)"
    NO_ANSWER = "NoAnswer", "no answer in time"
    ERROR = "Error", "the charger answered with an error"


class PriceLevel(models.TextChoices):
    NORMAL = "normal", "normal"
    EXPENSIVE = "expensive", "expensive: only what departures need"
