"""The MediaWiki Action API, emulated over the bundled sample wiki (no HTTP here).

:class:`MediaWikiEmulator` answers ``formatversion=2`` JSON requests the way MediaWiki does:

* ``action=query&list=allpages`` (``apprefix``, ``apnamespace``, ``apfilterredir``, ``aplimit``,
  continuation by ``apcontinue``), titles in MediaWiki's binary order;
* ``action=query&generator=allpages`` (the same with a ``g`` prefix) with ``prop=templates|info``
  (``tlnamespace``, ``tllimit``, continuation by ``tlcontinue`` inside a batch, ``batchcomplete``),
  ``inprop=url`` and ``redirects`` (a redirect target may reappear in its own batch, as on a real wiki);
* ``action=parse&page=…`` (``prop=text|templates``, ``redirects``) with the HTML of
  :mod:`babylm.data.wikisource.sample.wiki`, and ``missingtitle`` errors; the page-level faults of
  :mod:`babylm.data.wikisource.sample.server` (``redirect:``, ``double-redirect:``, damaged or huge HTML).

Used by :mod:`babylm.data.wikisource.sample.server`, which adds HTTP and faults. Pure logic; no files, no network.
"""

from __future__ import annotations

import re

from babylm.data.wikisource.sample.wiki import PREFIX, SampleWiki, WikiPage, wiki_path


