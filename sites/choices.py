from django.db import models


class PhaseCount(models.IntegerChoices):
    SINGLE = 1, "1 phase"
    THREE = 3, "3 phases"
