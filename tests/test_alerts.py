"""Alert channels against real local receivers (SMTP, HTTP), the Atom feed through a real parser, the config."""

from __future__ import annotations

import email
import email.policy
import json
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from monitor.alerts import Message, Notifier
from monitor.alerts.atom import AtomNotifier, AtomSettings, entry_id
from monitor.alerts.base import ChannelError
from monitor.alerts.config import AlertsConfig, parse_alerts_config
from monitor.alerts.email import EmailNotifier, EmailSettings
from monitor.alerts.render import message_html, message_text, sample_event
from monitor.alerts.slack import SlackNotifier, SlackSettings
from monitor.alerts.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookNotifier,
    WebhookSettings,
    sign,
    verify_signature,
)
from monitor.errors import ConfigError

SECRET = "s3cr3t-hook-key"
EVIL = '<script>alert("owned")</script>'


# ---------------------------------------------------------------- local receivers

class Receiver:
    """An HTTP server on 127.0.0.1 that takes POSTs, checking the ClauseWatch signature when it has a secret.

    `down()` closes the port (connections are refused); `up()` listens on the same port again.
    """

    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret
        self.received: list[dict] = []  # accepted requests: path, headers (lower-case), body
        self.rejected = 0
        self.status = 200
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self.up()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def up(self) -> None:
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                ok = outer.secret is None or verify_signature(
                    outer.secret, body, headers.get(TIMESTAMP_HEADER.lower(), ""),
                    headers.get(SIGNATURE_HEADER.lower(), ""))
                status = outer.status if ok else 401
                if status < 300:
                    outer.received.append({"path": self.path, "headers": headers, "body": body})
                else:
                    outer.rejected += 1
                reply = b"ok" if status < 300 else b"bad signature" if not ok else b"unavailable"
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def json(self) -> list[dict]:
        return [json.loads(request["body"]) for request in self.received]


@pytest.fixture
def receiver():
    server = Receiver(secret=SECRET)
    yield server
    server.down()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpSink:
    """aiosmtpd on 127.0.0.1: keeps every message it is given."""

    def __init__(self, **controller_options: object) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[object] = []
        outer = self

        class _Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's naming)
                outer.envelopes.append(envelope)
                outer.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
                return "250 Message accepted"

        self.port = free_port()
        self.controller = Controller(_Handler(), hostname="127.0.0.1", port=self.port, **controller_options)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


def tightened_event(**overrides: object) -> dict:
    event = sample_event()
    event.update(title="Terms of Use", reason="exception 'except for research' removed",
                 history_url="https://watch.example.org/sources/example-terms/clauses/c-test", **overrides)
    return event


# ---------------------------------------------------------------- email

def test_email_arrives_with_a_text_and_an_html_part_and_page_text_escaped() -> None:
    sink = SmtpSink()
    try:
        event = tightened_event(after="You may not use Output " + EVIL + " to develop competing models.",
                                diff=[[0, "You may not use Output "], [1, EVIL], [0, " to develop "],
                                      [-1, "similar"], [1, "competing"], [0, " models."]])
        notifier = EmailNotifier(EmailSettings(kind="email", host="127.0.0.1", port=sink.port, security="none",
                                               **{"from": "ClauseWatch <alerts@example.org>"},
                                               to=["legal@example.org", "ops@example.org"]))
        message = Message.single(event, "legal")
        notifier.deliver(message)
    finally:
        sink.stop()
    assert len(sink.messages) == 1
    received = sink.messages[0]
    assert received["Message-ID"] == f"<{message.id}@clausewatch>"
    assert sorted(sink.envelopes[0].rcpt_tos) == ["legal@example.org", "ops@example.org"]
    assert "TIGHTENED" in received["Subject"] and "Example AI" in received["Subject"]
    text = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    assert "[-similar-]{+competing+}" in text
    assert '<del style="background:#fee4e2;color:#b42318">similar</del>' in html
    assert '<ins style="background:#dcfae6;color:#067647">competing</ins>' in html
    assert "<script>" not in html and "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;" in html
    for part in (text, html):  # every piece of content an alert promises
        for needle in ("Example AI", "3.3(e)", "output_training", "tightened", "except for research",
                       "https://example.com/terms", "2026-01-01T09:00:00Z",
                       "https://watch.example.org/sources/example-terms/clauses/c-test", "0" * 64):
            assert needle.lower() in part.lower(), needle


