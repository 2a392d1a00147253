"""End-to-end in a real browser: Playwright for Python driving Debian's
Chromium (/usr/bin/chromium) against a real `faces serve` subprocess.

Screenshots of the key states go to test-artifacts/ (git-ignored). Each
state is also audited with axe-core (npm, installed by `make setup`) for
WCAG 2 A/AA and best practice: no violation is allowed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support.process import call_json, free_port, get_json, server, upload

CHROMIUM = Path(os.environ.get("FACES_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "test-artifacts"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
EXPECTED = {"t1.jpg": "6 faces", "coffee.jpg": "0 faces", "kit_with_rose.jpg": "2 faces"}
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_RUN = """async () => {
  const result = await axe.run(document, {runOnly: {type: "tag", values:
    ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}});
  return result.violations.map(v => `${v.id} (${v.impact}): ` +
    v.nodes.map(n => n.target.join(" ")).join(", "));
}"""

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # `make setup` installs it; under CI its absence is a failure
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("playwright is not installed", allow_module_level=True)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    if not AXE.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"axe-core not found at {AXE} (make setup runs npm ci)")
        pytest.skip(f"axe-core not found at {AXE} (make setup runs npm ci)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=LAUNCH_ARGS)
        yield instance
        instance.close()


def shot(page, name: str, audit: bool = True) -> None:
    """A screenshot of this state, and its accessibility audit (axe-core runs
    as JavaScript: a page without it is audited in its JavaScript twin)."""
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    if not audit:
        return
    page.evaluate(AXE.read_text())  # not a page script: the page's CSP does not apply
    violations = page.evaluate(AXE_RUN)
    assert violations == [], f"axe-core on {name}: {violations}"


# How wide each card's name field is against what it must show: its
# placeholder and its name, in the field's own font (canvas measures text).
NAME_FIELDS = """() => [...document.querySelectorAll("#people .person input[name=name]")]
  .map((input) => {
    const style = getComputedStyle(input);
    const context = document.createElement("canvas").getContext("2d");
    context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const room = input.clientWidth - parseFloat(style.paddingLeft)
      - parseFloat(style.paddingRight);
    const text = Math.max(context.measureText(input.placeholder).width,
                          context.measureText(input.value).width);
    return {id: input.id, room, text};
  })"""


def name_fields_fit(page, name: str) -> None:
    """Every name field shows its placeholder and its name whole (a screenshot
    of the page at this width too)."""
    fields = page.evaluate(NAME_FIELDS)
    assert fields, "no name field on the page"
    short = [f for f in fields if f["text"] > f["room"]]
    shot(page, name)
    assert short == [], f"name fields narrower than their text: {short}"


def watched(browser, errors: list[str], width: int = 1280, height: int = 900):
    """A page in a browser context of its own, its script errors kept in ``errors``."""
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page


def badges(page) -> dict[str, str]:
    cards = page.locator("#gallery .card")
    return {cards.nth(i).locator(".name").inner_text(): cards.nth(i).locator(".badge").inner_text()
            for i in range(cards.count())}


def test_two_galleries_upload_live_restart_and_errors(browser, tmp_path: Path, model_path: Path,
                                                      images: Path) -> None:
    data, port = tmp_path / "data", free_port()
    with server(data, model_path, port) as (process, base):
        errors: list[str] = []
        uploader, watcher = watched(browser, errors), watched(browser, errors)
        for page in (uploader, watcher):
            page.goto(base + "/")
            expect(page.locator("#live")).to_have_text("Live")
        expect(watcher.locator("#empty")).to_be_visible()
        shot(watcher, "01-empty")

        # Three photos through the file chooser; rows show progress then counts.
        with uploader.expect_file_chooser() as chooser:
            uploader.click("#file-input")
        chooser.value.set_files([str(images / name) for name in EXPECTED])
        rows = uploader.locator("#queue li")
        expect(rows).to_have_count(3)
        expect(uploader.locator("#queue li.done")).to_have_count(3, timeout=30_000)
        for i in range(3):
            row = rows.nth(i)
            name = row.locator(".name").inner_text()
            expect(row.locator(".status")).to_have_text(f"done: {EXPECTED[name]}")
            assert row.locator("progress").evaluate("bar => bar.value") == 100
        shot(uploader, "02-uploaded")

        # The other gallery got them live, with the right counts.
        expect(watcher.locator("#gallery .card")).to_have_count(3, timeout=15_000)
        assert badges(watcher) == EXPECTED
        expect(watcher.locator("#total")).to_have_text("3")
        shot(watcher, "03-live")
        watcher.reload()
        expect(watcher.locator("#gallery .card")).to_have_count(3)
        assert badges(watcher) == EXPECTED

        # Restart the server while the watcher is open; upload during the outage.
        expect(watcher.locator("#live")).to_have_text("Live")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        expect(watcher.locator("#live")).to_contain_text("Connection lost")
        shot(watcher, "04-disconnected")
    with server(data, model_path, port) as (process, base):
        status, photo = upload(base, "two_people.jpg")
        assert status == 201
        card = watcher.locator(f"#photo-{photo['id']}")
        expect(card).to_be_visible(timeout=45_000)  # reconnects and catches up by itself
        expect(card.locator(".badge")).to_have_text("2 faces")
        expect(watcher.locator("#live")).to_have_text("Live")
        shot(watcher, "05-caught-up")

        # A hostile file gets the server's message in its row.
        junk = tmp_path / "holiday.jpg"
        junk.write_text("<script>alert('x')</script>")
        uploader.reload()
        uploader.set_input_files("#file-input", str(junk))
        failed = uploader.locator("#queue li.failed")
        expect(failed).to_have_count(1)
        expect(failed.locator(".status")).to_contain_text("This is not a supported image")
        shot(uploader, "06-error")

        # The viewer: annotated copy, boxes drawn by the page with scores, delete live.
        watcher.locator(f"#photo-{photo['id']} a.thumb").click()
        viewer = watcher.locator("#viewer")
        expect(viewer).to_be_visible()
        expect(watcher.locator("#viewer-img")).to_have_attribute("src", photo["urls"]["annotated"])
        watcher.click("#show-boxes")
        expect(watcher.locator("#viewer-img")).to_have_attribute("src", photo["urls"]["display"])
        boxes = watcher.locator("#overlay .face")
        expect(boxes).to_have_count(2)
        boxes.first.hover()
        assert re.fullmatch(r"Face 1: score 0\.\d\d", boxes.first.get_attribute("title"))
        shot(watcher, "07-viewer")
        uploader.locator(f"#photo-{photo['id']} a.thumb").click()
        uploader.once("dialog", lambda dialog: dialog.accept())
        uploader.click("#viewer-delete")
        expect(uploader.locator(f"#photo-{photo['id']}")).to_have_count(0)
        expect(watcher.locator(f"#photo-{photo['id']}")).to_have_count(0)  # dropped live
        expect(viewer).to_be_hidden()
        expect(watcher.locator("#total")).to_have_text("3")

        # Phone width, keyboard: Tab reaches a photo, Enter opens it, Escape closes.
        phone = browser.new_context(viewport={"width": 390, "height": 844},
                                    is_mobile=True).new_page()
        phone.goto(base + "/")
        expect(phone.locator("#gallery .card")).to_have_count(3)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # nothing wider than the screen
        shot(phone, "08-phone")
        phone.locator("#gallery .card a.thumb").first.focus()
        phone.keyboard.press("Enter")
        expect(phone.locator("#viewer")).to_be_visible()
        phone.keyboard.press("Escape")
        expect(phone.locator("#viewer")).to_be_hidden()
        assert errors == []


def test_plain_form_without_javascript(browser, tmp_path: Path, model_path: Path,
                                       images: Path) -> None:
    with server(tmp_path / "data", model_path) as (_, base):
        page = browser.new_context(java_script_enabled=False).new_page()
        page.goto(base + "/")
        page.set_input_files("#file-input", str(images / "obama.jpg"))
        page.click("button[type=submit]")
        expect(page.locator(".notice")).to_have_text("Uploaded obama.jpg: 1 face found.")
        expect(page.locator("#gallery .card .badge")).to_have_text("1 face")
        shot(page, "09-no-javascript", audit=False)
        copy = tmp_path / "x.jpg"
        shutil.copy(images / "coffee.jpg", copy)
        copy.write_bytes(copy.read_bytes()[:2000])  # truncated
        page.goto(base + "/")
        page.set_input_files("#file-input", str(copy))
        page.click("button[type=submit]")
        expect(page.locator(".error")).to_contain_text("incomplete")


def test_yunet_gallery_login_and_error_pages(browser, tmp_path: Path, yunet_path: Path,
                                             images: Path) -> None:
    """A gallery on the licence-clean model, as `FACES_MODEL=<yunet file> make run`
    starts it, behind a token: log in, upload t1.jpg, see its six faces."""
    port = free_port()
    token = "a long random test token"
    process = subprocess.Popen(
        [sys.executable, "-m", "faces", "serve", "--address", "127.0.0.1", "--port", str(port),
         "--data-dir", str(tmp_path / "data"), "--workers", "1"],
        env={**os.environ, "FACES_MODEL": str(yunet_path), "FACES_TOKEN": token},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        deadline = time.monotonic() + 60
        while True:
            try:
                if page.request.get(base + "/healthz").ok:
                    break
            except Exception:  # not listening yet
                pass
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        assert page.request.get(base + "/healthz").json()["detector"] == "yunet"
        page.goto(base + "/login")
        shot(page, "10-login")
        page.fill("input[name=token]", "wrong")
        page.keyboard.press("Enter")
        expect(page.locator(".error")).to_be_visible()
        shot(page, "11-login-refused")
        page.fill("input[name=token]", token)
        page.keyboard.press("Enter")
        page.wait_for_url(base + "/")
        page.set_input_files("#file-input", str(images / "t1.jpg"))
        expect(page.locator("#queue li.done .status")).to_have_text("done: 6 faces",
                                                                    timeout=30_000)
        expect(page.locator("#gallery .card .badge")).to_have_text("6 faces")
        shot(page, "12-yunet-gallery")
        page.locator("#gallery .card a.thumb").first.focus()
        page.keyboard.press("Enter")
        expect(page.locator("#viewer")).to_be_visible()
        page.click("#show-boxes")
        expect(page.locator("#overlay .face")).to_have_count(6)
        shot(page, "13-yunet-viewer")
        page.keyboard.press("Escape")
        page.goto(base + "/no/such/page")
        expect(page.locator("h1")).to_be_visible()
        shot(page, "14-not-found")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_an_iphone_photo_through_the_page(browser, tmp_path: Path, model_path: Path,
                                          images: Path) -> None:
    """A HEIC made from t1.jpg, picked in the page: six faces, shown as JPEG."""
    from PIL import Image
    from pillow_heif import register_heif_opener

    register_heif_opener()
    heic = tmp_path / "IMG_0001.HEIC"
    Image.open(images / "t1.jpg").save(heic, format="HEIF", quality=90)
    with server(tmp_path / "data", model_path) as (_, base):
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.goto(base + "/")
        expect(page.locator(".upload .hint")).to_contain_text("HEIC")
        page.set_input_files("#file-input", str(heic))
        expect(page.locator("#queue li.done .status")).to_have_text("done: 6 faces",
                                                                    timeout=30_000)
        card = page.locator("#gallery .card")
        expect(card.locator(".badge")).to_have_text("6 faces")
        expect(card.locator(".name")).to_have_text("IMG_0001.HEIC")
        thumb = card.locator("img")
        expect(thumb).to_have_attribute("src", re.compile(r"\.thumb\.jpg$"))
        page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                               arg=thumb.element_handle())
        shot(page, "15-heic-upload")


def test_people_view_name_merge_move_delete_live(browser, tmp_path: Path, model_path: Path,
                                                 images: Path, recognition_model: Path) -> None:
    """Upload photos of three people through the page; the People view fills
    by itself; name one, merge two, move a face, delete a photo: every open
    page follows live. By keyboard where a person would use it."""
    people = {"obama": ["obama.jpg", "obama2.jpg", "obama3.jpg"],
              "kit_harington": ["john1.jpg", "john2.jpg"],
              "rose_leslie": sorted(p.name for p in (images / "people" / "rose_leslie").iterdir())}
    files = [str(images / "people" / who / name) for who, names in people.items()
             for name in names]
    with server(tmp_path / "data", model_path,
                extra=("--recognition-model", str(recognition_model))) as (_, base):
        errors: list[str] = []
        gallery, viewer = watched(browser, errors), watched(browser, errors)
        gallery.goto(base + "/")
        viewer.goto(base + "/people")
        expect(viewer.locator("#live")).to_have_text("Live")
        expect(viewer.locator("#no-people")).to_be_visible()
        shot(viewer, "20-people-empty")

        gallery.set_input_files("#file-input", files)
        expect(gallery.locator("#queue li.done")).to_have_count(len(files), timeout=60_000)
        cards = viewer.locator("#people .person")
        expect(cards).to_have_count(3, timeout=60_000)  # live, one person per identity
        expect(viewer.locator("#recognition")).to_have_text(
            "Every photo has been through recognition.", timeout=60_000)
        assert [cards.nth(i).locator(".counts").inner_text() for i in range(3)] == \
            ["3 photos", "2 photos", "2 photos"]
        shot(viewer, "21-people")

        # Name the first person by keyboard: Tab into the field, type, Enter.
        other = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        other.goto(base + "/people")
        expect(other.locator("#live")).to_have_text("Live")
        first = cards.first
        first.locator("input[name=name]").focus()
        viewer.keyboard.type("Barack Obama")
        viewer.keyboard.press("Enter")
        expect(viewer.locator("#people-status")).to_have_text("Named Barack Obama.")
        expect(other.locator("#people .person input[name=name]").first).to_have_value(
            "Barack Obama")  # the other page heard it
        obama_id = first.get_attribute("data-id")

        # A page rendered just before a change and connected just after it
        # hears the change all the same (its script held back meanwhile).
        late = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        held: list = []
        late.route("**/static/people.js*", lambda route: held.append(route))
        late.goto(base + "/people", wait_until="commit")
        late.wait_for_selector("#people .person")
        for _ in range(200):  # (bounded: the script's request comes with the page)
            if held:
                break
            late.wait_for_timeout(50)
        late_id = cards.nth(2).get_attribute("data-id")
        assert call_json(f"{base}/api/people/{late_id}", "PATCH",
                         {"name": "Named meanwhile"})[0] == 200
        held[0].continue_()
        expect(late.locator(f"#name-{late_id}")).to_have_value("Named meanwhile")
        expect(late.locator("#live")).to_have_text("Live")
        name_fields_fit(late, "21-people-1400px")
        phone = browser.new_context(viewport={"width": 360, "height": 800}).new_page()
        phone.goto(base + "/people")
        expect(phone.locator("#live")).to_have_text("Live")
        name_fields_fit(phone, "21-people-360px")
        phone.close()
        late.close()
        assert call_json(f"{base}/api/people/{late_id}", "PATCH", {"name": None})[0] == 200
        expect(cards.nth(2).locator("input[name=name]")).to_have_value("")

        # Merge the two others (select with the keyboard: Space on each box).
        for i in (1, 2):
            cards.nth(i).locator(".select").focus()
            viewer.keyboard.press("Space")
        expect(viewer.locator("#merge")).to_have_text("Merge 2 selected people")
        viewer.locator("#merge").focus()
        viewer.keyboard.press("Enter")
        expect(cards).to_have_count(2)
        expect(other.locator("#people .person")).to_have_count(2)
        expect(cards.first.locator(".counts")).to_have_text("4 photos")  # most faces first
        obama = viewer.locator(f"#person-{obama_id}")
        expect(obama.locator(".counts")).to_have_text("3 photos")
        shot(viewer, "22-people-merged")

        # The gallery's viewer names each face; move Obama's face into a new person.
        photo = gallery.locator("#gallery .card", has_text="obama2.jpg")
        photo.locator("a.thumb").click()
        choice = gallery.locator("#face-list select").first
        expect(choice).to_have_value(obama_id)
        expect(choice.locator("option:checked")).to_have_text("Barack Obama")
        # Each box carries its number and name; choosing one (Enter) takes the
        # keyboard to its entry, and its entry's number back to the box.
        box = gallery.locator("#overlay .face").first
        expect(box.locator(".tag")).to_have_text("1 · Barack Obama")
        box.focus()
        gallery.keyboard.press("Enter")
        expect(choice).to_be_focused()
        expect(box).to_have_class("face current")
        gallery.locator("#face-list .to-box").first.focus()
        gallery.keyboard.press("Enter")
        expect(box).to_be_focused()
        shot(gallery, "23-viewer-people")
        choice.select_option("new")
        expect(cards).to_have_count(3)  # the People page got the new person live
        expect(other.locator("#people .person")).to_have_count(3)
        expect(obama.locator(".counts")).to_have_text("2 photos")
        gallery.keyboard.press("Escape")

        # A person's page lists their photos; deleting one updates People live.
        obama.locator("a.face-crop").focus()
        viewer.keyboard.press("Enter")
        expect(viewer.locator("#person-title")).to_have_text("Barack Obama")
        expect(viewer.locator("#gallery .card")).to_have_count(2)
        shot(viewer, "24-person-page")
        doomed = gallery.locator("#gallery .card", has_text="obama3.jpg")
        doomed.locator("a.thumb").click()
        gallery.once("dialog", lambda dialog: dialog.accept())
        gallery.click("#viewer-delete")
        expect(viewer.locator("#gallery .card")).to_have_count(1)  # gone live from her page
        expect(other.locator(f"#person-{obama_id} .counts")).to_have_text("1 photo")
        shot(other, "25-people-after-delete")
        assert errors == []


def test_corrections_that_teach_through_the_pages(browser, tmp_path: Path, model_path: Path,
                                                  images: Path,
                                                  recognition_model: Path) -> None:
    """On a person's page: split faces off by keyboard, say a face is not
    them; on the People page: answer "same person?" no, then yes; in the
    viewer: draw a face the detector missed and put it in a person; photos
    of two people together. Another People page follows live; axe-core on
    each state."""
    names = ["people/obama/obama.jpg", "people/obama/obama2.jpg", "people/obama/obama3.jpg",
             "people/obama/obama1_knn_test.jpg", "people/biden/biden.jpg",
             "people/biden/biden2.jpg", "obama_and_biden.jpg", "coffee.jpg"]
    with server(tmp_path / "data", model_path,
                extra=("--recognition-model", str(recognition_model))) as (_, base):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page, people = context.new_page(), context.new_page()
        errors: list[str] = []
        for each in (page, people):
            each.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(base + "/")
        page.set_input_files("#file-input", [str(images / name) for name in names])
        expect(page.locator("#queue li.done")).to_have_count(len(names), timeout=60_000)
        people.goto(base + "/people")
        cards = people.locator("#people .person")
        expect(cards).to_have_count(2, timeout=60_000)
        expect(people.locator("#recognition")).to_have_text(
            "Every photo has been through recognition.", timeout=60_000)
        expect(cards.first.locator(".counts")).to_have_text("5 photos")
        for card, name in ((cards.first, "Barack Obama"), (cards.nth(1), "Joe Biden")):
            card.locator("input[name=name]").fill(name)
            card.locator("input[name=name]").press("Enter")
            expect(people.locator("#people-status")).to_have_text(f"Named {name}.")
        obama_id = cards.first.get_attribute("data-id")

        # Obama's page: his faces; two of them split off, by keyboard
        page.goto(f"{base}/?person={obama_id}")
        faces = page.locator("#faces .face-card")
        expect(faces).to_have_count(5)
        shot(page, "30-person-faces")
        for i in (3, 4):  # the oldest two: obama.jpg's and obama2.jpg's
            faces.nth(i).locator(".select").focus()
            page.keyboard.press("Space")
        expect(page.locator("#split")).to_have_text("Make the 2 selected faces a new person")
        page.locator("#split").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#faces-status")).to_contain_text("2 faces made a new person")
        expect(faces).to_have_count(3)
        expect(cards).to_have_count(3)  # the People page got the new person live

        # Same person? Offered on the People page: no is remembered ...
        pairs = people.locator("#pairs .pair")
        expect(pairs).to_have_count(1, timeout=10_000)
        expect(people.locator("#review")).to_be_visible()
        shot(people, "31-same-person")
        pairs.first.locator("button", has_text="No, two people").click()
        expect(people.locator("#people-status")).to_have_text(
            "Kept apart: you will not be asked again.")
        expect(people.locator("#review")).to_be_hidden()
        # ... a second split is asked about (with Obama, and with the first split),
        # and yes merges it back into Obama
        faces.last.locator(".select").check()
        page.locator("#split").click()
        expect(faces).to_have_count(2)
        with_obama = pairs.filter(has=people.locator(f'a[href="/?person={obama_id}"]'))
        expect(with_obama).to_have_count(1, timeout=10_000)
        yes = with_obama.locator("button", has_text="Yes, one person")
        yes.focus()
        people.keyboard.press("Enter")
        expect(people.locator("#people-status")).to_have_text("Merged into one person.")

        # Not this person: the face leaves Obama's page for good
        page.reload()
        expect(faces).to_have_count(3)
        faces.nth(1).locator("button.reject").click()  # (not the group photo's face)
        expect(page.locator("#faces-status")).to_have_text("Taken out of this person.")
        expect(faces).to_have_count(2)

        # Photos of Obama with Biden: the group photo only
        page.select_option("#with-person", label="Joe Biden")
        page.locator("form.with button").click()
        expect(page.locator("#person-title")).to_have_text("Barack Obama and Joe Biden")
        expect(page.locator("#gallery .card")).to_have_count(1)
        expect(page.locator("#gallery .card .name")).to_have_text("obama_and_biden.jpg")
        shot(page, "32-two-people")

        # A face the detector missed, drawn by keyboard in the viewer, then put in a person
        page.goto(base + "/")
        page.locator("#gallery .card", has_text="coffee.jpg").locator("a.thumb").click()
        expect(page.locator("#viewer-info")).to_have_text("0 faces · 600×400")
        page.locator("#draw-face").click()
        for name, value in (("x", "200"), ("y", "100"), ("w", "120"), ("h", "150")):
            field = page.locator(f"#draw-form input[name={name}]")
            field.focus()
            field.fill(value)
        expect(page.locator("#drawn")).to_be_visible()
        shot(page, "33-draw-a-face")
        page.keyboard.press("Enter")
        expect(page.locator("#viewer-info")).to_have_text("1 face · 600×400")
        choice = page.locator("#face-list select").first
        expect(choice).to_be_visible()
        for _ in range(600):  # described in the background: wait until it is (bounded)
            if get_json(base + "/healthz")[1]["recognition_backlog"] == 0:
                break
            page.wait_for_timeout(50)
        choice.select_option("new")
        expect(people.locator("#people .person")).to_have_count(4, timeout=10_000)
        shot(people, "34-people-after-corrections")
        assert errors == []


def test_a_large_library_grows_as_it_is_scrolled_and_by_keyboard(
        browser, tmp_path: Path, model_path: Path, recognition_model: Path) -> None:
    """A gallery of 600 photos and about 150 people, built as
    `bench/scale.py` builds its galleries: People and the gallery show a
    first page, then the rest as the end is scrolled near, or through the
    "more" link by keyboard; each card once, in the API's order."""
    from bench.scale import build

    build(tmp_path / "data", 600)
    with (tmp_path / "server.log").open("w") as log, \
            server(tmp_path / "data", model_path, log=log,  # (many requests: many lines)
                   extra=("--recognition-model", str(recognition_model))) as (_, base):
        errors: list[str] = []
        page = watched(browser, errors)
        for path, grid, more, link, key, first in (
                ("/people", "#people", "#more-people", "#load-people", "people", 48),
                ("/", "#gallery", "#more", "#load-more", "photos", 48)):
            everyone, url = [], f"/api/{key}?limit=100"
            while url:
                answer = get_json(base + url)[1]
                everyone += [item["id"] for item in answer[key]]
                url = answer["next"]
            page.goto(base + path)
            cards = page.locator(f"{grid} > li:not(.month)")  # (not the month headings)
            expect(cards).to_have_count(first)
            page.locator(link).focus()  # by keyboard: the link, then Enter
            page.keyboard.press("Enter")
            expect(cards).to_have_count(min(2 * first, len(everyone)))
            assert page.url == base + path  # the script loaded the page in place
            shot(page, f"65-large-{key}")
            for _ in range(40):  # then by scrolling to the end, until nothing is left
                if not page.locator(more).is_visible():
                    break
                page.mouse.wheel(0, 20_000)
                page.wait_for_timeout(150)
            expect(page.locator(more)).to_be_hidden()
            shown = page.locator(grid).evaluate("list => [...list.children].filter(li => "
                                                "!li.classList.contains('month'))"
                                                ".map(li => li.dataset.id)")
            assert shown == everyone and len(everyone) > 2 * first
        assert errors == []


