"""``loopsy relay deploy``: put the relay (relay/, the Cloudflare Worker) on your own
Cloudflare account in one command, the Python counterpart of ``npx @loopsy/deploy-relay``.

Steps: find wrangler; ask for a worker name and an optional custom domain; ``wrangler
deploy`` from relay/ (on a terminal wrangler gets one too, so it runs its own browser login
the first time and asks before taking over a custom domain or DNS record already in use;
given pipes, it would do neither and override them silently); make sure the
Worker has a PAIR_TOKEN_SECRET (32 random bytes, given to ``wrangler secret put`` on its
stdin — never in argv, the environment, a file or a log); save the URL to
``$LOOPSY_HOME/relay.json``; offer to point the daemon at it.

A re-deploy keeps the Worker's secret (Cloudflare keeps secrets across deploys; we check
with ``wrangler secret list``) unless ``--rotate-secret``, which signs out every device and
phone of that relay (see relay/src/keys.ts).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loopsy.cli.wrangler import (
    INSTALL_HINT,
    Runner,
    Wrangler,
    explain_failure,
    find_wrangler,
    on_terminal,
    parse_deploy_output,
    pinned_wrangler,
    secret_names,
)
from loopsy.protocol.errors import LoopsyError

ROOT = Path(__file__).resolve().parents[2]
WORKER_DIR = ROOT / "relay"
APP_DIR = ROOT / "mobile_web" / "dist"
SECRET_NAME = "PAIR_TOKEN_SECRET"  # noqa: S105 (a name, not a secret)
REGISTRATION_NAME = "REGISTRATION_SECRET"
DEFAULT_NAME = "loopsy-relay"
WORKER_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
HOSTNAME = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
HEALTH_WAIT = 60.0


def load_saved(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def ask(question: str, default: str, *, assume: bool) -> str:
    if assume or not sys.stdin.isatty():
        return default
    shown = f" [{default}]" if default else ""
    try:
        answer = input(f"{question}{shown}: ").strip()
    except EOFError:
        return default
    return answer or default


def confirm(question: str, *, default: bool, assume: bool) -> bool:
    if assume:
        return True
    if not sys.stdin.isatty():
        return default
    try:
        answer = input(f"{question} [{'Y/n' if default else 'y/N'}] ").strip().lower()
    except EOFError:
        return default
    return default if not answer else answer in ("y", "yes")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "deploy",
        help="deploy the relay to your Cloudflare account (a Worker, free tier)",
        description="Deploy relay/ (the Cloudflare Worker) with wrangler, give it a fresh "
        "PAIR_TOKEN_SECRET through stdin, save the URL to $LOOPSY_HOME/relay.json and offer "
        "to point the daemon at it. Re-deploying keeps the secret unless --rotate-secret.",
    )
    p.add_argument("--name", help=f"worker name (default: the last one, else {DEFAULT_NAME})")
    p.add_argument("--domain", help="custom domain on a zone of yours, e.g. relay.example.com")
    p.add_argument("-y", "--yes", action="store_true", help="no questions: take the defaults")
    p.add_argument(
        "--rotate-secret",
        action="store_true",
        help="give the Worker a new PAIR_TOKEN_SECRET (signs out every device and phone)",
    )
    p.add_argument(
        "--lock-registration",
        action="store_true",
        help="also set a REGISTRATION_SECRET, so only daemons that know it can register",
    )
    p.add_argument("--no-configure", action="store_true", help="leave the daemon's relay.url alone")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="build the Worker bundle into --outdir without uploading (offline)",
    )
    p.add_argument("--outdir", help="where --dry-run writes the bundle (default: a temp dir)")
    p.add_argument(
        "--wait",
        type=float,
        default=HEALTH_WAIT,
        metavar="SECONDS",
        help=f"how long to wait for the new relay to answer (default {HEALTH_WAIT:.0f}; 0 skips)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=cmd_deploy)


def cmd_deploy(args: argparse.Namespace) -> int:
    import secrets

    from loopsy.cli.output import emit_json, fields, note, say
    from loopsy.home import LoopsyHome, write_atomic

    worker_dir = WORKER_DIR
    if not (worker_dir / "wrangler.toml").is_file():
        raise LoopsyError(
            f"the Worker's source is not at {worker_dir}",
            hint="deploy from a source checkout of Loopsy (the relay/ directory)",
        )
    wrangler = find_wrangler(worker_dir)
    if wrangler is None:
        npx = shutil.which("npx")
        if npx is None or not confirm(
            "wrangler is not installed; run it through `npx wrangler`?", default=True,
            assume=args.yes,
        ):  # fmt: skip
            raise LoopsyError("wrangler (Cloudflare's CLI) is not installed", hint=INSTALL_HINT)
        wrangler = Wrangler((npx, "--yes", f"wrangler@{pinned_wrangler(worker_dir)}"), "npx")
    runner = Runner(wrangler, worker_dir, note, terminal=on_terminal())

    home = LoopsyHome.from_env()
    if args.lock_registration and args.no_configure:
        raise LoopsyError(
            "--lock-registration gives the new registration secret to this machine's daemon "
            "(it is kept nowhere else), so it cannot go with --no-configure"
        )
    if not args.dry_run and not args.no_configure and not home.config_file.is_file():
        # Found out before anything is deployed, not after.
        raise LoopsyError(
            f"no configuration at {home.config_file} to point the daemon at the relay",
            hint="run `loopsy init` first (or deploy only: --no-configure)",
        )
    saved = load_saved(home.relay_file)
    name = (args.name or ask("Worker name", str(saved.get("worker") or DEFAULT_NAME),
                             assume=args.yes)).strip().lower()  # fmt: skip
    if not WORKER_NAME.fullmatch(name):
        raise LoopsyError(
            f"{name!r} is not a worker name",
            hint="use 1-63 lowercase letters, digits and dashes, not starting or ending with '-'",
        )
    domain = args.domain
    if domain is None and not args.dry_run:
        domain = ask("Custom domain (optional; Enter for none)", str(saved.get("domain") or ""),
                     assume=args.yes)  # fmt: skip
    domain = (domain or "").strip().lower().removeprefix("https://").rstrip("/") or None
    if domain is not None and not HOSTNAME.fullmatch(domain):
        raise LoopsyError(f"{domain!r} is not a host name", hint="e.g. relay.example.com")

    deploy_args = ["deploy", "--name", name]
    if domain:
        deploy_args += ["--domain", domain]
    no_app = not (APP_DIR / "index.html").is_file()
    empty_assets: tempfile.TemporaryDirectory[str] | None = None
    if no_app:
        note("!! the phone client (mobile_web/dist) is not built: /app will say so.")
        note("   Build it first (scripts/setup) for a relay phones can use.")
        if not args.dry_run and not confirm("Deploy without it?", default=False, assume=args.yes):
            raise LoopsyError("the phone client is not built", hint="run scripts/setup first")
        empty_assets = tempfile.TemporaryDirectory(prefix="loopsy-no-app-")
        deploy_args += ["--assets", empty_assets.name]

    if args.rotate_secret and not args.dry_run and not confirm(
        "--rotate-secret: a new PAIR_TOKEN_SECRET signs out every device and phone this relay "
        "has; each daemon registers again and each phone pairs again. Go on?",
        default=False, assume=args.yes,
    ):  # fmt: skip
        raise LoopsyError("secret rotation cancelled; nothing was deployed")

    try:
        if args.dry_run:
            outdir = args.outdir or tempfile.mkdtemp(prefix="loopsy-relay-bundle-")
            note(f"==> building the Worker bundle into {outdir} (wrangler deploy --dry-run)")
            code, output = runner.run([*deploy_args, "--dry-run", "--outdir", outdir])
            if code != 0:
                raise explain_failure("wrangler deploy --dry-run", output)
            if args.json:
                emit_json({"dry_run": True, "worker": name, "outdir": outdir})
            else:
                say(f"Bundle built in {outdir}")
            return 0

        note(f"==> deploying worker {name!r} with wrangler ({wrangler.source})")
        code, output = runner.run(deploy_args, interactive=True)
        if code != 0:
            raise explain_failure("wrangler deploy", output)
    finally:
        if empty_assets is not None:
            empty_assets.cleanup()
    deployed = parse_deploy_output(output)
    if deployed is None:
        raise LoopsyError(
            "wrangler deployed, but its output named no URL",
            hint=f"find the URL in the Cloudflare dashboard, then `loopsy relay configure <url>`"
            f" (worker {name!r})",
        )
    if domain and domain not in deployed.domains:
        note(f"!! wrangler did not set up {domain} (see its message above): using {deployed.url}")

    note("==> checking the Worker's secrets")
    code, listing = runner.run(["secret", "list", "--name", name, "--format", "json"])
    if code != 0:
        raise explain_failure("wrangler secret list", listing)
    existing = secret_names(listing)
    rotate = args.rotate_secret and SECRET_NAME in existing  # (asked before deploying)
    if SECRET_NAME not in existing or args.rotate_secret:
        note(f"==> setting {SECRET_NAME} (a new random secret, through stdin)")
        put_secret(runner, name, SECRET_NAME, secrets.token_urlsafe(32))
        secret_state = "rotated" if rotate else "new"
    else:
        note(f"==> keeping the Worker's {SECRET_NAME} (--rotate-secret makes a new one)")
        secret_state = "kept"  # noqa: S105 (a state, not a secret)
    registration: str | None = None
    if args.lock_registration:
        registration = secrets.token_urlsafe(32)
        note(f"==> setting {REGISTRATION_NAME} (through stdin)")
        put_secret(runner, name, REGISTRATION_NAME, registration)

    record = {
        "url": deployed.url,
        "worker": name,
        "domain": domain,
        "workers_dev_url": deployed.workers_dev,
        "deployed_at": time.time(),
    }
    home.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(home.relay_file, json.dumps(record, indent=2) + "\n", mode=0o600)

    healthy = wait_healthy(deployed.url, note, timeout=args.wait) if args.wait > 0 else False
    configured = False
    # --lock-registration asks no question: the daemon is the only keeper of that secret.
    if not args.no_configure and (
        args.lock_registration
        or confirm(f"Point this machine's daemon at {deployed.url}?", default=True, assume=args.yes)
    ):
        # A rotated secret voids this daemon's credential: register again at once.
        configure_daemon(deployed.url, registration, renew=rotate)
        configured = True

    result = {**record, "secret": secret_state, "healthy": healthy, "configured": configured}
    if args.json:
        emit_json(result)
        return 0
    fields(
        [
            ("relay", deployed.url),
            ("worker", name),
            ("secret", f"{SECRET_NAME} {secret_state}"),
            ("answering", "yes" if healthy else "not yet (a new workers.dev name takes a minute)"),
            ("daemon", "configured" if configured else f"`loopsy relay configure {deployed.url}`"),
            ("saved to", str(home.relay_file)),
        ]
    )
    say("Next: `loopsy mobile pair` and scan the QR code with your phone.")
    return 0


def put_secret(runner: Runner, worker: str, key: str, value: str) -> None:
    code, output = runner.run(["secret", "put", key, "--name", worker], stdin=value + "\n")
    if code != 0:
        raise explain_failure(f"wrangler secret put {key}", output)


def wait_healthy(url: str, note: Callable[[str], None], timeout: float = HEALTH_WAIT) -> bool:
    import httpx

    note(f"==> waiting for {url}/v1/health")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            r = httpx.get(f"{url}/v1/health", timeout=5)
            if r.status_code == 200 and r.json().get("ok") is True:
                return True
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(2)
    return False


def configure_daemon(url: str, registration_secret: str | None, *, renew: bool = False) -> None:
    """``loopsy relay configure`` semantics: the running daemon at once, else config.yaml
    (a daemon started later with a void credential shows ``rejected`` and the fix)."""
    from loopsy.cli.connect import with_client
    from loopsy.config import load_config, save_config
    from loopsy.home import LoopsyHome
    from loopsy.protocol.errors import DaemonNotRunning

    try:
        with_client(
            lambda c: c.relay.configure(url, registration_secret=registration_secret, renew=renew)
        )
    except DaemonNotRunning:
        home = LoopsyHome.from_env()
        config = load_config(home)
        config.relay.url = url
        if registration_secret is not None:
            config.relay.registration_secret = registration_secret
        save_config(home, config)
