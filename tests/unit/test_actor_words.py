"""Issue 19: a system actor stored with a row (the register's and the audit trail's "recorded by", a feed's
"loaded by") reads in words in the reader's language; a user keeps the name recorded."""
from django.utils import translation

from common.actors import BATCH, actor_words


def test_a_system_actor_is_named_in_words_in_either_language_and_a_user_by_his_name():
    with translation.override("en"):
        assert actor_words("load_demo") == "demo data loader"
        assert actor_words(BATCH.label) == "nightly batch"
        assert actor_words("directory") == "the directory"
        assert actor_words("head-b1") == "head-b1"
    with translation.override("zh-hans"):
        assert actor_words("load_demo") == "演示数据加载程序"
        assert actor_words("nightly-batch") == "夜间批处理"
