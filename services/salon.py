"""The salon's own settings (one row), cached per request."""

from flask import current_app, g

from extensions import db
from models import Salon


def get_salon() -> Salon:
    salon = g.get("salon")
    if salon is None:
        salon = db.session.get(Salon, 1)
        if salon is None:
            salon = Salon(id=1, name="Okno", timezone=current_app.config["SALON_TIMEZONE"])
        g.salon = salon
    return salon