def _self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_email_over_starttls_with_login(tmp_path: Path) -> None:
    from aiosmtpd.smtp import AuthResult

    cert, key = _self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"mail-password", handled=False)

    sink = SmtpSink(tls_context=context, require_starttls=True, authenticator=authenticator, auth_required=True,
                   auth_exclude_mechanism=["LOGIN"])
    try:
        settings = dict(kind="email", host="127.0.0.1", port=sink.port, security="starttls", username="alerts",
                        to="legal@example.org", ca_file=str(cert), **{"from": "alerts@example.org"})
        EmailNotifier(EmailSettings(**settings, password="mail-password")).deliver(
            Message.single(tightened_event(), "mail"))
        with pytest.raises(ChannelError, match="Authentication"):
            EmailNotifier(EmailSettings(**settings, password="wrong")).deliver(
                Message.single(tightened_event(), "mail"))
    finally:
        sink.stop()
    assert len(sink.messages) == 1 and logins[0] == (b"alerts", b"mail-password")


def test_email_to_a_closed_port_is_a_channel_error() -> None:
    notifier = EmailNotifier(EmailSettings(kind="email", host="127.0.0.1", port=free_port(), security="none",
                                           to=["a@example.org"], timeout=5, **{"from": "b@example.org"}))
    with pytest.raises(ChannelError, match="SMTP 127.0.0.1"):
        notifier.deliver(Message.single(tightened_event(), "mail"))


# ---------------------------------------------------------------- webhook

def test_webhook_is_signed_and_a_wrong_secret_is_rejected(receiver: Receiver) -> None:
    message = Message.single(tightened_event(), "hook")
    WebhookNotifier(WebhookSettings(kind="webhook", url=receiver.url(), secret=SECRET)).deliver(message)
    assert len(receiver.received) == 1 and receiver.rejected == 0
    request = receiver.received[0]
    assert request["headers"]["x-clausewatch-id"] == message.id
    assert request["headers"]["content-type"] == "application/json"
    body = json.loads(request["body"])
    assert body["id"] == message.id and body["events"][0]["direction"] == "tightened"
    assert body["events"][0]["snapshot_sha256"] == "0" * 64 and body["notices"] == []

    wrong = WebhookNotifier(WebhookSettings(kind="webhook", url=receiver.url(), secret="not-the-secret", retries=2))
    with pytest.raises(ChannelError, match="HTTP 401"):
        wrong.deliver(message)
    assert receiver.rejected == 1  # a 401 is not retried at once: the request itself is wrong
    unsigned = WebhookNotifier(WebhookSettings(kind="webhook", url=receiver.url()))
    with pytest.raises(ChannelError, match="HTTP 401"):
        unsigned.deliver(message)
    assert len(receiver.received) == 1


def test_webhook_retries_a_transient_failure_then_gives_the_error(receiver: Receiver) -> None:
    receiver.status = 503
    notifier = WebhookNotifier(WebhookSettings(kind="webhook", url=receiver.url(), secret=SECRET, retries=1))
    with pytest.raises(ChannelError, match="HTTP 503"):
        notifier.deliver(Message.single(tightened_event(), "hook"))
    assert receiver.rejected == 2
    receiver.down()
    with pytest.raises(ChannelError, match="ConnectError"):
        notifier.deliver(Message.single(tightened_event(), "hook"))


def test_signature_recipe() -> None:
    body, timestamp = b'{"id": "cw-1"}', str(int(time.time()))
    signature = sign(SECRET, timestamp, body)
    assert signature.startswith("sha256=") and verify_signature(SECRET, body, timestamp, signature)
    assert not verify_signature(SECRET, body + b" ", timestamp, signature)
    assert not verify_signature("other", body, timestamp, signature)
    assert not verify_signature(SECRET, body, str(int(timestamp) - 3600), sign(SECRET, str(int(timestamp) - 3600),
                                                                                body))


# ---------------------------------------------------------------- slack

