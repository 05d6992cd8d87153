from django.core.validators import RegexValidator

# OCPP 2.0.1 / OCA security whitepaper "identifierString": what may appear in a charger's URL identity.
charge_box_id_validator = RegexValidator(
    r"^[A-Za-z0-9*\-_=:+|@.]{1,48}$",
    "Use 1 to 48 characters: letters, digits and * - _ = : + | @ .",
)

# OCPP 1.6 IdToken is a CiString20: printable ASCII, no surrounding or inner whitespace in practice (RFID UIDs).
id_tag_validator = RegexValidator(r"^[!-~]{1,20}$", "Use 1 to 20 printable ASCII characters without spaces.")

# OCA "Improved security for OCPP 1.6-J": the Basic auth password (AuthorizationKey) is 16 to 40 characters.
charger_password_validator = RegexValidator(r"^[!-~]{16,40}$", "Use 16 to 40 printable ASCII characters.")
