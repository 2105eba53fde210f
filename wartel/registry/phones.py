"""Phone numbers: normalised to E.164 with ``phonenumbers``, Indonesia as the default region."""

from __future__ import annotations

import hashlib
import hmac

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from wartel.errors import Unprocessable

DEFAULT_REGION = "ID"
# Numbers a kiosk must never be pointed at: they cost the family money or reach no person.
_UNDIALLABLE_TYPES = frozenset({
    PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST, PhoneNumberType.PAGER,
    PhoneNumberType.VOICEMAIL,
})


def normalise_phone(raw: str, *, field: str = "phone") -> str:
    """``raw`` as E.164 (``+62812…``), or :class:`Unprocessable` naming ``field``.

    Local Indonesian forms (``0812-3456-7890``, ``62812…``) are read with region ID; numbers of other
    countries need their ``+`` prefix.
    """
    text = raw.strip()
    if not text or len(text) > 40:
        raise Unprocessable("the phone number is empty or too long", code="phone_malformed", field=field)
    if text.startswith("62") and not text.startswith("+"):
        text = "+" + text  # "62812…" is how numbers come out of many spreadsheets
    try:
        number = phonenumbers.parse(text, DEFAULT_REGION)
    except NumberParseException as exc:
        raise Unprocessable("the phone number cannot be read", code="phone_malformed", field=field) from exc
    if not phonenumbers.is_valid_number(number):
        raise Unprocessable("not a valid phone number (check the digits and the country code)",
                            code="phone_invalid", field=field)
    if (phonenumbers.number_type(number) in _UNDIALLABLE_TYPES
            or not phonenumbers.can_be_internationally_dialled(number)):
        raise Unprocessable("this kind of number cannot be called from a kiosk (premium rate, pager, "
                            "voicemail or not dialable from outside)", code="phone_not_dialable", field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_ref(secret: bytes, e164: str) -> str:
    """A keyed hash of a number under the service's one secret: what audit entries carried before migration
    0065. It cannot be shredded; new entries use :func:`wartel.privacy.numbers.number_ref`."""
    return hmac.new(secret, e164.encode(), hashlib.sha256).hexdigest()[:24]
