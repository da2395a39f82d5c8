"""The built book in a real browser: every page of `_build/html` loaded in headless Chromium (Debian's `chromium` and
`chromium-driver`, driven with selenium; nothing is downloaded), with the network of a reader who has none.

Checked on every page: each image decodes (natural width > 0); MathJax (served from the book's own `_static/`)
typesets every equation without an error; nothing is loaded from another host; the browser console logs no error;
no `Traceback` or `NaN` in what the code showed, no numpy repr such as `np.float64(0.87)` outside code (cell outputs and tables; prose and code may name them), no stderr
block, and no absolute machine path anywhere in the page text (nor in the HTML files and the downloadable notebooks);
every internal link (and its `#anchor`) resolves. On the four paper chapters (the `Papers` part of `_toc.yml`): every
image sits in a figure with a caption and a name that the text references (`{numref}`), and the first screen shows
the results-at-a-glance figure with no code above it. The search page finds
"saliency". A screenshot of the top of each page goes to `_build/screenshots/`, with `browser_report.json` (what
was found on each page).

The test needs a freshly built book, so it runs only when asked: `RNA_PAPERS_BOOK_HTML=_build/html pytest
tests/test_book_browser.py` (`.ci/run` does this after `rna-papers book`). Without that variable it is skipped; with
it, a missing book, browser or driver is a failure.
"""
from __future__ import annotations
import functools, http.server, json, os, re, shutil, tempfile, threading, time
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = "RNA_PAPERS_BOOK_HTML"
CHROMIUM, CHROMEDRIVER = os.environ.get("CHROMIUM", "/usr/bin/chromium"), os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
SHOTS = ROOT / "_build" / "screenshots"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=1280,900"]
# an absolute path of a build machine: /root/..., /home/..., /tmp/..., site-packages, a Windows drive
MACHINE_PATH = re.compile(r"(?<![\w.:/~-])(?:/(?:root|home|tmp|Users|usr|opt|var|private|mnt|work|builds?)/[\w.@+-]|"
                          r"[\w./-]*site-packages/|[A-Z]:\\\\?[\w ]+\\)")
NAN = re.compile(r"(?<![\w-])NaN(?![\w-])")


def _why_not() -> str|None:
    "Why the browser test cannot run here (None when it can)."
    if not os.environ.get(ENV): return f"set {ENV}=_build/html after `rna-papers book` to load the built book in Chromium"
    html = Path(os.environ[ENV])
    if not (html / "index.html").exists(): return f"no built book: {html}/index.html is missing (run `rna-papers book` first)"
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not Path(exe).exists(): return f"{exe} is missing (apt-get install chromium chromium-driver)"
    try: import selenium  # noqa: F401
    except ImportError: return "selenium is not installed (pip install selenium)"
    return None


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass


@functools.lru_cache(1)
def _crawl() -> dict:
    "Load every page of the book once; return what each check needs, per page."
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    html = Path(os.environ[ENV]).resolve()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(html)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}/"
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    opts = webdriver.ChromeOptions(); opts.binary_location = CHROMIUM
    for f in FLAGS + [f"--user-data-dir={profile}"]: opts.add_argument(f)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    os.environ.setdefault("SE_OFFLINE", "true")          # selenium manager: never download a driver or browser
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    SHOTS.mkdir(parents=True, exist_ok=True)
    pages = sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html") if "_static" not in p.parts and "_sources" not in p.parts
                   and "<body" in p.read_text(errors="replace"))    # not a redirect stub (the root index.html): it navigates away
                                                                    # at once, so a script run on it can find no body
    report = {}
    try:
        for rel in pages:
            driver.get(base + rel); report[rel] = _inspect(driver)
            if rel.startswith("nbs/"): driver.save_screenshot(str(SHOTS / (Path(rel).stem + ".png")))
        driver.get(base + "search.html?q=saliency")
        deadline = time.time() + 30; hits = 0
        while time.time() < deadline:
            hits = driver.execute_script("return document.querySelectorAll('#search-results li, ul.search li').length")
            if hits: break
            time.sleep(0.5)
        report["search.html?q=saliency"] = {"search_hits": hits, "console": _console(driver)}
    finally:
        driver.quit(); srv.shutdown(); shutil.rmtree(profile, ignore_errors=True)
    report = {"base": base, "html": str(html), "pages": report}
    (SHOTS / "browser_report.json").write_text(json.dumps({k: v for k, v in report.items() if k != "html"}, indent=1) + "\n")
    return report


