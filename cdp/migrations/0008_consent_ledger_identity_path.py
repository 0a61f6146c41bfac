"""Let identity resolution re-point consent entries to another profile, and nothing else.

When records move between profiles (a merge, a split, an unmerge), their consent entries
must follow them, or the current state per purpose would be computed on the wrong
person. The ledger stays append-only for everything else: with cdp.identity = 'on'
(SET LOCAL, identity's reassignment only) an UPDATE may change profile_id and must leave
every other column as it was; DELETE still needs the erasure path.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION cdp_consent_append_only() RETURNS trigger AS $$
BEGIN
    IF coalesce(current_setting('cdp.erasure', true), '') = 'on' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP = 'UPDATE'
       AND coalesce(current_setting('cdp.identity', true), '') = 'on'
       AND (to_jsonb(NEW) - 'profile_id') = (to_jsonb(OLD) - 'profile_id') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'cdp_consententry is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""
PREVIOUS = """
CREATE OR REPLACE FUNCTION cdp_consent_append_only() RETURNS trigger AS $$
BEGIN
    IF coalesce(current_setting('cdp.erasure', true), '') = 'on' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    RAISE EXCEPTION 'cdp_consententry is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def _run(sql: str):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            with schema_editor.connection.cursor() as cursor:  # no params: '%' is PL/pgSQL's
                cursor.execute(sql)
    return apply


class Migration(migrations.Migration):
    dependencies = [("cdp", "0007_envelope_keys_and_suppression")]

    operations = [migrations.RunPython(_run(FUNCTION), _run(PREVIOUS))]
