"""Normalisation and validation of customer identity (R-RES-3, R-MATCH-2).

One implementation, used by the form, the feeds and the services alike.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def id_check_digit(first17: str) -> str:
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=False)) % 11]


def normalise_id_number(raw: str) -> str:
    """GB 11643: 18 characters, a real date of birth, a correct check digit; 15-digit numbers become 18."""
    value = unicodedata.normalize("NFKC", raw or "").strip().replace(" ", "").upper()
    if not value:
        raise ValidationError(_("Enter the ID card number."), code="required")
    if re.fullmatch(r"\d{15}", value):
        first17 = value[:6] + "19" + value[6:]
        value = first17 + id_check_digit(first17)
    if not re.fullmatch(r"\d{17}[\dX]", value):
        raise ValidationError(_("An ID card number has 18 characters: 17 digits and a digit or X."), code="format")
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise ValidationError(_("The date of birth in the ID card number is not a real date."),
                              code="birth_date") from None
    if born < dt.date(1900, 1, 1) or born > timezone.localdate():
        raise ValidationError(_("The date of birth in the ID card number is out of range."), code="birth_date")
    if id_check_digit(value[:17]) != value[17]:
        raise ValidationError(_("The check digit of the ID card number is wrong."), code="check_digit")
    return value


_MOBILE = re.compile(r"1[3-9]\d{9}")
_FIXED = re.compile(r"0\d{2,3}-?\d{7,8}(-\d{1,6})?")


def normalise_phone(raw: str) -> str:
    """Mainland mobile (11 digits starting 1) or fixed line (area code 0xx[x], 7–8 digits)."""
    value = unicodedata.normalize("NFKC", raw or "").strip().replace(" ", "")
    if value.startswith("+86"):
        value = value[3:]
    if _MOBILE.fullmatch(value) or _FIXED.fullmatch(value):
        return value
    raise ValidationError(
        _("Enter a mainland mobile number (11 digits starting with 1) or a fixed line with area code."),
        code="phone")


def normalise_name(raw: str) -> str:
    """R-MATCH-2: fold full-width/half-width (NFKC) and drop spaces before comparing names.

    Spaces inside a Chinese name are typing noise ("张 三" is 张三), so all of them go, not only the ends.
    """
    value = unicodedata.normalize("NFKC", raw or "")
    return "".join(value.split()).casefold()


def clean_customer_name(raw: str) -> str:
    value = " ".join(unicodedata.normalize("NFKC", raw or "").split())
    if not value:
        raise ValidationError(_("Enter the customer's name."), code="required")
    if len(value) > 100:
        raise ValidationError(_("The customer's name is too long."), code="max_length")
    return value
