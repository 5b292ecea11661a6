"""The style memory: a person's edits of drafts teach the drafters (fte/io/channels/style.py)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import fte_cli
from fakes.openai_server import FakeOpenAI
from hosts import HostRun, drop_mail

from fte.io.channels.openai_drafter import OpenAIDrafter
from fte.io.channels.style import Example, Style, apply, learn
from fte.models.tables import Task
from fte.usecases import decisions

LETTER = "Hello Ann,\n\nThank you for your message about \"Q{n}\".\n\nBest regards,\nthe team\n"
MINE = "Hi Ann!\n\nThank you for your message about \"Q{n}\".\n\nPS: we are closed on Fridays.\n\nCheers,\nSam\n"


def _examples(n: int, changed: bool = True) -> list[Example]:
    return [Example(f"t{i}", LETTER.format(n=i), (MINE if changed else LETTER).format(n=i)) for i in range(n)]


def test_a_change_made_three_times_is_learned_and_two_are_not() -> None:
    learned = learn(_examples(3), "ann@example.com")
    assert learned.greeting == "Hi {name}!" and learned.signoff == "Cheers,\nSam"
    assert learned.added == ("PS: we are closed on Fridays.",) and learned.removed == ()
    assert learned.from_tasks == ("t0", "t1", "t2")
    assert "learned from 3 edits for ann@example.com" in learned.provenance()
    assert not learn(_examples(2), "ann@example.com")


def test_the_last_draft_left_alone_unlearns() -> None:
    """The person stopped changing it: the newest example says what they want now."""
    examples = [Example("new", LETTER.format(n=9), LETTER.format(n=9)), *_examples(5)]
    assert not learn(examples, "ann@example.com")


def test_drafts_that_came_out_right_keep_it_learned() -> None:
    """Once learned, drafts carry it and the person changes nothing: that must not unlearn it
    (found by bench/style.py: the corrections came back every few weeks)."""
    right = [Example(f"r{i}", MINE.format(n=i), MINE.format(n=i)) for i in range(20)]
    learned = learn(right + _examples(3), "ann@example.com")
    assert learned.greeting == "Hi {name}!" and learned.signoff == "Cheers,\nSam"
    assert learned.added == ("PS: we are closed on Fridays.",)


def test_applying_what_was_learned_to_a_new_draft() -> None:
    learned = learn(_examples(3), "ann@example.com")
    draft = "Hello Carol,\n\nThank you for your message about \"Q7\".\n\nBest regards,\nthe team\n"
    assert apply(learned, draft, "Carol") == (
        "Hi Carol!\n\nThank you for your message about \"Q7\".\n\nPS: we are closed on Fridays.\n\nCheers,\nSam\n")


def _reply_to(home: Path, n: int, sender: str, body: str | None) -> str:
    """A mail from ``sender``, drafted and presented; the person edits it to ``body`` (None: leaves
    it), approves, and it is sent. Returns the task's id."""
    drop_mail(home, n, subject="Q", sender=sender)
    run = HostRun(home)
    run.tick()
    [task] = [t for t in run.home.store.tasks(state="pending")]
    run.close()
    if body is not None:
        decisions.edit(home, task.id, body.replace("{n}", str(n)))
    decisions.approve(home, task.id)
    run = HostRun(home)
    run.tick()
    assert run.home.store.get(task.id).state == "done"
    run.close()
    return task.id


PERSON = "Hi Ann!\n\nThanks for asking about Q {n}.\n\nPS: we are closed on Fridays.\n\nCheers,\nSam\n"


def _next_draft(home: Path, n: int, sender: str) -> Task:
    drop_mail(home, n, subject="Q", sender=sender)
    run = HostRun(home)
    run.tick()
    [task] = [t for t in run.home.store.tasks(state="pending")]
    run.close()
    return task


def test_after_three_corrections_the_fourth_draft_carries_them(home_dir: Path) -> None:
    taught = [_reply_to(home_dir, n, "ann@example.com", PERSON) for n in range(3)]
    fourth = _next_draft(home_dir, 3, "ann@example.com")
    assert fourth.body.startswith("Hi Ann!\n")
    assert fourth.body.endswith("\n\nPS: we are closed on Fridays.\n\nCheers,\nSam\n")
    assert "Hello Ann" not in fourth.body and "Best regards" not in fourth.body
    assert fourth.params["style"] == "learned from 3 edits for ann@example.com (fte style show ann@example.com)"
    note = (home_dir / "vault" / fourth.note_path).read_text()
    assert "learned from 3 edits" in note  # the person sees where it came from
    shown = json.loads(fte_cli("style", "show", "ann@example.com", "--json", "--home", home_dir).output)
    assert shown[0]["greeting"] == "Hi {name}!" and sorted(shown[0]["from_tasks"]) == sorted(taught)


