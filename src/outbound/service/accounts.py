"""Teams, users and API tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from outbound.crypto import hash_api_token, new_api_token
from outbound.domain.roles import can_grant_role, can_manage_teammates
from outbound.domain.vocabulary import ROLES
from outbound.service.caller import Caller
from outbound.service.errors import Conflict, Forbidden, Invalid, NotFound
from outbound.store.models import ApiToken, IntegrationSettings, Sequence, Team, User, utcnow


def create_team(session: Session, name: str) -> Team:
    if not name.strip():
        raise Invalid("team name is required", "name")
    team = Team(name=name.strip())
    session.add(team)
    session.flush()
    return team


def create_user(
    session: Session,
    team_id: int,
    email: str,
    name: str,
    role: str,
    group_name: str | None = None,
    password_hash: str | None = None,
) -> tuple[User, str]:
    """Create a user with default integration settings; returns the user and a new API token."""
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}", "role")
    email = email.strip().lower()
    if session.get(Team, team_id) is None:
        raise NotFound(f"team {team_id} not found", "team_id")
    # Only this team is asked: whether the address has an account in another firm is not
    # this team's business (and a refusal would tell them).
    taken = select(User.id).where(User.team_id == team_id, User.email == email)
    if session.scalar(taken) is not None:
        raise Conflict(f"{email} is already a member of this team", "email")
    user = User(
        team_id=team_id,
        email=email,
        name=name.strip() or email,
        role=role,
        group_name=group_name,
        password_hash=password_hash,
    )
    session.add(user)
    session.flush()
    session.add(IntegrationSettings(user_id=user.id))
    token = issue_token(session, user.id)
    return user, token


def issue_token(session: Session, user_id: int, label: str = "default") -> str:
    token = new_api_token()
    session.add(ApiToken(user_id=user_id, token_hash=hash_api_token(token), label=label))
    session.flush()
    return token


# A token's "last used" moves at most this often: checking a token is then a read that waits
# for no writer, and one request a minute per token records the use.
TOKEN_USE_GRANULARITY = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenCheck:
    caller: Caller
    record_use: bool  # the token's last use is older than TOKEN_USE_GRANULARITY


def check_token(session: Session, token: str) -> TokenCheck | None:
    """Who a token belongs to (a read); whether its use is due to be recorded."""
    row = session.execute(
        select(ApiToken.last_used_at, User.id, User.team_id, User.role)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_api_token(token))
    ).first()
    if row is None:
        return None
    last_used, user_id, team_id, role = row
    due = last_used is None or utcnow() - last_used >= TOKEN_USE_GRANULARITY
    return TokenCheck(Caller(user_id=user_id, team_id=team_id, role=role), due)


def record_token_use(session: Session, token: str) -> None:
    session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == hash_api_token(token))
        .values(last_used_at=utcnow())
    )


def list_users(session: Session, caller: Caller) -> list[User]:
    return list(
        session.scalars(select(User).where(User.team_id == caller.team_id).order_by(User.id))
    )


def get_user(session: Session, caller: Caller, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or user.team_id != caller.team_id:
        raise NotFound(f"user {user_id} not found", "user_id")
    return user


def add_teammate(
    session: Session, caller: Caller, email: str, name: str, role: str, group_name: str | None
) -> tuple[User, str]:
    if not can_manage_teammates(caller.role):
        raise Forbidden("only owners and managers can manage teammates")
    if role in ROLES and not can_grant_role(caller.role, role):
        raise Forbidden(f"a {caller.role} cannot create an {role}", "role")
    return create_user(session, caller.team_id, email, name, role, group_name)


def update_teammate(
    session: Session, caller: Caller, user_id: int, role: str | None, group_name: str | None
) -> User:
    if not can_manage_teammates(caller.role):
        raise Forbidden("only owners and managers can manage teammates")
    user = get_user(session, caller, user_id)
    if role is not None:
        if role not in ROLES:
            raise Invalid(f"role must be one of {', '.join(ROLES)}", "role")
        if not can_grant_role(caller.role, role) or (
            user.role == "owner" and caller.role != "owner"
        ):
            raise Forbidden(f"a {caller.role} cannot make this change", "role")
        user.role = role
    if group_name is not None:
        user.group_name = group_name or None
    return user


def remove_teammate(session: Session, caller: Caller, user_id: int) -> None:
    if not can_manage_teammates(caller.role):
        raise Forbidden("only owners and managers can manage teammates")
    user = get_user(session, caller, user_id)
    if user.id == caller.user_id:
        raise Invalid("you cannot remove yourself", "user_id")
    if user.role == "owner" and caller.role != "owner":
        raise Forbidden("only an owner can remove an owner")
    if session.scalar(select(Sequence.id).where(Sequence.owner_id == user.id).limit(1)):
        raise Conflict("this user owns sequences; transfer or delete them first", "user_id")
    session.delete(user)


def teams_of_users(session: Session, user_ids: list[int]) -> list[tuple[int, str]]:
    """(user id, team name) for a person's accounts: what sign-in offers to choose from."""
    rows = session.execute(
        select(User.id, Team.name)
        .join(Team, Team.id == User.team_id)
        .where(User.id.in_(user_ids))
        .order_by(Team.name)
    ).all()
    return [(user_id, name) for user_id, name in rows]
