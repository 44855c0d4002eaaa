"""Handing messages to the mail server, with a timeout (Flask-Mail 0.10 sets none)."""

import smtplib

from flask import current_app
from flask_mail import Connection, Message


class TimeoutConnection(Connection):
    """Flask-Mail's connection, but a dead server cannot hang the sender."""

    def configure_host(self):
        timeout = current_app.config["MAIL_TIMEOUT_SECONDS"]
        cls = smtplib.SMTP_SSL if self.mail.use_ssl else smtplib.SMTP
        host = cls(self.mail.server, self.mail.port, timeout=timeout)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host

    def __exit__(self, *exc):
        # Saying goodbye to a server that already hung up is not an error worth raising.
        if self.host is not None:
            try:
                self.host.quit()
            except (smtplib.SMTPException, OSError):
                self.host.close()


def build_message(outbox_message):
    message = Message(
        subject=outbox_message.subject,
        recipients=[outbox_message.to_email],
        body=outbox_message.body_text,
        html=outbox_message.body_html,
        extra_headers=outbox_message.headers,
    )
    domain = current_app.config["MAIL_DEFAULT_SENDER"].rpartition("@")[2] or "reclaim.local"
    # One stable id per outbox row: a repeat after a crash is recognisable as the same mail.
    message.msgId = (
        f"<outbox-{outbox_message.id}.{outbox_message.dedupe_key.replace(':', '.')}@{domain}>"
    )
    message.outbox_id = outbox_message.id  # for the console's line
    return message


class ConsoleConnection:
    """Development: one line per email, where to read it in the outbox, instead of sending
    it. The body stays in the outbox: a batch of recovery emails would fill the terminal."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def send(self, message):
        print(
            f"Email printed, not sent: to {', '.join(message.recipients)}, "
            f"{message.subject!r}, read it at {outbox_url(message.outbox_id)}",  # repr: one line
            flush=True,
        )


def outbox_url(outbox_id):
    """The staff page of one outbox email, on PUBLIC_BASE_URL (a job has no request)."""
    path = current_app.url_map.bind("reclaim.invalid").build(
        "outbox.detail", {"message_id": outbox_id}
    )
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path


def delivers():
    """False for the console backend: what it prints reaches no customer."""
    return current_app.config["MAIL_BACKEND"] != "console"


def connect():
    if current_app.config["MAIL_BACKEND"] == "console":
        return ConsoleConnection()
    return TimeoutConnection(current_app.extensions["mail"])