def test_slack_message_has_badge_clause_before_after_and_escapes_page_text() -> None:
    plain = Receiver()
    try:
        event = tightened_event(after="Do not <!channel> " + EVIL)
        SlackNotifier(SlackSettings(kind="slack", url=plain.url("/services/T000/B000/XXXX"))).deliver(
            Message.single(event, "slack"))
    finally:
        plain.down()
    payload = plain.json()[0]
    everything = json.dumps(payload, ensure_ascii=False)
    assert "🔴 TIGHTENED" in everything and "Example AI" in everything and "3.3(e)" in everything
    assert "*Before*" in everything and "*After*" in everything and "except for research" in everything
    assert "<https://example.com/terms|source>" in everything
    assert "<https://watch.example.org/sources/example-terms/clauses/c-test|history>" in everything
    assert "<script>" not in everything and "&lt;script&gt;" in everything and "<!channel>" not in everything
    assert payload["text"].startswith("ClauseWatch: TIGHTENED")


# ---------------------------------------------------------------- atom

def test_atom_feeds_parse_and_keep_their_entry_ids(tmp_path: Path) -> None:
    import feedparser

    notifier = AtomNotifier(AtomSettings(kind="atom", directory=str(tmp_path / "feeds")))
    first = tightened_event(after="Now with " + EVIL)
    other = tightened_event(id=7, source="other-terms", provider="Other", key="c-2", direction="unclear",
                            observed_at="2026-01-02T09:00:00Z")
    notifier.deliver(Message.single(first, "feed"))
    notifier.deliver(Message(id="cw-digest", items=(other,), digest=True))
    everything = feedparser.parse(str(tmp_path / "feeds" / "all.xml"))
    assert everything.bozo == 0, everything.bozo_exception
    assert everything.version == "atom10"
    ids = [entry.id for entry in everything.entries]
    assert ids == [entry_id(other), entry_id(first)]  # newest first
    assert everything.entries[1].title.startswith("TIGHTENED: Example AI")
    assert "&lt;script&gt;" in everything.entries[1].content[0].value  # escaped in the entry's HTML too
    assert {tag.term for tag in everything.entries[1].tags} >= {"output_training", "tightened"}
    assert everything.entries[1].link == first["history_url"]
    per_source = feedparser.parse(str(tmp_path / "feeds" / "example-terms.xml"))
    assert per_source.bozo == 0 and [entry.id for entry in per_source.entries] == [entry_id(first)]

    notifier.deliver(Message.single(first, "feed"))  # sent again after a crash: replaced, not repeated
    again = feedparser.parse(str(tmp_path / "feeds" / "all.xml"))
    assert [entry.id for entry in again.entries] == ids
    assert again.feed.id == everything.feed.id


# ---------------------------------------------------------------- apprise

def test_apprise_channel_delivers_through_an_apprise_url() -> None:
    pytest.importorskip("apprise")
    from monitor.alerts.apprise import AppriseNotifier, AppriseSettings

    plain = Receiver()
    try:
        AppriseNotifier(AppriseSettings(kind="apprise", urls=[f"json://127.0.0.1:{plain.port}/notify"])).deliver(
            Message.single(tightened_event(), "apprise"))
        plain.down()
        with pytest.raises(ChannelError, match="Apprise"):
            AppriseNotifier(AppriseSettings(kind="apprise", urls=[f"json://127.0.0.1:{plain.port}/notify"])).deliver(
                Message.single(tightened_event(), "apprise"))
    finally:
        plain.down()
    body = plain.json()[0]
    assert "TIGHTENED" in body["title"] and "[-, except for research-]" in body["message"]


# ---------------------------------------------------------------- rendering

def test_digest_rendering_names_every_item() -> None:
    notice = {"type": "source_failing", "source": "example-terms", "provider": "Example AI", "title": "Terms",
              "url": "https://example.com/terms", "failures_in_a_row": 3, "failure": "http_error",
              "error": "HTTP 503 " + EVIL, "at": "2026-01-01T00:00:00Z"}
    message = Message(id="cw-x", items=(tightened_event(), tightened_event(id=2, direction="unclear"), notice),
                      digest=True)
    text, html = message_text(message), message_html(message)
    assert text.startswith("2 clause changes (1 tightened, 1 unclear); 1 source notices")
    assert "SOURCE FAILING: example-terms" in text and "SOURCE FAILING" in html
    assert "<script>" not in html and html.count("Example AI") >= 3


# ---------------------------------------------------------------- config

