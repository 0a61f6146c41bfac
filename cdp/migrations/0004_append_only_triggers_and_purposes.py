"""Seed purposes; make the consent ledger and the audit log append-only in the database.

The triggers refuse UPDATE and DELETE unless the transaction opted in with
SET LOCAL (set_config(..., true)):
- cdp.erasure = 'on' for the consent ledger (GDPR erasure path only);
- cdp.audit_purge = 'on' for the audit log (the chained retention purge only).
PostgreSQL only; the SQLite demo has no triggers.
"""

from django.db import migrations

PURPOSES = [
    ("email_marketing", "Email marketing"),
    ("sms_marketing", "SMS marketing"),
    ("ads_targeting", "Ads targeting"),
    ("profiling", "Profiling"),
    ("partner_sharing", "Sharing with partners"),
]

TRIGGER = """
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
BEGIN
    IF coalesce(current_setting('{flag}', true), '') = 'on' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    RAISE EXCEPTION '{table} is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS {name} ON {table};
CREATE TRIGGER {name} BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {name}();
"""
GUARDS = [
    ("cdp_consent_append_only", "cdp_consententry", "cdp.erasure"),
    ("cdp_audit_append_only", "cdp_auditevent", "cdp.audit_purge"),
]


def seed_purposes(apps, schema_editor):
    Purpose = apps.get_model("cdp", "Purpose")
    for slug, name in PURPOSES:
        Purpose.objects.get_or_create(slug=slug, defaults={"name": name})


def add_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:  # no params: '%' is PL/pgSQL's
        for name, table, flag in GUARDS:
            cursor.execute(TRIGGER.format(name=name, table=table, flag=flag))


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table, _ in GUARDS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {name}()")


class Migration(migrations.Migration):
    dependencies = [("cdp", "0003_privacy_ledger_and_audit_chain")]

    operations = [
        migrations.RunPython(seed_purposes, migrations.RunPython.noop),
        migrations.RunPython(add_triggers, drop_triggers),
    ]
