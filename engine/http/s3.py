"""The S3 face (placeholder until the S3 issue lands): every request gets S3's NotImplemented XML."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .server import Request, Response

if TYPE_CHECKING:
    from ..core import Engine

NOT_YET = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NotImplemented</Code>'
           b"<Message>The S3 API is not yet available on this server; use the REST API under /v1</Message>"
           b"</Error>")


class S3Face:
    def __init__(self, engine: "Engine") -> None:
        self.engine = engine

    async def handle(self, req: Request) -> Response:
        return Response(501, [("content-type", "application/xml")], NOT_YET)
