"""The Gradio demo: its logic, a launched app through gradio_client, a real browser."""

import concurrent.futures
import contextlib
import os
import shutil
import socket

import pytest

pytest.importorskip("gradio", reason="the demo needs `pip install -e .[demo]`")
pytest.importorskip("ai_edge_litert", reason="the demo runs on the TF-free runtime")

from albert_tf.apps.demo import (MAX_FILE_ROWS, MAX_TEXT_CHARS, DemoModels,  # noqa: E402
                                 launch)
from albert_tf.bundled import resolve  # noqa: E402
from albert_tf.errors import AlbertTfError  # noqa: E402
from tests.helpers import write_tsv  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCREENSHOT = os.path.join(ROOT, "runs", "screenshots", "demo-classify.png")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def models(exported):
    return DemoModels(str(exported[0]), num_threads=1)


@pytest.fixture(scope="module")
def served(exported):
    app = launch(str(exported[0]), port=_free_port(), num_threads=1,
                 prevent_thread_lock=True, quiet=True)
    yield app
    app.close()


@pytest.fixture(scope="module")
def client(served):
    from gradio_client import Client

    return Client(served.local_url, verbose=False)


# --- logic -----------------------------------------------------------------------


def test_batch_accuracy_accepts_label_names_and_original_ids(tmp_path):
    """The bundled model says negative/positive; SST-2 files say 0/1. Both count."""
    models = DemoModels(resolve(None), num_threads=1)
    rows = [("A gripping, funny and beautifully acted film.", "1"),
            ("A dull, clumsy and boring mess.", "0"), ("superb and moving", "1")]
    by_id = write_tsv(tmp_path / "ids.tsv", rows)
    by_name = write_tsv(tmp_path / "names.tsv",
                        [(t, {"0": "negative", "1": "positive"}[l]) for t, l in rows])
    assert models.classify_file(str(by_id))[2].endswith("accuracy against its labels 1.0000")
    assert models.classify_file(str(by_name))[2].endswith("accuracy against its labels 1.0000")
    other = write_tsv(tmp_path / "other.tsv", [(t, "pos") for t, _ in rows])
    summary = models.classify_file(str(other))[2]
    assert "accuracy not computed: the file's labels pos are neither the model's " \
           "(negative, positive) nor its original ids (0, 1)" in summary


def test_bundled_model_is_a_verified_sentiment_export():
    models = DemoModels(resolve(None), num_threads=1)
    assert set(models.classifiers) == {"dynamic_int8", "int8", "float16"}
    assert models.default.recipe == "dynamic_int8" and models.accuracy >= 0.85
    assert models.default.bundle.size_bytes < 2.5e6
    # Distilled from pretrained teachers (by each source of an average), whose
    # figures travel with the files.
    manifest = models.default.bundle.manifest
    records = ([source["distillation"] for source in manifest["averaged_from"]]
               if "averaged_from" in manifest else [manifest["distillation"]])
    assert max(record["teacher"]["teacher_accuracy"] for record in records) > 0.89
    for record in records:
        assert record["teacher"]["teacher_accuracy"] > 0.88 and record["temperature"] > 0
        assert record["transfer"]["counts"]["unlabelled"] > 100_000
    scores, *_ = models.classify("not bad at all, actually quite moving")
    assert max(scores, key=scores.get) == "positive"
    scores, _, details, _ = models.classify("A gripping, funny and beautifully acted film.")
    assert max(scores, key=scores.get) == "positive" and "dynamic_int8 model" in details
    scores, *_ = models.classify("A dull, clumsy and boring mess.")
    assert max(scores, key=scores.get) == "negative"


def test_classify_returns_tokens_details_and_attributions(models):
    scores, tokens, details, segments = models.classify("A superb and lovely film.", "float32")
    assert max(scores, key=scores.get) == "pos"
    assert tokens[0][0] == "[CLS]" and tokens[-1][0] == "[SEP]"
    assert "float32 model" in details and "not truncated" in details
    assert "".join(segment for segment, _ in segments) == "A superb and lovely film."
    _, _, _, segments = models.classify("the dull film", "float32")
    weights = {segment: weight for segment, weight in segments if weight is not None}
    # The sentiment word carries it: scaled to the strongest word, it is +1
    # and removing any other word moves the log-odds far less.
    others = max(abs(weights["the"]), abs(weights["film"]))
    assert weights["dull"] == pytest.approx(1.0) and others < 0.5, weights
    _, _, details, _ = models.classify("superb film " * 300)
    assert "TRUNCATED" in details


def test_compare_has_one_row_per_recipe(models):
    rows = models.compare("a dull story")
    assert [row[0] for row in rows] == list(models.classifiers)
    assert all(row[1] == "neg" and row[3] > 0 and row[4] > 0 for row in rows)


