"""The web pages' own dependencies.

``FormDep`` reads a posted form before the handler runs, so handlers can be plain ``def``s:
FastAPI runs those in its thread pool, and a handler waiting for the database's write lock
(its turn among the writers, store/db.py) then never holds up the event loop, and with it every
other request of the server."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData


async def read_form(request: Request) -> FormData:
    return await request.form()  # Starlette keeps it: the CSRF check reads the same one


FormDep = Annotated[FormData, Depends(read_form)]
