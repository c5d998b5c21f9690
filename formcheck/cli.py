"""``formcheck`` command line: a thin shell over the public API.

Exit status: 0 success, 2 bad input (the user can fix it), 1 internal error.
Errors print one readable line on stderr; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import tempfile
from pathlib import Path

from formcheck.errors import FormcheckError, InputError, OutputError
from formcheck.io.video import check_time_scale
from formcheck.parallel import stop_helper_processes


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="formcheck", description="Check backward-running form from video.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors, and the native libraries' logs")
    sub = parser.add_subparsers(dest="command", required=True)

    a = sub.add_parser("analyze", help="analyse a side-view clip and write annotated video, JSON and CSV")
    a.add_argument("clip", type=Path)
    a.add_argument("--out-dir", type=Path, help="where to write outputs (default: next to the clip)")
    a.add_argument("--config", type=Path, help="TOML file with threshold overrides")
    a.add_argument("--slowmo", type=float, default=1.0,
                   help="slow-motion factor: capture fps / playback fps (e.g. 4 for 120 fps played at 30)")
    a.add_argument("--fps", type=float,
                   help="the clip's frame rate, when the file's is missing or wrong (the report then says so)")
    a.add_argument("--model", type=Path, help="path to pose_landmarker_full.task (default: the installed one)")
    a.add_argument("--no-video", action="store_true", help="skip the annotated video (faster)")
    a.add_argument("--json", action="store_true", help="print the JSON report instead of the summary")
    a.add_argument("--quiet", action="store_true", help="no progress output")

    b = sub.add_parser("batch", help="analyse many clips (folders, globs or a CSV manifest) into one folder, with a "
                                     "summary; a second run skips clips already done")
    b.add_argument("paths", nargs="+", help="clips, folders, glob patterns (quoted), or a CSV manifest with "
                                            "columns clip, athlete, slowmo, fps")
    b.add_argument("--out-dir", type=Path, required=True, help="where each clip's outputs and the summary go")
    b.add_argument("--config", type=Path, help="TOML file with threshold overrides")
    b.add_argument("--slowmo", type=float, default=1.0, help="slow-motion factor for clips the manifest gives none")
    b.add_argument("--fps", type=float, help="frame rate for clips the manifest gives none (when the files' is wrong)")
    b.add_argument("--no-video", action="store_true", help="skip the annotated videos (faster)")
    b.add_argument("--history", action="store_true",
                   help="save each analysed clip to its athlete's history (what the app's History tab shows)")
    b.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run the clips on a Dask cluster (needs the formcheck[cluster] extra)")
    b.add_argument("--quiet", action="store_true", help="no progress output")

    live = sub.add_parser("live", help="live check from a local camera in a window (q or Esc stops)")
    live.add_argument("--camera", type=int, default=0, help="camera index (default 0)")
    live.add_argument("--config", type=Path, help="TOML file with threshold overrides")
    live.add_argument("--model", type=Path, help="path to pose_landmarker_full.task")
    live.add_argument("--no-history", action="store_true", help="do not save the session to history")
    live.add_argument("--intervals", type=int, nargs="?", const=4, choices=[4, 5], metavar="ROUNDS",
                      help="show the beginner-plan interval timer on the picture (4 or 5 rounds; default 4)")
    live.add_argument("--pose-every", type=int, default=1, choices=[1, 2, 3], metavar="N",
                      help="find the pose on every Nth frame only, for a slow computer (default 1: every frame)")

    ui = sub.add_parser("app", help="open the app in a browser: on this computer only, or with --lan for a team")
    ui.add_argument("--port", type=int, default=8501, help="port to serve on (default 8501)")
    ui.add_argument("--lan", action="store_true",
                    help="serve every device on the network; visitors then need an access key (see --keys)")
    ui.add_argument("--keys", type=Path, help="with --lan: a TOML file of athletes' keys, one line each: "
                                              'name = "key" (default: formcheck-keys.toml, made with one key)')
    ui.add_argument("--cert", type=Path, help="TLS certificate (PEM), so phones may use their camera over the LAN")
    ui.add_argument("--cert-key", type=Path, help="the certificate's private key (PEM)")

    r = sub.add_parser("report", help="write a shareable, self-contained HTML report (<stem>.formcheck.html) "
                                      "from a clip or a saved .formcheck.json")
    r.add_argument("source", type=Path, help="a video clip or a JSON report written by 'analyze'")
    r.add_argument("--out-dir", type=Path, help="where to write the HTML (default: next to the source)")
    r.add_argument("--config", type=Path, help="TOML file with threshold overrides (clips only)")
    r.add_argument("--slowmo", type=float, default=1.0, help="slow-motion factor (clips only)")
    r.add_argument("--model", type=Path, help="path to pose_landmarker_full.task (clips only)")
    r.add_argument("--quiet", action="store_true", help="no progress output")
    return parser


def _progress_printer(enabled: bool):
    if not enabled:
        return None
    last = {}

    def progress(stage: str, done: int, total: int) -> None:
        pct = int(100 * done / total) if total else 0
        if last.get(stage) != pct:
            last[stage] = pct
            label = "finding pose" if stage == "pose" else "drawing video"
            print(f"\r{label}: {pct:3d}%", end="" if pct < 100 else "\n", file=sys.stderr, flush=True)

    return progress


def _prepare_out_dir(folder: Path) -> None:
    """Create the output folder and prove it is writable now, not after minutes of pose estimation."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".formcheck-probe-"):
            pass
    except OSError as exc:
        code = exc.errno
        if isinstance(exc, (FileExistsError, NotADirectoryError)) or code in (errno.EEXIST, errno.ENOTDIR):
            reason = "that path (or a part of it) is a file, not a folder. Choose a folder for --out-dir."
        elif isinstance(exc, PermissionError) or code in (errno.EACCES, errno.EPERM, errno.EROFS):
            reason = "permission denied. Choose a folder you can write to with --out-dir."
        elif code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            reason = "the disk is full. Free some space or choose another folder with --out-dir."
        else:
            reason = f"{exc.strerror or exc}. Choose another folder with --out-dir."
        raise OutputError(f"Cannot write to the output folder '{folder}': {reason}") from exc