def test_compare_runs_the_other_bundled_tiers_beside_the_recipes(exported):
    """Serving a bundled tier, the Compare tab adds every other tier's default
    recipe, each row naming its tier; a user's own export gets no tiers."""
    from albert_tf.apps.demo import bundled_tiers
    from albert_tf.bundled import BUNDLED_MODEL, BUNDLED_MODELS

    assert bundled_tiers(str(exported[0])) == {}
    tiers = bundled_tiers(None)
    assert tiers["sst2"] == BUNDLED_MODEL and set(tiers) <= set(BUNDLED_MODELS)
    models = DemoModels(str(exported[0]), num_threads=1,
                        tiers={"tiny": str(exported[0]), "sst2": BUNDLED_MODEL})
    assert models.tier == "tiny" and list(models.tiers) == ["sst2"]
    assert models.tiers["sst2"].loaded() == []  # nothing loads before a compare
    rows = models.compare("A dull, clumsy and boring mess.")
    assert [row[0] for row in rows] == [f"tiny: {r}" for r in models.classifiers] + \
        ["sst2: dynamic_int8"]
    assert rows[-1][1] == "negative" and rows[-1][4] < 2.5


def test_downloads_are_kept_in_one_bounded_directory(exported, data_files, monkeypatch):
    import albert_tf.apps.demo as demo

    monkeypatch.setattr(demo, "MAX_KEPT_DOWNLOADS", 3)
    models = DemoModels(str(exported[0]), num_threads=1)
    paths = [models.classify_file(str(data_files / "dev.tsv"))[1] for _ in range(5)]
    assert all(os.path.dirname(p) == models.downloads for p in paths)
    assert sorted(os.listdir(models.downloads)) == sorted(os.path.basename(p)
                                                          for p in paths[-3:])


def test_only_the_default_recipe_loads_at_start(exported):
    """The others load on first use, once, even when two requests ask together."""
    models = DemoModels(str(exported[0]), num_threads=1)
    recipes = list(models.classifiers)
    assert len(recipes) > 2 and models.classifiers.loaded() == [models.default.recipe]
    other = recipes[-1]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: models.classify("a dull story", other)[2], range(4)))
    assert all(f"{other} model" in details for details in answers)
    assert models.classifiers.loaded() == [models.default.recipe, other]
    assert models.classifiers[other] is models.classifiers[other]
    models.compare("a dull story")
    assert models.classifiers.loaded() == recipes
    with pytest.raises(KeyError):
        models.classifiers["no-such-recipe"]


def test_similarity_ranks_a_paraphrase_above_an_opposite(models):
    assert models.has_embedding
    same = models.similarity("a superb lovely film", "a lovely superb film")
    other = models.similarity("a superb lovely film", "awful dull boring clumsy plot")
    assert same > other


def test_similarity_of_text_the_embedder_cannot_read_is_a_clear_message(exported):
    """The bundled embedder's vocabulary is English: emoji and Chinese are all
    `<unk>` (their vectors nearly equal), so the tab says it cannot read them
    rather than showing a similarity of 1.0."""
    from albert_tf.runtime import Embedder

    models = DemoModels(str(exported[0]), num_threads=1,
                        embedder=Embedder.load(num_threads=1))
    with pytest.raises(AlbertTfError, match="cannot read one of the texts"):
        models.similarity("👍", "一部很好的电影")
    with pytest.raises(AlbertTfError, match="cannot read the query"):
        models.search("👍", texts="a funny film\nstocks fell")
    assert [row[2] for row in models.search("a witty comedy", texts="👍\na funny film")] == [
        "a funny film"]  # the unreadable line is not ranked
    assert models.similarity("a gripping, funny film", "an entertaining and witty movie") > 0.5


@pytest.mark.parametrize("text, message", [
    ("", "empty"), ("   ", "empty"), (None, "empty"),
    ("x" * (MAX_TEXT_CHARS + 1), "at most"),
], ids=["empty", "spaces", "none", "too-long"])
def test_bad_texts_get_a_clear_message(models, text, message):
    with pytest.raises(AlbertTfError, match=message):
        models.classify(text)


def test_batch_file_with_labels_and_bounds(models, tmp_path, corpus):
    path = write_tsv(tmp_path / "reviews.tsv", corpus[:50])
    rows, csv_path, summary = models.classify_file(str(path))
    assert len(rows) == 50 and "accuracy against its labels" in summary
    assert open(csv_path, encoding="utf-8").readline().strip() == "text,label,score,truncated"
    txt = tmp_path / "lines.txt"
    txt.write_text("a lovely film\ndull plot\n")
    assert [row[1] for row in models.classify_file(str(txt))[0]] == ["pos", "neg"]
    for name, content, message in [
            ("program.exe", "MZ", "not a"),
            ("big.txt", "lovely film\n" * (MAX_FILE_ROWS + 1), "at most"),
            ("huge.txt", "x" * (3 * 1024 * 1024), "MB")]:
        (tmp_path / name).write_text(content)
        with pytest.raises(AlbertTfError, match=message):
            models.classify_file(str(tmp_path / name))


