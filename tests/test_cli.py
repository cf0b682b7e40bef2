"""Command-line tools: creating staff accounts from the shell."""

from sqlalchemy import func, select

from extensions import db
from models import User


def test_create_user_makes_an_owner_who_can_log_in_and_open_settings(app, login_as):
    result = app.test_cli_runner().invoke(
        args=[
            "create-user",
            "Owner@Salon.test",
            "--role",
            "owner",
            "--password",
            "secret-pass",
            "--name",
            "Ирина",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "created owner owner@salon.test" in result.output
    user = db.session.scalars(select(User).where(User.email == "owner@salon.test")).one()
    assert (user.name, user.role) == ("Ирина", "owner")
    assert login_as(user).get("/settings/").status_code == 200


def test_create_user_refuses_a_short_password_with_a_clear_message(app):
    result = app.test_cli_runner().invoke(args=["create-user", "anna@salon.test", "--password", "short"])
    assert result.exit_code == 1
    assert "Error: The password needs at least 8 characters." in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_create_user_refuses_an_e_mail_that_is_taken(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["create-user", "anna@salon.test", "--password", "secret-pass"])
    result = runner.invoke(args=["create-user", "ANNA@salon.test", "--password", "other-pass"])
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_create_user_refuses_an_unknown_role(app):
    result = app.test_cli_runner().invoke(
        args=["create-user", "x@salon.test", "--role", "boss", "--password", "secret-pass"]
    )
    assert result.exit_code == 2
    assert "boss" in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
