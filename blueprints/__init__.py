"""HTTP only: parse the request, call one service, render one template."""

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from blueprints.auth import bp as auth_bp
    from blueprints.channels import bp as channels_bp
    from blueprints.counts import bp as counts_bp
    from blueprints.deeplinks import bp as deeplinks_bp
    from blueprints.health import bp as health_bp
    from blueprints.inbox import bp as inbox_bp
    from blueprints.media import bp as media_bp
    from blueprints.meta import bp as meta_bp
    from blueprints.settings import bp as settings_bp
    from blueprints.stream import bp as stream_bp
    from blueprints.templates import bp as quick_replies_bp
    from blueprints.webhooks import bp as webhooks_bp
    from blueprints.widget import bp as widget_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(inbox_bp)
    app.register_blueprint(counts_bp)
    app.register_blueprint(settings_bp, url_prefix="/settings")
    app.register_blueprint(stream_bp)
    app.register_blueprint(widget_bp)
    app.register_blueprint(quick_replies_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(channels_bp)
    app.register_blueprint(deeplinks_bp)
    app.register_blueprint(meta_bp)
    app.register_blueprint(media_bp)
