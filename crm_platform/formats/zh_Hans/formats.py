"""Mainland back-office conventions over Django's zh_Hans defaults: amounts grouped by thousands with commas
(as on statements and the core system's reports), dates as 2026-03-05 in tables and forms."""
from django.conf.locale.zh_Hans.formats import *  # noqa: F401,F403 - the defaults this refines

DATE_FORMAT = "Y年n月j日"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
