import click
from flask.cli import with_appcontext

from dashboard.audit.service import Actor
from dashboard.auth.models import ROLES
from dashboard.auth.service import StaffError, create_staff
from dashboard.extensions import db


@click.command("create-staff")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the account may do.")
@click.option("--password", help="Prompted for (hidden) when not given.")
@with_appcontext
def create_staff_command(email, role, password):
    """Add a staff account."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        staff = create_staff(email, role, password, Actor.system("cli"))
    except StaffError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Created {staff.role} {staff.email}.")
