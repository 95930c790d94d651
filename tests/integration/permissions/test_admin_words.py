"""Issue 19: the group and user admin read in the reader's language.

Django stores each model permission's name in English ("Can add permission") and its pickers show it as stored; here
a permission is named at read time: application | model | what it allows, each in the reader's language
(permissions.auth_admin). Django's own sentence on the user-add page that its Chinese catalogue lacks is ours."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import translation

from permissions.auth_admin import permission_words
from relationships.models import Callback
from tests.support.factories import UserFactory
from tests.support.words import page_words

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    client.user = user
    return client


@pytest.mark.parametrize("lang, expected", [
    ("zh-hans", ["认证和授权 | 权限 | 可添加权限", "审批 | 审批操作 | 可查看审批操作",
                 "登录尝试 | 登录尝试记录 | 可删除登录尝试记录", "双重验证：验证器应用 | TOTP 设备 | 可修改TOTP 设备",
                 "对象权限 | 用户对象权限 | 可添加用户对象权限"]),
    ("en", ["Authentication and Authorization | permission | Can add permission",
            "approvals | case action | Can view case action"]),
])
def test_the_group_form_names_each_permission_in_the_readers_language(superuser_client, lang, expected):
    parts = page_words(superuser_client, reverse("admin:auth_group_add"), lang)
    for label in expected:
        assert label in parts, (label, [p for p in parts if "|" in p][:10])
    if lang == "zh-hans":
        assert not [p for p in parts if "Can " in p or "Axes" in p or "Guardian" in p or "Otp_" in p]
        assert "按住控制键（苹果电脑上为命令键）可选择多项。" in parts  # Django's help, ours in Chinese


def test_the_user_form_names_each_permission_in_the_readers_language(superuser_client):
    parts = page_words(superuser_client, reverse("admin:auth_user_change", args=[superuser_client.user.pk]), "zh-hans")
    assert "客户关系 | 回访 | 可修改回访" in parts
    assert not [p for p in parts if p.count("|") == 2 and "Can " in p]


def test_a_custom_permission_is_named_by_its_msgid_through_the_catalogue():
    perm = Permission.objects.create(codename="confirm_callback", name="callback recorded",
                                     content_type=ContentType.objects.get_for_model(Callback))
    with translation.override("zh-hans"):
        assert permission_words(perm) == "客户关系 | 回访 | 登记回访结果"
    with translation.override("en"):
        assert permission_words(perm).endswith("| callback | callback recorded")


@pytest.mark.parametrize("lang, sentence", [
    ("zh-hans", "创建用户后，您可以编辑更多用户选项。"),
    ("en", "After you’ve created a user, you’ll be able to edit more user options."),
])
def test_the_user_add_page_explains_the_next_step_in_the_readers_language(superuser_client, lang, sentence):
    assert sentence in page_words(superuser_client, reverse("admin:auth_user_add"), lang)