_WAIT_JS = """
const done = arguments[arguments.length - 1];
const imgs = Array.from(document.images).map(i => i.complete ? Promise.resolve() :
    new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r); }));
// MathJax's script is async: on a long page it may not have run yet when the load event fires, and window.MathJax is
// then only the configuration object. Poll for its startup promise (up to 40 s) before calling it missing.
const started = new Promise(r => { const t0 = Date.now(); (function poll() {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) return r(true);
    if (!document.querySelector('script[src*="mathjax" i]')) return r(false);    // a page without math loads none
    if (Date.now() - t0 > 40000) return r(false);
    setTimeout(poll, 100); })(); });
const mj = started.then(ok => ok ? MathJax.startup.promise.then(() => 'ok', e => String(e))
                                 : (window.MathJax ? 'no startup' : 'absent'));
Promise.all([mj, ...imgs]).then(r => done(r[0]));
"""

_INSPECT_JS = """
const maths = Array.from(document.querySelectorAll('.math'));
return {
  mathjax: window.MathJax && MathJax.version ? MathJax.version : null,
  math: maths.length,
  math_untypeset: maths.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 60)),
  math_errors: Array.from(document.querySelectorAll('mjx-merror, [data-mjx-error]')).map(e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 80)),
  images: document.images.length,
  broken_images: Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src').slice(0, 80)),
  stderr_blocks: document.querySelectorAll('.output.stderr, .cell_output .stderr, div.stderr').length,
  text: document.body.innerText,
  output_text: Array.from(document.querySelectorAll('.cell_output, div.output, table td')).map(e => e.innerText).join(' ; '),
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
  figures: Array.from((document.querySelector('article') || document.body).querySelectorAll('img')).map(i => {
      const f = i.closest('figure');
      return {src: (i.getAttribute('src') || '').slice(0, 60), id: f ? f.id : null, caption: !!(f && f.querySelector('figcaption'))}; }),
  refs: Array.from(document.querySelectorAll('a[href*="#"]')).map(a => a.getAttribute('href').split('#').pop()),
  first_figure_top: (() => { const f = document.querySelector('article figure'); return f ? f.getBoundingClientRect().top + window.scrollY : null; })(),
  first_code_top: (() => { const c = document.querySelector('article .cell_input, article div.highlight'); return c ? c.getBoundingClientRect().top + window.scrollY : null; })(),
  viewport_height: window.innerHeight,
  prose: (() => { const a = (document.querySelector('article') || document.body).cloneNode(true);
                  a.querySelectorAll('pre, .highlight, .cell_input').forEach(e => e.remove()); return a.textContent; })(),
  external_loads: performance.getEntriesByType('resource').map(e => e.name)
      .concat(Array.from(document.querySelectorAll('script[src], img[src], iframe[src]')).map(e => e.src))
      .concat(Array.from(document.querySelectorAll('link[href]')).filter(l => l.rel !== 'canonical').map(l => l.href))
      .filter(n => n && !n.startsWith(location.origin) && !n.startsWith('data:')),
};
"""


def _console(driver) -> list[str]:
    return [e["message"][:300] for e in driver.get_log("browser") if e.get("level") in ("SEVERE", "ERROR")]


def _inspect(driver) -> dict:
    driver.set_script_timeout(60)
    state = driver.execute_async_script(_WAIT_JS)
    if state == "no startup":               # MathJax's file did not arrive (a busy CI machine): load the page once more;
        driver.refresh(); state = driver.execute_async_script(_WAIT_JS)     # a page that really lacks it fails again
    d = driver.execute_script(_INSPECT_JS); text, shown = d.pop("text"), d.pop("output_text")
    d["mathjax_startup"] = state
    # Traceback and NaN: in what the code showed (cell outputs, tables), not in prose or code that names them
    d["traceback"] = "Traceback" in shown
    # a glued numpy scalar shown as its repr, in prose or outputs (code may write np.float32(...) on purpose)
    d["numpy_repr"] = re.findall(r"np\.(?:float|int)\d+\([^)]{0,30}\)", shown + d.pop("prose"))[:5]
    d["nan"] = [shown[max(0, m.start() - 40): m.end() + 20].replace("\n", " ") for m in NAN.finditer(shown)][:10]
    d["machine_paths"] = [text[max(0, m.start() - 20): m.end() + 40].replace("\n", " ") for m in MACHINE_PATH.finditer(text)][:10]
    d["console"] = _console(driver)
    return d


@pytest.fixture(scope="module")
def book():
    why = _why_not()
    if why and not os.environ.get(ENV): pytest.skip(why)
    if why: pytest.fail(f"{ENV} is set but the browser test cannot run: {why}")
    return _crawl()


def _bad(book, key) -> dict:
    return {p: v[key] for p, v in book["pages"].items() if v.get(key)}


def test_pages_found(book):
    pages = [p for p in book["pages"] if p.startswith("nbs/")]
    assert len(pages) >= 2, f"the built book has only {pages}"


def test_images_decode(book):
    assert not _bad(book, "broken_images"), f"images that do not decode: {_bad(book, 'broken_images')}"


