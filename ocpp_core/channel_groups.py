"""Names on the channel layer, shared by the consumers that join them and the services that send to them."""


def charge_box_group(charge_box_pk: int) -> str:
    """The channel-layer group of a charger: whichever process holds its socket is its only member."""
    return f"chargebox.{charge_box_pk}"