class ApiReply(Exception):
    """Carries an HTTP answer out of the API emulation: status, JSON-able body (or raw bytes), headers."""

    def __init__(self, status: int, body, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def api_error(code: str, info: str) -> dict:
    """A MediaWiki error response body with ``code`` and ``info``."""
    return {"error": {"code": code, "info": info, "docref": "See /w/api.php for API usage."},
            "servedby": "sample-server"}


def _limit(value: str | None, maximum: int, default: int = 10) -> int:
    if value in (None, ""):
        return default
    if value == "max":
        return maximum
    try:
        return max(1, min(int(value), maximum))
    except ValueError:
        raise ApiReply(200, api_error("badinteger", f'Invalid value "{value}" for integer parameter.')) from None


def _dbkey(title: str) -> str:
    return title.replace(" ", "_")


class MediaWikiEmulator:
    """The API logic, without HTTP: :meth:`answer` maps query parameters to a JSON-able response."""

    def __init__(self, wiki: SampleWiki, max_limit: int = 500) -> None:
        self.wiki = wiki
        self.max_limit = max_limit
        self.sorted_titles = sorted(wiki.pages, key=lambda t: _dbkey(t).encode("utf-8"))

    def answer(self, params: dict[str, str], host: str) -> dict:
        """Return the response object for ``params``; raises :class:`ApiReply` for errors."""
        if params.get("format", "json") != "json":
            return api_error("badvalue", 'This sample server only speaks format=json.')
        if params.get("formatversion") != "2":
            return api_error("badvalue", "This sample server only speaks formatversion=2.")
        action = params.get("action")
        if action == "parse":
            return self.parse(params, host)
        if action == "query":
            if params.get("list") == "allpages":
                return self.list_allpages(params)
            if params.get("generator") == "allpages":
                return self.generator_allpages(params, host)
            return api_error("badvalue", "This sample server supports list=allpages and generator=allpages.")
        return api_error("badvalue", f'Unrecognized value for parameter "action": {action}.')

    def _allpages(self, params: dict[str, str], p: str) -> tuple[list[WikiPage], str | None]:
        """One batch of allpages (parameter prefix ``p`` = "ap" or "gap") and the next continue value."""
        namespace = int(params.get(f"{p}namespace", "0") or 0)
        prefix = _dbkey(params.get(f"{p}prefix", ""))
        start = max(_dbkey(params.get(f"{p}from", "")), params.get(f"{p}continue", ""))
        redirects = params.get(f"{p}filterredir", "all")
        limit = _limit(params.get(f"{p}limit"), self.max_limit)
        chosen = []
        for title in self.sorted_titles:
            page = self.wiki.pages[title]
            key = _dbkey(title[len(self._ns_prefix(page)):])
            if page.namespace != namespace or not key.startswith(prefix) or key.encode() < start.encode():
                continue
            if (redirects == "redirects") != (page.kind == "redirect") and redirects != "all":
                continue
            if len(chosen) == limit:
                return chosen, key
            chosen.append(page)
        return chosen, None

    @staticmethod
    def _ns_prefix(page: WikiPage) -> str:
        return page.title.split(":", 1)[0] + ":" if page.namespace else ""

    def list_allpages(self, params: dict[str, str]) -> dict:
        """``list=allpages``."""
        pages, next_key = self._allpages(params, "ap")
        result: dict = {"batchcomplete": True,
                        "query": {"allpages": [{"pageid": p.pageid, "ns": p.namespace, "title": p.title}
                                               for p in pages]}}
        if next_key is not None:
            result["continue"] = {"apcontinue": next_key, "continue": "-||"}
        return result

    def generator_allpages(self, params: dict[str, str], host: str) -> dict:
        """``generator=allpages`` with ``prop=templates|info`` and optional redirect resolution."""
        batch, next_key = self._allpages(params, "gap")
        props = set(params.get("prop", "").split("|")) - {""}
        query: dict = {}
        if params.get("redirects") not in (None, "", "0", "false"):
            resolved, redirects = [], []
            for page in batch:
                if page.kind == "redirect" and page.target:
                    redirects.append({"from": page.title, "to": page.target})
                    page = self.wiki.pages.get(page.target) or WikiPage(title=page.target, kind="missing")
                if all(page.title != other.title for other in resolved):
                    resolved.append(page)
            batch = resolved
            if redirects:
                query["redirects"] = redirects
        continuing = "tlcontinue" in params
        entries = []
        for page in sorted(batch, key=lambda p: p.title):
            entry: dict = {"ns": page.namespace, "title": page.title}
            if page.kind == "missing":
                entry["missing"] = True
            else:
                entry["pageid"] = page.pageid
                if "info" in props and not continuing:
                    entry.update(contentmodel="wikitext", pagelanguage="en", lastrevid=1000 + page.pageid,
                                 length=len(page.body.encode()), redirect=page.kind == "redirect")
                    if "url" in params.get("inprop", "").split("|"):
                        url = f"http://{host}{wiki_path(page.title)}"
                        entry.update(fullurl=url, canonicalurl=url, editurl=url + "?action=edit")
            entries.append(entry)
        result: dict = {}
        tl_next = self._add_templates(entries, params) if "templates" in props else None
        if tl_next is not None:
            result["continue"] = {"tlcontinue": tl_next, "continue": "gapcontinue||"}
            if "gapcontinue" in params:
                result["continue"]["gapcontinue"] = params["gapcontinue"]
        else:
            result["batchcomplete"] = True
            if next_key is not None:
                result["continue"] = {"gapcontinue": next_key, "continue": "gapcontinue||"}
        query["pages"] = entries
        result["query"] = query
        return result

    def _add_templates(self, entries: list[dict], params: dict[str, str]) -> str | None:
        """Attach up to ``tllimit`` template links (from ``tlcontinue`` on); returns the next tlcontinue."""
        namespaces = {int(n) for n in params.get("tlnamespace", "").split("|") if n.strip()}
        limit = _limit(params.get("tllimit"), self.max_limit)
        links = []
        for entry in sorted(entries, key=lambda e: e.get("pageid", 0)):
            page = self.wiki.pages.get(entry["title"])
            for ns, title in self.wiki.templates_of(page) if page else []:
                if not namespaces or ns in namespaces:
                    links.append((f"{entry.get('pageid', 0)}|{ns}|{_dbkey(title.split(':', 1)[1])}", entry, ns, title))
        start = params.get("tlcontinue")
        if start:
            links = [link for link in links if _tl_key(link[0]) >= _tl_key(start)]
        for key, entry, ns, title in links[:limit]:
            entry.setdefault("templates", []).append({"ns": ns, "title": title})
        return links[limit][0] if len(links) > limit else None

    def parse(self, params: dict[str, str], host: str, fault: str | None = None) -> dict:
        """``action=parse&page=…``; ``fault`` may redirect the page or damage its HTML."""
        title = params.get("page", "").replace("_", " ")
        page = self.wiki.pages.get(title)
        if not title:
            return api_error("missingparam", "The page parameter must be set.")
        if page is None or fault == "missing":
            return api_error("missingtitle", "The page you specified doesn't exist.")
        redirects = []
        if fault and fault.startswith("double-redirect:"):  # page → NAME → page: MediaWiki follows one hop
            back = WikiPage(title=PREFIX + fault.split(":", 1)[1], kind="redirect", target=page.title)
            return {"parse": {"title": back.title, "pageid": 9999, "revid": 19999,
                              "redirects": [{"from": page.title, "to": back.title}],
                              "text": self.wiki.render_html(back)}}
        if fault and fault.startswith("redirect:"):
            target = self.wiki.pages.get(PREFIX + fault.split(":", 1)[1])
            if target is not None:
                redirects.append({"from": page.title, "to": target.title})
                page = target
        if page.kind == "redirect" and params.get("redirects") not in (None, "", "0", "false"):
            target = self.wiki.pages.get(page.target or "")
            if target is None:
                return api_error("missingtitle", "The page you specified doesn't exist.")
            redirects.append({"from": page.title, "to": target.title})
            page = target
        props = set(params.get("prop", "text|templates").split("|"))
        result: dict = {"title": page.title, "pageid": page.pageid, "revid": 1000 + page.pageid}
        if redirects:
            result["redirects"] = redirects
        if "text" in props:
            text = self.wiki.render_html(page)
            if fault == "truncated-html":
                text = text[: int(len(text) * 0.6)]
            elif fault == "malformed-html":
                text = _malform(text)
            elif fault == "huge-text":  # one text node of 10.5 MB (libxml2's default limit is 10 MB)
                text = text[: text.rindex("</div>")] + "<p>" + "long " * 2_100_000 + "end</p></div>"
            result["text"] = text
        if "templates" in props:
            result["templates"] = [{"ns": ns, "title": t, "exists": True} for ns, t in self.wiki.templates_of(page)]
        return {"parse": result}


def _tl_key(value: str) -> tuple[int, int, str]:
    pageid, ns, key = value.split("|", 2)
    return int(pageid), int(ns), key


def _malform(text: str) -> str:
    """Damage HTML the way sloppy markup does, without changing its text: drop closing tags of paragraphs
    and list items, shout some tag names, leave attributes unquoted and a stray closing tag about."""
    text = text.replace("</p>", "").replace("</li>", "").replace("</b>", "</B>").replace("<i>", "<I>")
    text = text.replace('lang="en"', "lang=en")
    return re.sub(r"(<h2 [^>]*>)", r"</span>\1", text, count=1)
