"""The labelled corpus of the secret guard, built at run time (:func:`corpus`).

Deterministic: the same mails every time. It is built rather than stored so that no file of the
repository holds a literal token for a secret scanner (ours, or a code host's push protection) to
trip on; ``python tests/data/secrets/generate.py`` writes it to ``corpus.jsonl`` beside this file
(ignored by git) to read. Each item is one mail body, as it would reach a note: ``{"id", "label",
"secrets", "text"}`` where ``label`` is ``secret`` or ``ordinary`` and ``secrets`` lists the exact substrings
that must not reach the remote (empty for ordinary mail). Every credential here is made up, in
the provider's published format, so a scanner that knows the format must match it; none is real.

Secret-bearing mails include the evasions seen in practice (a key glued to ``_``, a PEM key whose
BEGIN line carries ``&nbsp;`` in an HTML mail, a password in prose, short passwords, Stripe,
GitLab and Slack webhook formats). Ordinary mails include the shapes that fooled the first guard
(a parcel tracking number, an invoice number after "Token:", ``api_key=YOUR_API_KEY_HERE``,
"Secret: the surprise party is on Friday", an unsubscribe link) and the everyday shapes of
business mail: order numbers, IBANs, UUIDs, meeting passcodes, checksums, verification codes.
"""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

HERE = Path(__file__).resolve().parent
R = random.Random()

NAMES = ["Ann", "Bob", "Chloé", "Dana", "Emeka", "Fatima", "Goran", "Hiro", "Ines", "Jonas", "Kai", "Lena"]
COMPANIES = ["Acme GmbH", "Blue Harbor Ltd", "Cedar & Co", "Delta Freight", "Evergreen SARL", "Fjord AS"]


def chars(alphabet: str, n: int) -> str:
    return "".join(R.choice(alphabet) for _ in range(n))


UP = string.ascii_uppercase
UPD = string.ascii_uppercase + string.digits
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"
HEX = "0123456789abcdef"


def aws_id() -> str:
    return "AKIA" + chars(UPD, 16)


def aws_secret() -> str:
    return chars(B64, 40)


def pem_body() -> str:
    return "\n".join(chars(B64, 64) for _ in range(4)) + "\n" + chars(B64, 20) + "=="


def greet() -> str:
    return R.choice(["Hi", "Hello", "Dear", "Good morning"]) + " " + R.choice(NAMES) + ","


def sign() -> str:
    return R.choice(["Best", "Regards", "Thanks", "Cheers"]) + ",\n" + R.choice(NAMES)