FULL_CONFIG = """\
base_url: https://watch.example.org/
channels:
  ops-hook:
    kind: webhook
    url: https://hooks.example.org/clausewatch
    secret: ${CW_HOOK_SECRET}
  team-slack:
    kind: slack
    url: ${CW_SLACK_URL}
  legal-mail:
    kind: email
    host: smtp.example.org
    username: alerts@example.org
    password: ${CW_SMTP_PASSWORD}
    from: ClauseWatch <alerts@example.org>
    to: [legal@example.org]
  feed:
    kind: atom
    directory: feeds
  phones:
    kind: apprise
    urls: ["ntfy://${CW_NTFY_TOPIC}"]
  log:
    kind: jsonl
    path: alerts.jsonl
routes:
  - name: legal
    channels: [legal-mail, feed]
    providers: [openai, Anthropic]
    categories: [output_training, competing_use]
  - name: everything-daily
    channels: [team-slack]
    directions: [tightened, loosened, reworded, unclear]
    delivery: digest
    digest: day
  - channels: [ops-hook, team-slack]
    sources: [le-chat-terms]
operators:
  channels: [ops-hook]
outbox:
  max_attempts: 5
  backoff: 30s
"""
ENV = {"CW_HOOK_SECRET": SECRET, "CW_SLACK_URL": "https://hooks.slack.com/services/T1/B2/tok3n",
       "CW_SMTP_PASSWORD": "mail-pass", "CW_NTFY_TOPIC": "topic-secret"}


def load(text: str, environ: dict[str, str] | None = None) -> AlertsConfig:
    return parse_alerts_config(Path("clausewatch.yaml"), text, ENV if environ is None else environ)


def test_config_reads_every_channel_and_secrets_from_the_environment() -> None:
    config = load(FULL_CONFIG)
    assert {name: channel.kind for name, channel in config.channels.items()} == {
        "ops-hook": "webhook", "team-slack": "slack", "legal-mail": "email", "feed": "atom", "phones": "apprise",
        "log": "jsonl"}
    assert config.channels["ops-hook"].settings.secret == SECRET
    assert config.base_url == "https://watch.example.org"
    assert config.history_url("x", "c-1") == "https://watch.example.org/sources/x/clauses/c-1"
    assert config.outbox.max_attempts == 5 and config.outbox.backoff.total_seconds() == 30
    every = {name: config.notifier(name) for name in config.channels}
    assert all(isinstance(notifier, Notifier) for notifier in every.values())
    shown = " ".join(config.mask(notifier.describe()) for notifier in every.values())
    for secret in ENV.values():
        assert secret not in shown and secret not in config.mask(f"error at {secret}")


def test_routing_filters_by_provider_category_direction_and_picks_immediate_first() -> None:
    config = load(FULL_CONFIG)
    event = tightened_event(provider="OpenAI", categories=["output_training"])
    assert config.routes_for_event(event) == {"legal-mail": "immediate", "feed": "immediate", "team-slack": "day"}
    assert config.routes_for_event({**event, "direction": "loosened"}) == {"team-slack": "day"}
    assert config.routes_for_event({**event, "provider": "Mistral"}) == {"team-slack": "day"}
    assert config.routes_for_event({**event, "categories": ["reverse_engineering"]}) == {"team-slack": "day"}
    assert config.routes_for_event({**event, "source": "le-chat-terms", "provider": "Mistral"}) == {
        "team-slack": "immediate", "ops-hook": "immediate"}
    notice = {"type": "source_failing", "source": "x"}
    assert config.routes_for_notice(notice) == {"ops-hook": "immediate"}


def test_without_routes_every_channel_gets_tightened_and_unclear() -> None:
    config = load("channels:\n  log: {kind: jsonl}\n  screen: {kind: console}\n")
    event = tightened_event()
    assert config.routes_for_event(event) == {"log": "immediate", "screen": "immediate"}
    assert config.routes_for_event({**event, "direction": "unclear"}) == {"log": "immediate", "screen": "immediate"}
    assert config.routes_for_event({**event, "direction": "loosened"}) == {}
    assert config.routes_for_notice({"type": "source_failing", "source": "x"}) == {}


