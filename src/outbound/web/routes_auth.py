"""Sign in and sign out."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from outbound.api.deps import DbDep
from outbound.web.render import page
from outbound.web.session import check_csrf, check_password, sign_in

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_page(request: Request) -> Response:
    return page(request, "login.html")


@router.post("/login", dependencies=[Depends(check_csrf)])
async def login(request: Request, db: DbDep) -> Response:
    form = await request.form()
    email, password = str(form.get("email") or ""), str(form.get("password") or "")
    with db.session() as session:
        user = check_password(session, email, password)
    if user is None:
        errors = {"form": "That email and password do not match an account."}
        if not email.strip():
            errors = {"email": "Enter your email address."}
        return page(request, "login.html", 401, errors=errors, values={"email": email})
    sign_in(request, user)
    return RedirectResponse("/", status_code=303)


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