def secret_mails() -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []

    def add(text: str, *secrets: str) -> None:
        out.append((text, list(secrets)))

    for _ in range(2):
        k = aws_id()
        add(f"{greet()}\n\nHere are the deploy credentials: {k}\nsecret {aws_secret()}\n\n{sign()}", k)
        k = aws_id()
        add(f"{greet()}\n\nUse KEY_{k} in the CI settings.\n\n{sign()}", k)  # glued to "_"
        k, s = aws_id(), aws_secret()
        add(f"{greet()}\n\n[default]\naws_access_key_id = {k}\naws_secret_access_key = {s}\n\n{sign()}", k, s)
        k = aws_id()
        add(f'{{"AccessKeyId": "{k}", "Region": "eu-west-1"}}\n\nsent from the build server', k)
        body = pem_body()
        add(f"{greet()}\n\n-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n\n{sign()}",
            body.split("\n")[0])
        body = pem_body()
        html = body.replace("\n", "<br>")
        add(f"<p>{greet()}</p><p>-----BEGIN&nbsp;RSA&nbsp;PRIVATE&nbsp;KEY-----<br>{html}<br>"
            f"-----END&nbsp;RSA&nbsp;PRIVATE&nbsp;KEY-----</p>", body.split("\n")[0])  # an HTML mail
        body = pem_body()
        add(f"the server key:\n-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----",
            body.split("\n")[0])
        k = "sk-proj-" + chars(URLSAFE, 48)
        add(f"{greet()}\n\nOPENAI_API_KEY={k}\n\n{sign()}", k)
        k = "sk-ant-api03-" + chars(URLSAFE, 60)
        add(f"{greet()}\n\nThe Claude key is {k} for the pilot.\n\n{sign()}", k)
        k = "ghp_" + chars(ALNUM, 36)
        add(f"{greet()}\n\nclone with https://{k}@github.com/acme/app.git\n\n{sign()}", k)
        k = "github_pat_" + chars(ALNUM + "_", 82)
        add(f"token for the bot: {k}", k)
        k = "glpat-" + chars(URLSAFE, 20)
        add(f"{greet()}\n\nGitLab token: {k}\n\n{sign()}", k)
        k = "xoxb-" + chars(string.digits, 12) + "-" + chars(string.digits, 13) + "-" + chars(ALNUM, 24)
        add(f"slack bot: {k}", k)
        k = f"https://hooks.slack.com/services/T{chars(UPD, 8)}/B{chars(UPD, 10)}/{chars(ALNUM, 24)}"
        add(f"{greet()}\n\nPost alerts to {k} please.\n\n{sign()}", k)
        k = "sk_live_" + chars(ALNUM, 24)
        add(f"{greet()}\n\nStripe live key: {k}\n\n{sign()}", k)
        k = "rk_live_" + chars(ALNUM, 24)
        add(f"restricted key {k} for the reports", k)
        k = "AIza" + chars(URLSAFE, 35)
        add(f"maps key={k}", k)
        k = "ya29." + chars(URLSAFE, 60)
        add(f"Authorization: Bearer {k}", k)
        k = "eyJhbGciOiJIUzI1NiJ9." + "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6ImFubiJ9." + chars(URLSAFE, 43)
        add(f"{greet()}\n\nsession: {k}\n\n{sign()}", k)
        k = "SG." + chars(URLSAFE, 22) + "." + chars(URLSAFE, 43)
        add(f"SendGrid API key {k}", k)
        k = "npm_" + chars(ALNUM, 36)
        add(f"//registry.npmjs.org/:_authToken={k}", k)
        k = chars(ALNUM + "!#%&*", 12)
        add(f"{greet()}\n\nThe password is {k} — please change it after the first login.\n\n{sign()}", k)
        k = chars(string.ascii_lowercase, 5) + chars(string.digits, 2)
        add(f"{greet()}\n\nwifi password: {k}\n\n{sign()}", k)  # a short password
        k = chars(ALNUM, 4) + "#" + chars(string.digits, 2)
        add(f"login: ann\npass: {k}", k)
        k = chars(ALNUM, 10)
        add(f"{greet()}\n\nYour temporary password is {k}\n\n{sign()}", k)
        k = chars(ALNUM, 12)
        add(f"DATABASE_URL=postgres://app:{k}@db.internal.example.com:5432/prod", k)
        k = chars(B64, 86) + "=="
        add(f"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={k};EndpointSuffix=core.windows.net", k)
        k = chars(HEX, 32)
        add(f"{greet()}\n\nTwilio auth token: {k}\n\n{sign()}", k)
        k = chars(ALNUM, 32)
        add(f"api_key = \"{k}\"", k)
        k = chars(ALNUM + "-_", 40)
        add(f"{greet()}\n\nclient_secret: {k}\n\n{sign()}", k)
    return out


