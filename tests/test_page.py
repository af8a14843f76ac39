"""The listening page at `/` (serve/static/index.html), in a real headless Chromium: a clip chosen in the
page is encoded and decoded by the server, both players load, both spectrograms are drawn, the report is
shown, and a screenshot of it is not blank; a format the browser cannot play is played from the server's WAV
of it; a right token clears the token message; the same file chosen again is listened to again."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from snac_cli.settings import ServeSettings
from tests.helpers.browser import browser, chromium
from tests.helpers.serving import TOKEN, server

# Skipped only off CI, on a machine without chromium: CI installs it (.ci/run), and there it must run.
pytestmark = pytest.mark.skipif(chromium() is None and not os.environ.get("CI"), reason="no chromium")


def test_the_page_plays_the_original_and_the_reconstruction_with_spectrograms(checkpoint, audio_file, tmp_path):
    clip = audio_file("clip.wav", rate=16000, seconds=2.0)
    settings = ServeSettings(models=(str(checkpoint("tiny-lm")),), device="cpu", token=TOKEN)
    with server(settings) as port, browser(f"http://127.0.0.1:{port}/") as page:
        page.evaluate(f"document.getElementById('token').value = '{TOKEN}'")
        page.evaluate("document.getElementById('token').dispatchEvent(new Event('change'))")
        page.wait_for("document.getElementById('model').options.length === 1")
        document = page.call("DOM.getDocument")["root"]["nodeId"]
        chooser = page.call("DOM.querySelector", nodeId=document, selector="#file")["nodeId"]
        page.call("DOM.setFileInputFiles", nodeId=chooser, files=[str(clip)])
        state = page.wait_for("['done', 'failed'].includes(document.body.dataset.state) && document.body.dataset.state")
        assert state == "done", page.evaluate("document.getElementById('status').textContent")
        for player in ("original", "decoded"):  # both players know the clip's length
            duration = page.wait_for(f"document.getElementById('{player}').duration || 0")
            assert duration == pytest.approx(2.0, abs=0.05)
        for canvas in ("original-spec", "decoded-spec"):  # drawn: many distinct pixel values
            distinct = page.evaluate(
                f"(() => {{ const c = document.getElementById('{canvas}');"
                " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, seen = new Set();"
                " for (let i = 0; i < d.length; i += 4) seen.add(d[i]); return seen.size; })()"
            )
            assert distinct > 50
        report = page.evaluate("document.getElementById('report').innerText")
        assert "si_sdr_db" in report and "bitrate_kbps" in report and "mel_distance" in report
        shot = base64.b64decode(page.call("Page.captureScreenshot", format="png")["data"])
    Path(tmp_path / "page.png").write_bytes(shot)
    assert shot.startswith(b"\x89PNG") and len(shot) > 20_000  # a blank page compresses to a few KB


def choose(page, path: Path) -> str:
    """Choose a file in the page's chooser; the state the page ends in."""
    page.evaluate("document.body.dataset.state = ''")
    document = page.call("DOM.getDocument")["root"]["nodeId"]
    chooser = page.call("DOM.querySelector", nodeId=document, selector="#file")["nodeId"]
    page.call("DOM.setFileInputFiles", nodeId=chooser, files=[str(path)])
    return page.wait_for("['done', 'failed'].includes(document.body.dataset.state) && document.body.dataset.state")


def test_the_page_plays_what_the_browser_cannot_and_listens_again_to_the_same_file(checkpoint, audio_file):
    clip = audio_file("clip.wav", rate=16000, seconds=1.5)
    aiff = clip.with_suffix(".aiff")
    import soundfile as sf

    samples, rate = sf.read(clip)
    sf.write(aiff, samples, rate, format="AIFF")
    settings = ServeSettings(models=(str(checkpoint("tiny-lm")),), device="cpu", token=TOKEN)
    with server(settings) as port, browser(f"http://127.0.0.1:{port}/") as page:
        page.wait_for("document.getElementById('status').textContent.includes('token')")
        page.evaluate(f"document.getElementById('token').value = '{TOKEN}'")
        page.evaluate("document.getElementById('token').dispatchEvent(new Event('change'))")
        page.wait_for("document.getElementById('model').options.length === 1")
        assert page.evaluate("document.getElementById('status').textContent") == ""  # the token message is gone
        assert choose(page, aiff) == "done", page.evaluate("document.getElementById('status').textContent")
        duration = page.wait_for("document.getElementById('original').duration || 0")
        assert duration == pytest.approx(1.5, abs=0.05)
        assert choose(page, aiff) == "done"  # the same file again