def test_face_tags_from_another_tool_show_on_the_people_page(
        browser, tmp_path: Path, model_path: Path, images: Path, recognition_model: Path
        ) -> None:
    """Photos tagged by ExifTool as digiKam tags them (MWG face regions in
    the file; a sidecar with a name) go in with `faces import`: the People
    page shows the people named, and the viewer offers their names back as a
    sidecar ("Download face names")."""
    import urllib.request

    from tests.test_xmp import EXIFTOOL, mwg, sidecar, tagged

    if EXIFTOOL is None:
        if os.environ.get("CI") == "true":
            pytest.fail("ExifTool not found (apt-get install libimage-exiftool-perl)")
        pytest.skip("ExifTool not found (apt-get install libimage-exiftool-perl)")
    library = tmp_path / "library"
    library.mkdir()
    with server(tmp_path / "data", model_path,
                extra=("--recognition-model", str(recognition_model))) as (_, base):
        _, plain = upload(base, "kit_with_rose.jpg")  # where its faces are, for the tags
        urllib.request.urlopen(urllib.request.Request(f"{base}/api/photos/{plain['id']}",
                                                      method="DELETE"), timeout=10)
        width, height = plain["width"], plain["height"]
        rose, kit = sorted((f["box"][0] / width, f["box"][1] / height, f["box"][2] / width,
                            f["box"][3] / height) for f in plain["faces"])  # (left to right)
        shutil.copy(images / "kit_with_rose.jpg", library / "kit_with_rose.jpg")
        tagged(library / "kit_with_rose.jpg", mwg([("Kit Harington", kit),
                                                   ("Rose Leslie", rose)]))
        for name in ("john1.jpg", "john2.jpg"):
            shutil.copy(images / "people" / "kit_harington" / name, library / name)
            sidecar(library / name, library / f"{name}.xmp",
                    "-XMP-iptcExt:PersonInImage=Kit Harington")
        done = subprocess.run([sys.executable, "-m", "faces", "import", str(library),
                               "--server", base], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "3 stored" in done.stdout

        errors: list[str] = []
        page = watched(browser, errors)
        page.goto(base + "/people")
        expect(page.locator("#recognition")).to_have_text(
            "Every photo has been through recognition.", timeout=60_000)
        cards = page.locator("#people .person")
        expect(cards).to_have_count(2)
        expect(cards.first.locator("input[name=name]")).to_have_value("Kit Harington")
        expect(cards.first.locator(".counts")).to_have_text("3 photos")
        expect(cards.nth(1).locator("input[name=name]")).to_have_value("Rose Leslie")
        shot(page, "70-people-from-xmp")

        page.goto(base + "/")
        card = page.locator("#gallery .card", has_text="kit_with_rose.jpg")
        card.locator("a.thumb").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#viewer")).to_be_visible()
        link = page.locator("#dl-xmp")
        expect(link).to_be_visible()
        expect(link).to_have_text("Download face names")
        shot(page, "71-viewer-face-names")
        with page.expect_download() as download:
            link.focus()
            page.keyboard.press("Enter")
        assert download.value.suggested_filename == "kit_with_rose.jpg.xmp"
        saved = tmp_path / "saved.xmp"
        download.value.save_as(saved)
        assert b"Rose Leslie" in saved.read_bytes() and b"Kit Harington" in saved.read_bytes()
        assert errors == []


def test_the_timeline_by_date_taken_by_keyboard(browser, tmp_path: Path, model_path: Path,
                                                images: Path) -> None:
    """Photos taken years apart, uploaded in another order: the gallery
    shows them newest taken first under month headings; a year is reached
    from the keyboard; a date corrected in the viewer moves its photo, live,
    on another open page. Each state axe-clean."""
    from tests.test_metadata import written

    folder = tmp_path / "photos"
    folder.mkdir()
    dated = {"2001.jpg": "2001:06:01 12:00:00", "2019.jpg": "2019:03:14 15:09:26",
             "2010.jpg": "2010:10:10 10:10:10"}
    for name, when in dated.items():
        path = folder / name
        path.write_bytes((images / "two_people.jpg").read_bytes())
        written(path, f"-DateTimeOriginal={when}", f"-ImageDescription={name}")
    with server(tmp_path / "data", model_path) as (_, base):
        errors: list[str] = []
        page, other = watched(browser, errors), watched(browser, errors)
        page.goto(base + "/")
        other.goto(base + "/")
        expect(other.locator("#live")).to_have_text("Live")
        page.set_input_files("#file-input", [str(folder / name) for name in dated])
        expect(page.locator("#queue li.done")).to_have_count(3, timeout=60_000)
        names = other.locator("#gallery .card .name")
        expect(names).to_have_text(["2019.jpg", "2010.jpg", "2001.jpg"])  # live, in place
        expect(other.locator("#gallery li.month h3")).to_have_text(
            ["March 2019", "October 2010", "June 2001"])
        page.reload()
        expect(page.locator("#gallery li.month h3")).to_have_text(
            ["March 2019", "October 2010", "June 2001"])
        shot(page, "80-timeline")
        # A year from the keyboard: Tab to its link, Enter.
        link = page.locator(".years a", has_text="2010")
        link.focus()
        page.keyboard.press("Enter")
        page.wait_for_url(base + "/?to=2010")
        expect(page.locator("#gallery .card .name")).to_have_text(["2010.jpg", "2001.jpg"])
        expect(link).to_have_attribute("aria-current", "page")
        month = page.locator(".years a", has_text="October")  # and its months
        month.focus()
        page.keyboard.press("Enter")
        page.wait_for_url(base + "/?to=2010-10")
        expect(page.locator("#gallery li.month h3")).to_have_text(["October 2010",
                                                                   "June 2001"])
        shot(page, "81-timeline-2010")
        # A date corrected in the viewer: the photo moves on the other page.
        page.goto(base + "/")
        page.locator("#gallery .card", has_text="2001.jpg").locator("a.thumb").click()
        page.locator("#taken-input").fill("2015-05-05T05:05:05")
        page.locator("#taken-form button").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#viewer-details")).to_contain_text("set by you")
        shot(page, "82-date-corrected")
        expect(names).to_have_text(["2019.jpg", "2001.jpg", "2010.jpg"])  # (now 2015)
        expect(other.locator("#gallery li.month h3")).to_have_text(
            ["March 2019", "May 2015", "October 2010"])
        assert errors == []


def test_library_folders_live_held_confirmed_by_keyboard(browser, tmp_path: Path,
                                                         model_path: Path, images: Path) -> None:
    """A library folder in the gallery's Library panel: a photo copied into
    it appears in the open gallery by itself; files taken away hold the scan
    (nothing offline) until "Confirm" is pressed from the keyboard, then
    their cards say offline; a folder's own page from its link. Each state
    axe-clean; the folder is never written to."""
    from tests.test_folders import checksums

    library = tmp_path / "library"
    (library / "trip").mkdir(parents=True)
    names = ["t1.jpg", "coffee.jpg", "kit_with_rose.jpg", "obama.jpg", "biden.jpg"]
    for name in names:
        shutil.copy2(images / name, library / "trip" / name)
    env = {"FACES_LIBRARY": str(library), "FACES_LIBRARY_SETTLE": "0.5"}
    with server(tmp_path / "data", model_path, env=env) as (_, base):
        errors: list[str] = []
        page = watched(browser, errors)
        page.goto(base + "/")
        expect(page.locator("#live")).to_have_text("Live")
        root = page.locator("#roots .root")
        expect(root.locator(".root-counts")).to_have_text("5 photos", timeout=60_000)
        expect(root.locator(".root-state")).to_have_text("ok")
        page.reload()
        expect(page.locator("#gallery .card")).to_have_count(5)
        shot(page, "90-library")
        shutil.copy2(images / "obama_and_biden.jpg", library / "new.jpg")  # (by another program)
        expect(page.locator("#gallery .card .name", has_text="new.jpg")).to_have_count(
            1, timeout=30_000)
        before = checksums(library)
        aside = tmp_path / "aside"
        aside.mkdir()
        for name in names[:3]:
            shutil.move(library / "trip" / name, aside / name)
        confirm = root.locator(".root-confirm")
        expect(root.locator(".root-state")).to_have_text("held", timeout=30_000)
        expect(root.locator(".root-why")).to_contain_text("3 files of")
        expect(confirm).to_be_visible()
        expect(page.locator("#gallery .card .offline:visible")).to_have_count(0)
        shot(page, "91-library-held")
        confirm.focus()
        page.keyboard.press("Enter")
        expect(root.locator(".root-state")).to_have_text("ok", timeout=30_000)
        expect(root.locator(".root-counts")).to_have_text("3 photos, 3 offline")
        page.reload()
        expect(page.locator("#gallery .card .offline:visible")).to_have_count(3)
        shot(page, "92-library-offline")
        link = root.locator(".root-path")
        link.focus()
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r".*/\?folder=1/$"))
        expect(page.locator("#gallery-title")).to_contain_text(f"in {library}")
        shot(page, "93-library-folder")
        for name in names[:3]:
            shutil.move(aside / name, library / "trip" / name)
        assert checksums(library) == before  # (nothing written by faces)
        assert errors == []


