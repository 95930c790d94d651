from django.db import models  # noqa: F401  (metrics and roll-ups arrive with the performance issue)