def test_a_model_directory_is_named_as_the_mistake(trained_dir):
    # The tour's next step after `train` used to end in a bare StopIteration.
    with pytest.raises(AlbertTfError, match="is a model directory .* expected an export"):
        DemoModels(str(trained_dir), num_threads=1)
    assert resolve("sst2") == resolve(None)  # the bundled model's short name


def test_classify_reads_long_texts_in_the_runtimes_modes(models):
    long = " ".join(["A superb and lovely film."] * 40)
    _, _, cut, _ = models.classify(long, "float32", "truncate")
    _, _, read, _ = models.classify(long, "float32", "sentences")
    assert "TRUNCATED" in cut and "TRUNCATED" not in read and "read sentences" in read
    with pytest.raises(AlbertTfError, match="choose one of truncate, sentences, chunks"):
        models.classify(long, "float32", "whole")


def test_batch_file_follows_the_cli_rule_and_names_the_users_file(models, tmp_path):
    path = tmp_path / "small.csv"
    path.write_text("text,label\na lovely film,pos\n,neg\ndull plot,neg\n")
    rows, _, summary = models.classify_file(str(path))
    assert [row[1] for row in rows] == ["pos", "error: text is empty or whitespace only", "neg"]
    assert "3 texts classified" in summary and "1 could not be (rows 3)" in summary
    assert "accuracy against its labels 1.0000" in summary  # of the texts answered
    lines = tmp_path / "lines.txt"
    lines.write_text("a lovely film\n\ndull plot\n")  # a blank line keeps its place
    assert [row[1] for row in models.classify_file(str(lines))[0]] == [
        "pos", "error: text is empty or whitespace only", "neg"]
    other = tmp_path / "columns.csv"
    other.write_text("body,label\na lovely film,pos\n")
    with pytest.raises(AlbertTfError) as error:
        models.classify_file(str(other))
    message = str(error.value)
    assert message.startswith("columns.csv") and str(tmp_path) not in message
    assert "text column" in message and "--text-column" not in message
    assert models.classify_file(str(other), "body")[0][0][1] == "pos"


# --- the launched app, through its API ------------------------------------------------


def test_served_on_localhost_only_without_share_link(served):
    assert served.local_url.startswith("http://127.0.0.1:")
    assert served.share_url is None


def test_client_classifies_one_text(client):
    label, tokens, details, attributions = client.predict(
        "A superb and lovely film.", "float32", "truncate", api_name="/classify")
    assert label["label"] == "pos"
    assert "float32 model" in details


def test_client_classifies_a_file(client, tmp_path, corpus):
    from gradio_client import handle_file

    path = write_tsv(tmp_path / "upload.tsv", corpus[:20])
    table, csv_file, summary = client.predict(handle_file(str(path)), "",
                                              api_name="/classify_file")
    assert "20 texts classified" in summary and len(table["data"]) == 20
    assert open(csv_file, encoding="utf-8").read().count("\n") == 21


@pytest.mark.parametrize("text, message", [("", "empty"), ("y" * 1_000_000, "at most")],
                         ids=["empty", "1MB"])
def test_client_gets_readable_errors(client, text, message):
    with pytest.raises(Exception, match=message):
        client.predict(text, "int8", "truncate", api_name="/classify")


def test_a_user_error_logs_one_line_not_a_traceback(client, capfd, caplog):
    capfd.readouterr()
    with caplog.at_level("WARNING", logger="albert_tf.demo"):
        with pytest.raises(Exception, match="empty"):
            client.predict("   ", "int8", "sentences", api_name="/classify")
    assert "Traceback" not in capfd.readouterr().err
    assert [r.getMessage() for r in caplog.records if r.name == "albert_tf.demo"] == [
        "classify: type a text to classify (it is empty)"]


def test_the_api_lists_only_the_named_endpoints(client):
    endpoints = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    from albert_tf.bundled import BUNDLED_EMBEDDER

    # The bundled sentence embedder, when shipped, brings the Search tab.
    search = {"/search"} if os.path.isdir(BUNDLED_EMBEDDER) else set()
    assert endpoints == {"/classify", "/classify_file", "/compare", "/similarity"} | search