def test_the_domain_teaches_a_new_recipient_and_another_domain_learns_nothing(home_dir: Path) -> None:
    for n in range(3):
        _reply_to(home_dir, n, "ann@example.com", PERSON)
    carol = _next_draft(home_dir, 10, "carol@example.com")
    # (the test mails all come from "Ann Example <…>": the greeting names the display name)
    assert carol.body.startswith("Hi Ann!\n") and "for example.com (" in carol.params["style"]
    decisions.reject(home_dir, carol.id)
    bob = _next_draft(home_dir, 11, "bob@elsewhere.org")
    assert bob.body.startswith("Hello Ann,") and "style" not in bob.params  # nothing learned for elsewhere.org


def test_forgetting_a_recipient_stops_it(home_dir: Path) -> None:
    for n in range(3):
        _reply_to(home_dir, n, "ann@example.com", PERSON)
    assert "forgot 3 examples" in fte_cli("style", "forget", "ann@example.com", "--home", home_dir).output
    assert "nothing learned yet" in fte_cli("style", "show", "--home", home_dir).output
    fresh = _next_draft(home_dir, 4, "ann@example.com")
    assert fresh.body.startswith("Hello Ann,") and "style" not in fresh.params
    fte_cli("style", "forget", "--home", home_dir, code=2)  # a recipient, or --all


def test_a_draft_edited_and_never_sent_teaches_nothing(home_dir: Path) -> None:
    for n in range(3):
        drop_mail(home_dir, n, subject="Q", sender="ann@example.com")
    run = HostRun(home_dir)
    run.tick()
    ids = [t.id for t in run.home.store.tasks(state="pending")]
    run.close()
    for n, task_id in enumerate(ids):
        decisions.edit(home_dir, task_id, PERSON.replace("{n}", str(n)))
        decisions.reject(home_dir, task_id)
    assert _next_draft(home_dir, 9, "ann@example.com").body.startswith("Hello Ann,")


def test_the_openai_drafter_is_shown_the_persons_last_edits() -> None:
    examples = tuple(_examples(4))
    with FakeOpenAI() as fake:
        fake.reply({"action": "reply", "body": "Hi Ann!", "reason": ""})
        mail = Task(id="f" * 32, kind="email.reply", title="Q", original="When are you open?",
                    params={"to": "ann@example.com", "subject": "Re: Q"})
        OpenAIDrafter(api_key="sk-test", model="m", base_url=fake.base_url, max_retries=0).draft(
            mail, "", Style(learn(list(examples), "ann@example.com"), examples[:3]))
        [req] = fake.requests
        system, user = req["messages"]
        shown = json.loads(system["content"].split("# How the person writes\n", 1)[1].split("\n", 1)[1])
        assert shown == [{"draft": e.proposed, "as_sent": e.sent} for e in examples[:3]]
        assert "Cheers" not in user["content"]  # the examples are the person's, apart from the untrusted mail


def test_through_the_daemon_the_openai_request_carries_the_persons_edits(home_dir: Path) -> None:
    """The drafter configured on the host, three replies to Ann edited by the person: the request for
    the fourth carries those three, as drafted and as sent (read off the wire)."""
    from test_openai_drafter import use_openai

    with FakeOpenAI() as fake:
        use_openai(home_dir, fake.base_url)
        for n in range(3):
            fake.reply({"action": "reply", "body": f"Hello Ann,\n\nAbout Q {n}: soon.\n\nBest regards,\nthe team\n",
                        "reason": ""})
            _reply_to(home_dir, n, "ann@example.com", PERSON)
        fake.reply({"action": "reply", "body": "Hi Ann!\n\nSoon.\n\nCheers,\nSam\n", "reason": ""})
        _next_draft(home_dir, 3, "ann@example.com")
        system = fake.requests[-1]["messages"][0]["content"]
        shown = json.loads(system.split("# How the person writes\n", 1)[1].split("\n", 1)[1])
        assert [e["as_sent"] for e in shown] == [PERSON.replace("{n}", str(n)) for n in (2, 1, 0)]
        assert all(e["draft"].startswith("Hello Ann,") for e in shown)
        assert "# How the person writes" not in fake.requests[0]["messages"][0]["content"]  # nothing yet, then
