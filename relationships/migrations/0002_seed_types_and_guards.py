"""Seed the ten relationship types (R-TYPE-1) and make the audit trail append-only in the database."""
from django.db import migrations

FRONT = ["advisor", "account_manager", "other_front"]

TYPES = [
    # code, name, name_en, holders, qualification, creation, event kind, account type, customer, first only,
    # single holder, cross-region check, late chain, always chain, reservable
    ("NEW_DEV", "新增开发关系", "New development", FRONT, "securities", "auto_match",
     "open", "securities", "new", False, False, True, "three_level", "", True),
    ("SECONDARY_DEV", "二次开发关系", "Secondary development", FRONT, "securities", "secondary",
     "", "", "", False, False, False, "", "", True),
    ("CORE_SERVICE", "核心服务关系", "Core service", ["advisor"], "consulting", "core_list",
     "", "", "", False, True, False, "", "core_list", False),
    ("IB_SERVICE", "IB服务关系", "IB service", FRONT, "futures", "auto_match",
     "open", "futures", "any", False, False, False, "two_level_ib", "", True),
    ("CREDIT_DEV", "存量新增信用开发关系", "Existing-customer new credit development", FRONT, "securities",
     "auto_match", "open", "credit", "existing", False, False, False, "three_level", "", True),
    ("REPURCHASE_DEV", "存量新增约定式购回关系", "Existing-customer new agreed-repurchase development", FRONT,
     "securities", "auto_match", "repurchase_start", "repurchase", "existing", True, False, False,
     "three_level", "", True),
    ("BROKER_DEV", "开发关系", "Development (broker)", ["broker"], "broker", "reservation_approval",
     "open", "securities", "new", False, True, False, "broker", "broker", True),
    ("EXISTING_DEV", "存量开发关系", "Existing development", FRONT, "securities", "branch",
     "", "", "", False, False, False, "", "one_level", False),
    ("MAINTENANCE", "维护关系", "Maintenance", FRONT, "securities", "branch",
     "", "", "", False, False, False, "", "one_level", False),
    ("KEY_SERVICE", "重点服务关系", "Key service", FRONT, "securities", "branch",
     "", "", "", False, False, False, "", "one_level", False),
]


def seed(apps, schema_editor):
    RelationshipType = apps.get_model("relationships", "RelationshipType")
    for order, row in enumerate(TYPES, start=1):
        (code, name, name_en, holders, qual, creation, ev, acct, cust, first, single, cross,
         late, always, reservable) = row
        RelationshipType.objects.update_or_create(code=code, defaults=dict(
            name=name, name_en=name_en, holder_kinds=holders, qualification=qual, creation=creation,
            match_event_kind=ev, match_account_type=acct, match_customer=cust, match_first_only=first,
            single_holder=single, cross_region_check=cross, chain_late=late, chain_always=always,
            reservable=reservable, sort_order=order))


APPEND_ONLY = """
CREATE OR REPLACE FUNCTION crm_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER auditentry_append_only BEFORE UPDATE OR DELETE ON relationships_auditentry
    FOR EACH ROW EXECUTE FUNCTION crm_refuse_change();
CREATE TRIGGER piiaccess_append_only BEFORE UPDATE OR DELETE ON relationships_piiaccess
    FOR EACH ROW EXECUTE FUNCTION crm_refuse_change();
"""
DROP = """
DROP TRIGGER IF EXISTS auditentry_append_only ON relationships_auditentry;
DROP TRIGGER IF EXISTS piiaccess_append_only ON relationships_piiaccess;
"""


class Migration(migrations.Migration):
    dependencies = [("relationships", "0001_initial")]
    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
        migrations.RunSQL(APPEND_ONLY, DROP),
    ]
