"""The relay's errors on the wire: ``{"error": {"code", "message", "hint"?}}`` with a status,
and the HTTP refusal of a WebSocket upgrade."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse
from starlette.websockets import WebSocket


class ApiProblem(Exception):
    def __init__(
        self, status: int, code: str, message: str, hint: str | None = None, retry: float = 0
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.hint, self.retry = (
            status,
            code,
            message,
            hint,
            retry,
        )

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        headers = {"Retry-After": str(max(1, round(self.retry)))} if self.retry else None
        return JSONResponse({"error": body}, status_code=self.status, headers=headers)


async def deny(websocket: WebSocket, problem: ApiProblem) -> None:
    try:
        await websocket.send_denial_response(problem.response())
    except RuntimeError:  # the server lacks the denial extension: a plain 403
        await websocket.close(code=1008)