def ordinary_mails() -> list[str]:
    out: list[str] = []
    for i in range(10):
        company, who = R.choice(COMPANIES), R.choice(NAMES)
        amount = f"{R.randint(40, 9000)}.{R.randint(0, 99):02d}"
        inv = f"INV-2026-{R.randint(1, 9999):04d}"
        day = f"2026-{R.randint(1, 12):02d}-{R.randint(1, 28):02d}"
        out += [
            f"{greet()}\n\nPlease find attached invoice {inv} for EUR {amount}, due {day}.\n"
            f"IBAN: DE{R.randint(10, 99)} {R.randint(1000, 9999)} {R.randint(1000, 9999)} {R.randint(1000, 9999)} "
            f"{R.randint(1000, 9999)} {R.randint(10, 99)}\n\n{sign()}",
            f"{greet()}\n\nToken: {inv}\nAmount: {amount}\n\nThank you for your business.\n{company}",
            f"Your parcel is on its way. Tracking number: 1Z{chars(UPD, 6)}{chars(string.digits, 10)}\n"
            f"Carrier: UPS. Expected {day}.",
            f"DHL shipment JJD{chars(string.digits, 18)} has been delivered to the reception.",
            f"{greet()}\n\nTo call the API, set api_key=YOUR_API_KEY_HERE in config.ini and restart.\n\n{sign()}",
            f"{greet()}\n\nexport OPENAI_API_KEY=<your key>\nthen run the script.\n\n{sign()}",
            f"Secret: the surprise party for {who} is on Friday. Don't tell!",
            f"You receive this because you subscribed. Unsubscribe: https://news.example.com/unsubscribe?"
            f"token={chars(HEX, 32)}&u={R.randint(1000, 99999)}",
            f"Manage preferences: https://mail.example.org/p/{chars(URLSAFE, 40)}?sig={chars(HEX, 40)}",
            f"{greet()}\n\nJoin the meeting: https://zoom.us/j/{R.randint(10**9, 10**10)}\nMeeting ID: "
            f"{R.randint(100, 999)} {R.randint(1000, 9999)} {R.randint(1000, 9999)}\nPasscode: {R.randint(100000, 999999)}"
            f"\n\n{sign()}",
            f"Order {chars(string.digits, 3)}-{chars(string.digits, 7)}-{chars(string.digits, 7)} confirmed. "
            f"Order id {chars(HEX, 8)}-{chars(HEX, 4)}-{chars(HEX, 4)}-{chars(HEX, 4)}-{chars(HEX, 12)}.",
            f"Your verification code is {R.randint(100000, 999999)}. It expires in 10 minutes.",
            f"{greet()}\n\nI merged {chars(HEX, 40)} into main; CI is green.\n\n{sign()}",
            f"sha256 of the installer: {chars(HEX, 64)}",
            f"{greet()}\n\nThe password policy requires 12 characters. Forgot your password? Use the reset page."
            f"\n\n{sign()}",
            f"{greet()}\n\npassword: see the handbook, page {R.randint(2, 40)}.\n\n{sign()}",
            f"Booking reference (PNR): {chars(UP, 6)}. Seat {R.randint(1, 40)}{R.choice('ABCDEF')}. "
            f"Boarding pass: {chars(UPD, 7)}",
            f"{greet()}\n\nAs a token of appreciation we added a {R.randint(5, 30)}% discount: code "
            f"SPRING-{R.randint(2026, 2027)}.\n\n{sign()}",
            f"{greet()}\n\nLicense key for {company}: {chars(UPD, 5)}-{chars(UPD, 5)}-{chars(UPD, 5)}-{chars(UPD, 5)}"
            f"\n\n{sign()}",
            f"{greet()}\n\nAPI key rotation is scheduled for {day}; no action needed from you.\n\n{sign()}",
        ]
    return out


def corpus() -> list[dict[str, object]]:
    """Every mail of the corpus, secret-bearing first; the same list at every call."""
    R.seed(20261127)
    lines: list[dict[str, object]] = []
    for n, (text, secrets) in enumerate(secret_mails()):
        lines.append({"id": f"s{n:03d}", "label": "secret", "secrets": secrets, "text": text})
    for n, text in enumerate(ordinary_mails()):
        lines.append({"id": f"o{n:03d}", "label": "ordinary", "secrets": [], "text": text})
    return lines


def main() -> None:
    lines = corpus()
    with open(HERE / "corpus.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    print(f"{sum(x['label'] == 'secret' for x in lines)} secret, {sum(x['label'] == 'ordinary' for x in lines)} ordinary")


if __name__ == "__main__":
    main()
