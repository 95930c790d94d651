"""R-APR-1/2/5/6: the chains of the measures, as data."""
from django.db import migrations

CHAINS = {
    "three_level": ("三级审批", [(1, "account_opening_review", "branch"), (2, "outlet_review", "branch"),
                                (3, "final_approval", "branch")]),
    "two_level_ib": ("二级审批（IB）", [(1, "outlet_head", "outlet"), (2, "final_approval", "branch")]),
    "one_level": ("一级审批", [(1, "designated_person", "branch")]),
    "special_new": ("特殊新增审批", [(1, "designated_person", "branch"), (2, "final_approval", "branch"),
                                    (3, "hq", "hq")]),
    "broker": ("经纪人开发关系审批", [(1, "account_opening_review", "branch"), (2, "outlet_review", "branch"),
                                     (3, "final_approval", "branch")]),
    "cross_region": ("跨区域审批", [(1, "final_approval", "opening_branch"),
                                   (1, "final_approval", "participant_branches"), (2, "hq", "hq")]),
    "core_list": ("核心客户名单审核", [(1, "hq", "hq")]),
}


def seed(apps, schema_editor):
    Chain = apps.get_model("approvals", "Chain")
    ChainStep = apps.get_model("approvals", "ChainStep")
    for code, (name, steps) in CHAINS.items():
        chain, created = Chain.objects.get_or_create(code=code, version=1, defaults={"name": name})
        if created:
            ChainStep.objects.bulk_create(
                ChainStep(chain=chain, order=o, post=p, scope=s) for o, p, s in steps)


APPEND_ONLY = """
CREATE TRIGGER caseaction_append_only BEFORE UPDATE OR DELETE ON approvals_caseaction
    FOR EACH ROW EXECUTE FUNCTION crm_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("approvals", "0001_initial"), ("relationships", "0002_seed_types_and_guards")]
    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
        migrations.RunSQL(APPEND_ONLY, "DROP TRIGGER IF EXISTS caseaction_append_only ON approvals_caseaction;"),
    ]
