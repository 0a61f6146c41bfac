"""The standard record fields and how each is stored; the one place that lists them."""

STANDARD_FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "address_line1",
    "address_line2",
    "postcode",
    "city",
    "region",
    "country",
    "company",
    "customer_id",
)
# Direct identifiers: stored only as ciphertext in "<field>_enc" columns.
ENCRYPTED_FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "address_line1",
    "address_line2",
    "customer_id",
)
CLEAR_FIELDS: tuple[str, ...] = tuple(f for f in STANDARD_FIELDS if f not in ENCRYPTED_FIELDS)
# Identifiers with a keyed blind index ("<field>_bidx") for exact lookup and matching.
INDEXED_FIELDS: tuple[str, ...] = ("email", "phone", "customer_id")
# Fields whose matching form (lowercase ASCII) is kept, encrypted, beside the original.
MATCH_FIELDS: tuple[str, ...] = ("first_name", "last_name", "address_line1", "address_line2")
# Identifiers copied as they are (already normalized) into the same encrypted matching
# document, so identity resolution decrypts one ciphertext per record, not four.
MATCH_VERBATIM: tuple[str, ...] = ("email", "phone", "birth_date")

MAX_LENGTH: dict[str, int] = {
    "external_id": 255,
    "first_name": 200,
    "last_name": 200,
    "email": 254,
    "phone": 40,
    "birth_date": 40,
    "address_line1": 300,
    "address_line2": 300,
    "postcode": 20,
    "city": 120,
    "region": 120,
    "country": 64,
    "company": 200,
    "customer_id": 120,
}


def enc_column(field: str) -> str:
    return f"{field}_enc"


def bidx_column(field: str) -> str:
    return f"{field}_bidx"
