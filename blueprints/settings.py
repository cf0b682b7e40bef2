"""Owner settings: chat roles, salon, custom fields, tags, staff."""

from flask import Blueprint, render_template

from blueprints.access import owner_required

bp = Blueprint("settings", __name__)


@bp.get("/")
@owner_required
def index():
    return render_template("settings/index.html")