def test_mathjax_typesets_every_equation(book):
    pages = {p: v for p, v in book["pages"].items() if "math" in v}
    with_math = {p: v for p, v in pages.items() if v["math"]}
    assert all(v["mathjax"] for v in with_math.values()), f"MathJax did not load on {[p for p, v in with_math.items() if not v['mathjax']]}"
    assert not {p: v["mathjax_startup"] for p, v in with_math.items() if v["mathjax_startup"] != "ok"}
    assert not _bad(book, "math_untypeset"), f"equations left as TeX: {_bad(book, 'math_untypeset')}"
    assert not _bad(book, "math_errors"), f"MathJax errors: {_bad(book, 'math_errors')}"


def test_offline_no_external_loads(book):
    assert not _bad(book, "external_loads"), f"pages load files from outside the book: {_bad(book, 'external_loads')}"


def test_no_console_errors(book):
    assert not _bad(book, "console"), f"console errors: {_bad(book, 'console')}"


def test_no_traceback_nan_stderr_or_machine_path(book):
    found = {k: _bad(book, k) for k in ("traceback", "nan", "stderr_blocks", "machine_paths", "numpy_repr")}
    assert not any(found.values()), f"development noise in the page text: { {k: v for k, v in found.items() if v} }"


def test_internal_links_resolve(book):
    html, base = Path(book["html"]), book["base"]
    ids = {}
    def has_id(rel, frag):
        if rel not in ids:
            ids[rel] = set(re.findall(r'\bid="([^"]+)"', (html / rel).read_text(errors="replace")))
        return frag in ids[rel]
    broken = {}
    for page, v in book["pages"].items():
        for href in v.get("links", []):
            if not href.startswith(base): continue
            url, frag = urldefrag(href); rel = unquote(urlparse(url).path).lstrip("/") or "index.html"
            if rel.endswith("/"): rel += "index.html"
            target = html / rel
            if not target.is_file(): broken.setdefault(page, []).append(href[len(base):])
            elif frag and target.suffix == ".html" and not has_id(rel, unquote(frag)):
                broken.setdefault(page, []).append(href[len(base):])
    assert not broken, f"internal links that do not resolve: {broken}"


def test_files_of_the_book_name_no_machine_path(book):
    "The pages' HTML and the downloadable notebooks (`_sources/`) hold no path of the machine that built them."
    import sys, tempfile
    here = [str(ROOT) + "/", sys.prefix + "/", tempfile.gettempdir() + "/", str(Path.home()) + "/", "site" + "-packages"]
    html, found = Path(book["html"]), {}
    for f in [*html.rglob("*.html"), *(html / "_sources").rglob("*.ipynb")]:
        if "_static" in f.parts: continue
        text = f.read_text(errors="replace")
        hits = [h for h in here if len(h) > 2 and h in text]
        if hits: found[f.relative_to(html).as_posix()] = hits
    assert not found, f"machine paths in the built book's files: {found}"


def _paper_chapters() -> list[str]:
    "HTML pages of the 'Papers' part of `_toc.yml` (the four paper chapters)."
    import yaml
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [c["file"] + ".html" for part in toc["parts"] if part.get("caption") == "Papers" for c in part["chapters"]]


def test_chapter_figures_captioned_named_referenced(book):
    "Every image of a paper chapter sits in a figure with a caption and a name, and the text refers to that name."
    bad = {}
    for page in _paper_chapters():
        v = book["pages"][page]
        for f in v["figures"]:
            why = ("not in a named figure" if not f["id"] else "no caption" if not f["caption"]
                   else "never referenced in the text" if f["id"] not in v["refs"] else None)
            if why: bad.setdefault(page, []).append(f"{f['id'] or f['src']}: {why}")
    assert not bad, f"figures a reader cannot find from the text: {bad}"


def test_chapter_first_screen_is_title_summary_and_figure(book):
    "Each paper chapter's first screen: a results-at-a-glance figure starting within the first screen, no code above it."
    bad = {}
    for page in _paper_chapters():
        v = book["pages"][page]; top, code = v["first_figure_top"], v["first_code_top"]
        if top is None: bad[page] = "no figure"
        elif top > v["viewport_height"]: bad[page] = f"first figure starts at {top:.0f} px, below the first screen ({v['viewport_height']} px)"
        elif code is not None and code < top: bad[page] = f"code at {code:.0f} px above the first figure ({top:.0f} px)"
    assert not bad, bad


def test_search_finds_saliency(book):
    assert book["pages"]["search.html?q=saliency"]["search_hits"] > 0, "the search page finds nothing for 'saliency'"


def test_screenshots_of_chapters(book):
    shots = sorted(p.name for p in SHOTS.glob("*.png"))
    assert len(shots) == len([p for p in book["pages"] if p.startswith("nbs/")]), shots