def test_accounts_and_a_share_link_by_keyboard(browser, tmp_path: Path, model_path: Path,
                                               recognition_model: Path) -> None:
    """An open gallery's owner made from this machine; a person's photos
    shared by a link made on their page; the link opened in another browser
    shows those photos alone, and empties by itself when the owner revokes
    it; a viewer logs in and is offered no upload. By keyboard; every page
    axe-clean."""
    cheap = {"FACES_PASSWORD_TIME": "1", "FACES_PASSWORD_MEMORY": "8"}
    obama = ["people/obama/obama.jpg", "people/obama/obama2.jpg", "people/obama/obama3.jpg"]
    with server(tmp_path / "data", model_path, env=cheap,
                extra=("--recognition-model", str(recognition_model))) as (_, base):
        ids = [upload(base, name)[1]["id"] for name in [*obama, "people/biden/biden.jpg"]]
        errors: list[str] = []
        owner = watched(browser, errors)
        owner.goto(base + "/login")
        owner.wait_for_url(base + "/setup")  # no account yet, and this is the machine
        shot(owner, "90-setup")
        owner.keyboard.type("olive")
        for _ in range(2):
            owner.keyboard.press("Tab")
            owner.keyboard.type("olive-owner-pw")
        owner.keyboard.press("Enter")
        owner.wait_for_url(base + "/account")
        expect(owner.locator("#account-title")).to_have_text("olive")
        shot(owner, "91-account")
        deadline = time.monotonic() + 60
        while not (person := owner.request.get(f"{base}/api/photos/{ids[0]}").json()
                   ["faces"][0]["person"]):
            assert time.monotonic() < deadline, "never grouped"
            time.sleep(0.2)
        owner.goto(f"{base}/?person={person}")
        summary = owner.locator(".share-person summary")
        summary.focus()
        owner.keyboard.press("Enter")
        owner.locator(".share-person input[name=names]").focus()
        owner.keyboard.press("Space")
        shot(owner, "92-share-form")
        owner.locator(".share-person button[type=submit]").focus()
        owner.keyboard.press("Enter")
        owner.wait_for_url(base + "/account")
        link = owner.locator("#new-link").inner_text()
        assert link.startswith(base + "/s/")
        shot(owner, "93-link-made")

        guest = watched(browser, errors)
        guest.goto(link)
        guest.wait_for_url(base + "/shared")  # the token has left the address bar
        photos = guest.locator("#shared-photos .shared-photo")
        expect(photos).to_have_count(3)
        expect(guest.locator("#shared-state")).to_contain_text("3 photos; this link works until")
        expect(guest.locator("#live")).to_have_text("Live")
        shot(guest, "94-shared")
        guest.keyboard.press("Tab")
        guest.keyboard.press("Tab")
        assert guest.evaluate("document.activeElement.closest('.shared-photo') !== null")
        shown = {photos.nth(i).get_attribute("data-id") for i in range(3)}
        assert shown == set(ids[:3])
        assert guest.request.get(f"{base}/api/photos/{ids[3]}").status == 404

        owner.goto(base + "/account")  # (not a reload: that would post the form again)
        owner.locator("table button:has-text('Revoke')").first.focus()
        with owner.expect_navigation():
            owner.keyboard.press("Enter")
        expect(owner.locator("#shares-title + p")).to_have_text("No links yet: a person's "
                                                                "page offers one.")
        expect(guest.locator("#shared-state")).to_have_text(
            "This link no longer works: it was revoked or has expired.")
        expect(photos).to_have_count(0)
        shot(guest, "95-shared-revoked")

        # One photo shared from the viewer.
        owner.goto(base + "/")
        owner.locator(f'#gallery .card[data-id="{ids[3]}"] a.thumb').focus()
        owner.keyboard.press("Enter")
        expect(owner.locator("#viewer")).to_be_visible()
        owner.locator("#share-photo").focus()
        owner.keyboard.press("Enter")
        expect(owner.locator("#share-result")).to_be_visible()
        single = owner.locator("#share-url").input_value()
        assert single.startswith(base + "/s/")
        shot(owner, "98-photo-link")
        other = watched(browser, errors)
        other.goto(single)
        expect(other.locator("#shared-photos .shared-photo")).to_have_count(1)
        expect(other.locator("#shared-state")).to_contain_text("1 photo; this link works until")
        assert other.locator(".shared-photo").get_attribute("data-id") == ids[3]

        # A viewer's account, added on the owner's page by keyboard.
        owner.goto(base + "/account")
        owner.locator("#users-title ~ form input[name=name]").focus()
        owner.keyboard.type("vera")
        owner.keyboard.press("Tab")  # the role: viewer, as it stands
        owner.keyboard.press("Tab")
        owner.keyboard.type("vera-viewer-pw")
        with owner.expect_navigation():
            owner.keyboard.press("Enter")
        expect(owner.locator("#users-title ~ table tbody tr")).to_have_count(2)
        shot(owner, "99-accounts")
        viewer = watched(browser, errors)
        viewer.goto(base + "/")
        viewer.wait_for_url(base + "/login")
        shot(viewer, "96-login")
        viewer.keyboard.type("vera")
        viewer.keyboard.press("Tab")
        viewer.keyboard.type("vera-viewer-pw")
        viewer.keyboard.press("Enter")
        viewer.wait_for_url(base + "/")
        expect(viewer.locator("#upload-form")).to_have_count(0)
        expect(viewer.locator("#gallery .card")).to_have_count(4)
        shot(viewer, "97-viewer-gallery")
        assert errors == []