_TIME_OPTIONS = ("--slowmo", "--fps")


def _analyze(args) -> int:
    from formcheck.api import Outputs, analyze

    check_time_scale(args.slowmo, args.fps, _TIME_OPTIONS)
    if args.out_dir:
        _prepare_out_dir(args.out_dir)
    elif args.clip.is_file():
        _prepare_out_dir(args.clip.parent)  # outputs go next to the clip
    report = analyze(args.clip, args.out_dir, outputs=Outputs(video=not args.no_video), config=args.config,
                     slowmo=args.slowmo, model=args.model, fps=args.fps,
                     progress=_progress_printer(not args.quiet and sys.stderr.isatty()))
    if args.json:
        print(report.to_json())
    else:
        print(report.summary())
        for kind, path in report.outputs.items():
            print(f"  wrote {kind}: {path}")
    return 0


def _batch(args) -> int:
    from formcheck.batch.run import BatchOptions, run_batch
    from formcheck.batch.summary import status_counts
    from formcheck.config import load_thresholds

    check_time_scale(args.slowmo, args.fps, _TIME_OPTIONS)
    _prepare_out_dir(args.out_dir)
    options = BatchOptions(args.out_dir, load_thresholds(args.config), video=not args.no_video, slowmo=args.slowmo,
                           fps=args.fps, scheduler=args.scheduler, history=args.history)
    result = run_batch(args.paths, options, progress=None if args.quiet else _batch_progress)
    if result.skipped:
        print(f"{result.skipped} clip(s) unchanged since the last run: their outputs were kept.")
    print(f"{len(result.rows)} clips ({status_counts(result.rows)}); {result.plan}.")
    for row in result.rows:
        if row.error:
            print(f"  {Path(row.clip).name}: {row.status}: {row.error}")
    print(f"  wrote summary: {result.summary_csv}\n  wrote summary: {result.summary_html}")
    return result.exit_status