@pytest.mark.parametrize("text,environ,expected", [
    (FULL_CONFIG, {k: v for k, v in ENV.items() if k != "CW_SMTP_PASSWORD"},
     "clausewatch.yaml:14: channel 'legal-mail': field 'password': environment variable CW_SMTP_PASSWORD is not set"),
    ("channels:\n  hook:\n    kind: webhook\n    url: https://x.example\n    secret: plain-text\n", {},
     "clausewatch.yaml:5: channel 'hook': field 'secret': a secret is read from the environment"),
    ("channels:\n  hook:\n    kind: pigeon\n", {}, "clausewatch.yaml:2: channel 'hook': field 'kind': 'pigeon' is unknown"),
    ("channels:\n  mail:\n    kind: email\n    host: h\n    port: many\n    from: a@b.c\n    to: d@e.f\n", {},
     "clausewatch.yaml:5: channel 'mail': field 'port': Input should be a valid integer"),
    ("channels:\n  mail:\n    kind: email\n    host: h\n    to: d@e.f\n", {},
     "channel 'mail': field 'from': required field is missing"),
    ("channels:\n  log: {kind: jsonl}\nroutes:\n  - channels: [log]\n  - channels: [nope]\n", {},
     "clausewatch.yaml:5: route '#2': field 'channels': no channel named 'nope'"),
    ("channels:\n  log: {kind: jsonl}\nroutes:\n  - channels: [log]\n    directions: [worse]\n", {},
     "clausewatch.yaml:4: route #1: field 'directions'"),
    ("channels:\n  log: {kind: jsonl}\nroutes:\n  - channels: [log]\n    categories: [nonsense]\n", {},
     "unknown category 'nonsense'"),
    ("channels:\n  log: {kind: jsonl}\noperators:\n  channels: [pager]\n", {},
     "clausewatch.yaml:3: operators: field 'channels': no channel named 'pager'"),
    ("outbox:\n  backoff: soon\n", {}, "clausewatch.yaml:1: outbox: field 'backoff': 'soon' is not a duration"),
    ("channels: [a, b]\n", {}, "field 'channels': expected a mapping"),
    ("channels:\n  my channel: {kind: jsonl}\n", {}, "clausewatch.yaml:2: channel 'my channel': a channel name is"),
    ("history_path: /clauses/{clause}\n", {}, "clausewatch.yaml:1: history_path: field 'history_path': "
                                               "'/clauses/{clause}' may use only {source} and {key}"),
])
def test_config_mistakes_name_the_file_line_and_field(text: str, environ: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        load(text, environ)
    assert expected in str(error.value)
    for secret in ENV.values():
        assert secret not in str(error.value)


# ---------------------------------------------------------------- the CLI

def clausewatch(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    done = subprocess.run([sys.executable, "-m", "monitor", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": "200", **(env or {})})
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_alerts_test_sends_a_sample_and_never_prints_the_secret(receiver: Receiver, tmp_path: Path) -> None:
    (tmp_path / "clausewatch.yaml").write_text(
        f"channels:\n  ops:\n    kind: webhook\n    url: {receiver.url('/hook?token=${{CW_TOKEN}}')}\n"
        f"    secret: ${{CW_SECRET}}\n  wrong:\n    kind: webhook\n    url: {receiver.url()}\n"
        f"    secret: ${{CW_WRONG}}\n")
    env = {"CW_SECRET": SECRET, "CW_TOKEN": "url-token-123", "CW_WRONG": "wrong-secret-456"}
    done = clausewatch("alerts", "test", "ops", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "sent a sample to ops (webhook)" in done.stdout
    assert len(receiver.received) == 1 and receiver.json()[0]["events"][0]["provider"] == "Example AI"
    done = clausewatch("alerts", "test", "ops", "--notice", cwd=tmp_path, env=env)
    assert done.returncode == 0 and receiver.json()[1]["notices"][0]["type"] == "source_failing"

    failed = clausewatch("alerts", "test", "wrong", cwd=tmp_path, env=env)
    assert failed.returncode == 1 and "HTTP 401" in failed.stderr
    channels = clausewatch("alerts", "channels", cwd=tmp_path, env=env)
    assert channels.returncode == 0 and "webhook" in channels.stdout
    for output in (done, failed, channels):
        for secret in env.values():
            assert secret not in output.stdout + output.stderr
    unknown = clausewatch("alerts", "test", "nope", cwd=tmp_path, env=env)
    assert unknown.returncode == 2 and "no channel 'nope'" in unknown.stderr
    missing = clausewatch("--config", "elsewhere.yaml", "alerts", "channels", cwd=tmp_path, env=env)
    assert missing.returncode == 2 and "elsewhere.yaml: no such config file" in missing.stderr
