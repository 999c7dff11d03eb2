"""Me and teammates."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import MISSING

from outbound.api.deps import CallerDep, SessionDep
from outbound.api.schemas import DbId, UserCreated, UserIn, UserOut, UserPatch
from outbound.service import accounts

router = APIRouter(tags=["team"])


@router.get("/me", response_model=UserOut)
def me(session: SessionDep, caller: CallerDep) -> object:
    return accounts.get_user(session, caller, caller.user_id)


@router.get("/users", response_model=list[UserOut])
def list_users(session: SessionDep, caller: CallerDep) -> object:
    return accounts.list_users(session, caller)


@router.post("/users", response_model=UserCreated, status_code=201)
def add_user(body: UserIn, session: SessionDep, caller: CallerDep) -> object:
    user, token = accounts.add_teammate(
        session, caller, body.email, body.name, body.role, body.group_name
    )
    return UserCreated(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        group_name=user.group_name,
        api_token=token,
    )


@router.patch("/users/{user_id}", response_model=UserOut)
def patch_user(user_id: DbId, body: UserPatch, session: SessionDep, caller: CallerDep) -> object:
    """Only the fields sent change: `group_name` null (or "") removes the group; `role` null
    is refused."""
    role = None if body.role is MISSING else body.role
    # The service keeps a group given as None and removes one given as "".
    group = None if body.group_name is MISSING else (body.group_name or "")
    return accounts.update_teammate(session, caller, user_id, role, group)


@router.delete("/users/{user_id}", status_code=204)
def delete_user(user_id: DbId, session: SessionDep, caller: CallerDep) -> None:
    accounts.remove_teammate(session, caller, user_id)
