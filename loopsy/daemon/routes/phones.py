"""``/phones`` and ``/relay``: pair phones through the relay, list and revoke them, and
point the daemon at a relay (see :mod:`loopsy.daemon.relay_link`)."""

from __future__ import annotations

from pydantic import ValidationError

from loopsy.config import Config, describe_validation_error
from loopsy.daemon.endpoints import Call, endpoint
from loopsy.daemon.relay_link.link import RelayLink
from loopsy.daemon.services import Services
from loopsy.protocol.errors import NotFound, Unavailable, ValidationFailed
from loopsy.protocol.pairing import ID_PATTERN
from loopsy.protocol.phones import (
    PairOffer,
    PairStart,
    PairState,
    PhoneList,
    RelayConfigure,
    RelayStatus,
)

TAGS = ("phones",)


def link_of(services: Services) -> RelayLink:
    link = services.relay_link
    if link is None:
        raise Unavailable("the relay link is not running in this daemon")
    return link


@endpoint(
    "POST",
    "/phones/pair",
    summary="Offer a pairing: URL for the QR code, and a code shown only here",
    body=PairStart,
    response=PairOffer,
    status=201,
    callers=("local",),
    tags=TAGS,
)
async def start_pairing(call: Call[PairStart, None]) -> PairOffer:
    """Registers with the relay if needed, issues a single-use pair token (TTL capped by the
    relay) and a 6-digit code that the URL does not contain. Only on the machine itself."""
    offer = await link_of(call.services).start_pairing(call.body.ttl)
    call.services.audit.event("phones", "pair_offer", pair_id=offer.pair_id)
    return offer


@endpoint(
    "GET",
    "/phones/pair/{pair_id}",
    summary="How a pairing offer went",
    response=PairState,
    callers=("local",),
    tags=TAGS,
)
async def pairing_state(call: Call[None, None]) -> PairState:
    """pending, paired (with the phone's id and name), burned (5 wrong codes) or expired."""
    pair_id = call.path_param("pair_id")
    if not ID_PATTERN.fullmatch(pair_id):
        raise NotFound("no such pairing")
    return link_of(call.services).pair_state(pair_id)


@endpoint(
    "GET",
    "/phones",
    summary="Paired phones",
    response=PhoneList,
    callers=("local", "key"),
    tags=TAGS,
)
async def list_phones(call: Call[None, None]) -> PhoneList:
    """Every paired phone: id, name, when paired, last seen, connected now."""
    link = link_of(call.services)
    return PhoneList(phones=link.registry.phones(link.online_phone_ids()))


@endpoint(
    "DELETE",
    "/phones/{phone_id}",
    summary="Revoke a phone",
    status=204,
    callers=("local", "key"),
    tags=TAGS,
)
async def revoke_phone(call: Call[None, None]) -> None:
    """The daemon forgets the phone's key at once and drops its connections; the relay is
    told to delete its credential (retried on the next link if the relay is unreachable)."""
    phone_id = call.path_param("phone_id")
    if not ID_PATTERN.fullmatch(phone_id) or not await link_of(call.services).revoke(phone_id):
        raise NotFound(f"no phone {phone_id!r}", hint="`loopsy phone list` shows the ids")
    call.services.audit.event("phones", "revoke", phone_id=phone_id)


@endpoint(
    "GET",
    "/relay",
    summary="Relay link status",
    response=RelayStatus,
    callers=("local", "key"),
    tags=TAGS,
)
async def relay_status(call: Call[None, None]) -> RelayStatus:
    """The relay URL, whether the link is up, this daemon's device id there, phones online."""
    return link_of(call.services).status()


@endpoint(
    "PUT",
    "/relay",
    summary="Point the daemon at a relay (takes effect at once)",
    body=RelayConfigure,
    response=RelayStatus,
    callers=("local",),
    tags=TAGS,
)
async def configure_relay(call: Call[RelayConfigure, None]) -> RelayStatus:
    """Saves ``relay.url`` (and the relay's registration secret, if given) to config.yaml;
    the link closes and reconnects to the new relay without a restart. Given the relay that
    refused this daemon (state ``rejected``), it registers again: a new device, so phones
    paired before must pair again."""
    body = call.body

    def change(config: Config) -> Config:
        config.relay.url = body.url
        if body.registration_secret is not None:
            config.relay.registration_secret = body.registration_secret
        return config

    try:
        call.services.config.update(change)
    except ValidationError as exc:
        raise ValidationFailed(f"relay: {describe_validation_error(exc)}") from None
    call.services.audit.event("relay", "configure", url=call.services.config.current.relay.url)
    link = link_of(call.services)
    if link.renew(force=body.renew):
        call.services.audit.event("relay", "renew", url=call.services.config.current.relay.url)
    return link.status()


routes = [start_pairing, pairing_state, list_phones, revoke_phone, relay_status, configure_relay]
