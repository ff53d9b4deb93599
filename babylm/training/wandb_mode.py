"""Keep Weights & Biases from hanging or prompting: fall back to offline mode when it cannot work online.

Used by :mod:`babylm.commands.fit` before the Trainer (and its ``WandbLogger``) is built; nothing to run on
its own. Reads the environment (``WANDB_MODE``, ``WANDB_API_KEY``, ``WANDB_IDENTITY_TOKEN_FILE``,
``WANDB_BASE_URL``, ``NETRC``) and the netrc file that ``wandb login`` writes; writes nothing but
``os.environ["WANDB_MODE"]``.

Rules, in order:

1. ``WANDB_MODE`` already set (``online``, ``offline``, ``disabled``) → left alone: you decided.
2. No API key (no ``WANDB_API_KEY``, no identity-token file, no netrc entry for the W&B host) → offline.
3. A key, but the W&B server does not answer an HTTP request within 3 s (any status counts as an answer;
   a refused connection, a silent server that accepts the connection but never replies, a reply that
   drips in slower than that, a TLS failure do not) → offline.

Offline runs are stored under the logger's ``save_dir`` (``runs/wandb/offline-run-…``); upload them later
with ``wandb sync runs/wandb/offline-run-…``. To log to CSV instead, set
``--trainer.logger lightning.pytorch.loggers.CSVLogger --trainer.logger.save_dir runs``.
"""

from __future__ import annotations

import netrc
import os
from pathlib import Path
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

from babylm.core.downloads import DownloadError, open_session, read_response

DEFAULT_BASE_URL = "https://api.wandb.ai"


def logger_uses_wandb(logger_config: Any) -> bool:
    """Return whether a parsed ``trainer.logger`` value (class spec, list of specs, bool or None) uses W&B."""
    if isinstance(logger_config, (list, tuple)):
        return any(logger_uses_wandb(item) for item in logger_config)
    class_path = getattr(logger_config, "class_path", None)
    if class_path is None and isinstance(logger_config, Mapping):
        class_path = logger_config.get("class_path")
    return class_path is not None and "WandbLogger" in str(class_path)


def _netrc_path(environ: Mapping[str, str]) -> Path:
    if environ.get("NETRC"):
        return Path(environ["NETRC"]).expanduser()
    for name in ("~/.netrc", "~/_netrc"):
        if Path(name).expanduser().exists():
            return Path(name).expanduser()
    return Path("~/.netrc").expanduser()


def has_api_key(environ: Mapping[str, str] = os.environ) -> bool:
    """Return whether W&B credentials are configured (environment variable, token file or netrc entry)."""
    if environ.get("WANDB_API_KEY") or environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = urlsplit(environ.get("WANDB_BASE_URL", DEFAULT_BASE_URL)).hostname or ""
    try:
        entry = netrc.netrc(str(_netrc_path(environ))).authenticators(host)
    except (OSError, netrc.NetrcParseError):
        return False
    return bool(entry and entry[2])


def server_answers(environ: Mapping[str, str] = os.environ, timeout: float = 3.0) -> bool:
    """Return whether the W&B server (``WANDB_BASE_URL``) answers an HTTP GET within ``timeout`` seconds in all.

    Any HTTP status is an answer; the body is not read. The deadline covers connecting, sending and the whole
    reply head (:func:`babylm.core.downloads.read_response`), so nothing can hang here.
    """
    url = environ.get("WANDB_BASE_URL", DEFAULT_BASE_URL).rstrip("/") + "/"
    try:
        with open_session("babylm (W&B reachability check)") as session:
            read_response(session, url, timeout=timeout, max_bytes=0)  # sink None: the status line and headers only
    except DownloadError:
        return False
    except Exception:  # noqa: BLE001 - a bad URL, TLS trouble…: all mean "not usable online"
        return False
    return True


def offline_unless_usable(environ: Optional[dict] = None) -> Optional[str]:
    """Set ``WANDB_MODE=offline`` in ``environ`` (default ``os.environ``) when W&B cannot work online.

    Returns the one-line notice to print, or None when nothing was changed.
    """
    environ = os.environ if environ is None else environ
    if environ.get("WANDB_MODE"):
        return None
    if not has_api_key(environ):
        reason = "no W&B API key is configured (WANDB_API_KEY or `wandb login`)"
    elif not server_answers(environ):
        url = environ.get("WANDB_BASE_URL", DEFAULT_BASE_URL)
        reason = f"the W&B server ({url}) cannot be reached or does not answer within 3 s"
    else:
        return None
    environ["WANDB_MODE"] = "offline"
    return (f"wandb: {reason}; logging offline under the logger's save_dir (sync later with `wandb sync`; "
            "set WANDB_MODE to choose)")


def quiet_wandb_loggers(loggers) -> None:
    """Keep Lightning's ``WandbLogger`` from making W&B print two warnings on every run; returns nothing.

    * ``The anonymous setting has no effect``: Lightning passes ``anonymous=None`` to ``wandb.init``, and W&B
      (≥ 0.19) warns whenever the key is present; it is dropped when it is None (nothing was asked for).
    * ``git root <save_dir> does not exist``: W&B looks for the git repository from the logger's ``save_dir``
      before anything has created it; the folder is created first (the run writes there anyway).

    Only loggers whose W&B run has not started yet are touched.
    """
    from lightning.pytorch.loggers import WandbLogger

    for logger in loggers:
        init = getattr(logger, "_wandb_init", None) if isinstance(logger, WandbLogger) else None
        if not isinstance(init, dict) or getattr(logger, "_experiment", None) is not None:
            continue
        if init.get("anonymous", "") is None:
            init.pop("anonymous")
        if init.get("dir"):
            Path(init["dir"]).mkdir(parents=True, exist_ok=True)
