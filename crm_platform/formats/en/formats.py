"""English pages keep the office's ISO dates in tables; amounts grouped by thousands."""
from django.conf.locale.en.formats import *  # noqa: F401,F403 - the defaults this refines

SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
