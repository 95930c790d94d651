import pytest


@pytest.fixture(autouse=True)
def _chinese_first(settings):
    settings.LANGUAGE_CODE = "zh-hans"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Every factory user gets a password; PBKDF2's million rounds per user would dominate the suite's time.
    Sign-in, lockout and session behaviour do not depend on the hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# The usual cast of a view test: one outlet, one of its staff members, signed in.
@pytest.fixture
def outlet():
    from tests.factories import OutletFactory

    return OutletFactory()


@pytest.fixture
def staff(outlet):
    from tests.factories import StaffFactory

    return StaffFactory(outlet=outlet)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff.user)
    return client


@pytest.fixture(autouse=True)
def _second_factor_only_where_tested(settings, request):
    """R-SEC-AUTH-2's gate is on in production (OTP_REQUIRED cannot be turned off without debug). Tests of other
    rules sign HQ, branch and admin users in without a device; the tests marked `second_factor` turn it on."""
    settings.OTP_REQUIRED = request.node.get_closest_marker("second_factor") is not None
