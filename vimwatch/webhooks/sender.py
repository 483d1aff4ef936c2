"""One signed POST to a receiver; anything but a 2xx answer in time is a failure."""

from __future__ import annotations

import httpx

from vimwatch.webhooks.signing import SIGNATURE_HEADER, sign

TIMEOUT = 5.0


class DeliveryFailed(Exception):
    """The receiver refused, failed, or did not answer in time; the message says which.

    `answered` tells a receiver that answered (with an error status) from one that could
    not be reached or kept the request hanging: only the latter ties up sending slots.
    """

    def __init__(self, message: str, *, answered: bool = False) -> None:
        super().__init__(message)
        self.answered = answered


async def post_signed(
    client: httpx.AsyncClient, url: str, secret: str, body: str, *, delivery: str, event: str
) -> int:
    """POST `body` with its signature; return the receiver's status code."""
    payload = body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "vimwatch-webhook/1",
        SIGNATURE_HEADER: sign(secret, payload),
        "X-Vimwatch-Event": event,
        "X-Vimwatch-Delivery": delivery,
    }
    try:
        response = await client.post(url, content=payload, headers=headers, timeout=TIMEOUT)
    except httpx.TimeoutException:
        raise DeliveryFailed(f"no answer within {TIMEOUT:g}s") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise DeliveryFailed(f"cannot reach the receiver: {type(exc).__name__}: {exc}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"the receiver answered HTTP {response.status_code}", answered=True)
    return response.status_code