def _batch_progress(update) -> None:
    width = 20
    filled = round(width * update.done / max(update.total, 1))
    left = "" if update.seconds_left is None else f"  about {_duration(update.seconds_left)} left"
    score = f", score {update.row.score}" if update.row.score is not None else ""
    print(f"[{'#' * filled}{'.' * (width - filled)}] {update.done}/{update.total}{left}  "
          f"{Path(update.row.clip).name}: {update.row.status}{score}", file=sys.stderr, flush=True)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _live(args) -> int:
    from formcheck.config import load_thresholds
    from formcheck.live.window import run_camera_window

    report = run_camera_window(args.camera, model=args.model, thresholds=load_thresholds(args.config),
                               save_history=not args.no_history, interval_rounds=args.intervals,
                               pose_every=args.pose_every)
    print(report.summary() if report is not None else "No runner was seen during the session.")
    return 0


def _report(args) -> int:
    from formcheck.api import report_from_clip
    from formcheck.outputs.html_report import report_from_json

    if not args.source.exists():
        raise InputError(f"{args.source} does not exist.")
    if args.out_dir:
        _prepare_out_dir(args.out_dir)
    if args.source.suffix.lower() == ".json":
        out = report_from_json(args.source, args.out_dir)
    else:
        check_time_scale(args.slowmo, names=_TIME_OPTIONS)
        out = report_from_clip(args.source, args.out_dir, config=args.config, slowmo=args.slowmo, model=args.model,
                               progress=_progress_printer(not args.quiet and sys.stderr.isatty()))
    print(f"wrote report: {out}")
    return 0


def _app(args) -> int:
    """``streamlit run`` of the packaged page, with formcheck's server settings whatever the folder."""
    import subprocess

    from formcheck.app.access import KEYS_ENV, load_keys, new_keys_file
    from formcheck.app.upload import MAX_UPLOAD_MB

    if (args.cert is None) != (args.cert_key is None):
        raise InputError("--cert and --cert-key go together: the certificate and its private key.")
    env = dict(os.environ)
    env.pop(KEYS_ENV, None)
    address = "127.0.0.1"
    if args.lan:
        address = "0.0.0.0"
        keys = args.keys or Path("formcheck-keys.toml")
        if args.keys is None and not keys.exists():
            key = new_keys_file(keys)
            print(f"Made {keys} with one access key for the team: {key}\n"
                  "Add a line per athlete (name = \"key\") to keep each one's history apart.")
        load_keys(keys)  # a bad file is the user's to fix now, not a page error later
        env[KEYS_ENV] = str(keys.resolve())
    entry = Path(__file__).with_name("app") / "entry.py"
    command = [sys.executable, "-m", "streamlit", "run", str(entry), "--server.address", address,
               "--server.port", str(args.port), "--client.showErrorDetails", "none",
               "--browser.gatherUsageStats", "false", "--server.maxUploadSize", str(MAX_UPLOAD_MB),
               "--server.maxMessageSize", str(MAX_UPLOAD_MB), "--theme.base", "light"]
    if args.cert:
        command += ["--server.sslCertFile", str(args.cert), "--server.sslKeyFile", str(args.cert_key)]
    return subprocess.call(command, env=env)


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(argv)
    finally:
        stop_helper_processes()  # the workers' fork server: nothing of the command outlives it


def _run(argv: list[str] | None) -> int:
    args = _build_parser().parse_args(argv)
    if args.debug:
        os.environ["FORMCHECK_NATIVE_LOGS"] = "show"  # read by native_logs, also in the pose workers
    commands = {"analyze": _analyze, "batch": _batch, "live": _live, "report": _report, "app": _app}
    try:
        return commands[args.command](args)
    except InputError as exc:
        if args.debug:
            raise
        print(f"formcheck: {exc}", file=sys.stderr)
        return 2
    except (FormcheckError, OSError) as exc:
        if args.debug:
            raise
        print(f"formcheck: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("formcheck: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - last resort: one line, never a traceback
        if args.debug:
            raise
        print(f"formcheck: internal error ({type(exc).__name__}: {exc}). Re-run with --debug and report it.",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