def test_a_busy_port_fails_in_one_line_naming_the_option():
    from tests.helpers import run_cli

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("demo", "--port", port, timeout=120)
    assert result.returncode == 1 and "serving on" not in result.stderr
    assert result.stderr.count("\n") == 1 and "--port" in result.stderr, result.stderr
    assert f"127.0.0.1:{port}" in result.stderr


def test_the_demo_command_keeps_litert_start_up_notices_off_the_terminal(tmp_path):
    """`albert-tf demo` as a user starts it: the terminal shows where it serves, and
    LiteRT's "Created TensorFlow Lite XNNPACK delegate" line (written at the
    process's first interpreter call) does not follow the first request."""
    import subprocess
    import sys
    import time

    from gradio_client import Client

    from albert_tf.apps.demo import SIMILARITY_EXAMPLE
    from albert_tf.artifacts.manifest import read_manifest
    from albert_tf.bundled import BUNDLED_EMBEDDER
    from albert_tf.runtime import available_recipes

    port = _free_port()
    log = tmp_path / "stderr.txt"
    with open(log, "w") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "albert_tf.apps.cli", "demo", "--port", str(port),
             "--threads", "1"], stdout=subprocess.DEVNULL, stderr=stderr,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"})
    try:
        deadline = time.time() + 120
        while "serving on" not in log.read_text() and server.poll() is None:
            assert time.time() < deadline, log.read_text()
            time.sleep(0.5)
        assert server.poll() is None, log.read_text()
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        recipe = available_recipes(read_manifest(resolve(None)))[0]
        label = client.predict("A superb and lovely film.", recipe, "truncate",
                               api_name="/classify")[0]
        assert "positive" in str(label)
        if os.path.isdir(BUNDLED_EMBEDDER):
            assert float(client.predict(*SIMILARITY_EXAMPLE, api_name="/similarity")) > 0.5
    finally:
        server.terminate()
        server.wait(timeout=30)
    written = log.read_text()
    assert "serving on" in written and "XNNPACK" not in written, written


def test_client_wrong_file_type(client, tmp_path):
    from gradio_client import handle_file

    bad = tmp_path / "notes.exe"
    bad.write_bytes(b"MZ\x00\x01")
    with pytest.raises(Exception):  # Gradio refuses the type, or the app does, clearly
        client.predict(handle_file(str(bad)), "", api_name="/classify_file")


# --- a real browser -------------------------------------------------------------------


@contextlib.contextmanager
def browser_page(url):
    """A headless Chromium page on `url` (skips where Chromium or Playwright is missing)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does)")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1400})
            page.goto(url)
            yield page
        finally:
            browser.close()


def test_browser_types_a_review_and_reads_the_label(served):
    with browser_page(served.local_url) as page:
        page.locator("#input-text textarea").fill("A superb and lovely film.")
        page.locator("#classify-button").click()
        label = page.locator("#prediction")
        label.get_by_text("pos").first.wait_for(timeout=30_000)
        page.locator("#details textarea").wait_for(timeout=10_000)
        os.makedirs(os.path.dirname(SCREENSHOT), exist_ok=True)
        page.screenshot(path=SCREENSHOT, full_page=True)
        assert "pos" in label.inner_text()


def test_browser_similarity_tab_measures_meaning_on_the_bundled_embedder(served):
    """Issue 34's check, as a user makes it: two film sentences score clearly above a
    film sentence against a stock-market one."""
    from albert_tf.bundled import BUNDLED_EMBEDDER

    if not os.path.isdir(BUNDLED_EMBEDDER):
        pytest.skip("no bundled sentence embedder in this checkout")
    scores = {}
    with browser_page(served.local_url) as page:
        page.get_by_role("tab", name="Similarity").click()
        for second in ("an entertaining and witty movie",
                       "the stock market fell sharply today"):
            page.locator("#similarity-first textarea").fill("a gripping, funny film")
            page.locator("#similarity-second textarea").fill(second)
            box = page.locator("#similarity-score input")
            before = box.input_value()
            page.locator("#similarity-button").click()
            page.wait_for_function(
                "([el, old]) => el.value !== old && el.value !== ''",
                arg=[box.element_handle(), before], timeout=30_000)
            scores[second] = float(box.input_value())
    print(f"similarity in the browser: {scores}")
    assert scores["an entertaining and witty movie"] > \
        scores["the stock market fell sharply today"] + 0.4


def test_the_demo_examples_are_answered_right_by_the_bundled_model():
    from albert_tf.apps.demo import EXAMPLES, build_app

    models = DemoModels(resolve(None), num_threads=1)
    expected = ["positive", "negative", "positive", "negative"]
    assert [models.default.classify(text).label for text in EXAMPLES] == expected
    # The page says what the model is for and sends nothing to Gradio's servers.
    assert "movie-review sentences" in models.description
    assert build_app(models).analytics_enabled is False
