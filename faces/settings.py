"""All configuration in one place: each setting is a command-line flag and an
environment variable, with a safe default.

Precedence: flag > environment variable > default.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from . import logs
from .cpus import cpu_count
from .vision import detectors, recognizers

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_MODEL = Path("models") / "det_2.5g.onnx"
DEFAULT_RECOGNITION_MODEL = Path("models") / "face_recognition_sface_2021dec_int8bq.onnx"
MAX_SOLO_THREADS = 4  # past this, one small model gains little from more threads
MIN_TOKEN_LENGTH = 16

# Which commands take a setting as a flag: every one of them takes the
# detection settings; the server's own only `faces serve`.
SERVE = frozenset({"serve"})
STORE = frozenset({"serve", "reindex", "people"})
COPY = frozenset({"backup", "restore", "check", "export"})  # the data directory alone
DETECTION = frozenset({"serve", "reindex", "detect", "worker", "people"})
MODEL = DETECTION | {"quantize"}  # which model, and how it is loaded


def _setting(default: object, env: str, help: str, commands: frozenset = SERVE) -> object:
    return field(default=default, metadata={"env": env, "help": help, "commands": commands})


@dataclass(frozen=True)
class Settings:
    port: int = _setting(8282, "FACES_PORT", "TCP port to listen on (0 = any free port, "
                         "logged at start)")
    address: str = _setting("0.0.0.0", "FACES_ADDRESS", "address to bind")
    data_dir: Path = _setting(Path("uploads"), "FACES_DATA_DIR",
                              "where photos and the catalogue live", STORE | COPY | {"user"})
    model: Path = _setting(DEFAULT_MODEL, "FACES_MODEL", "face detector ONNX model file "
                           "(SCRFD or YuNet)", MODEL)
    detector: str = _setting(detectors.AUTO, "FACES_DETECTOR",
                             f"detector family: {', '.join(detectors.CHOICES)} (auto = "
                             "identified from the model file)", MODEL)
    workers: int = _setting(0, "FACES_WORKERS",
                            "detector processes (0 = one per CPU core the server may use)",
                            STORE)
    solo_threads: int = _setting(0, "FACES_SOLO_THREADS",
                                 "threads one detection may use while it is the only one "
                                 f"running (0 = one per CPU core, at most {MAX_SOLO_THREADS}; "
                                 "1 = off)", DETECTION)
    max_upload_mb: float = _setting(25.0, "FACES_MAX_UPLOAD_MB",
                                    "largest accepted upload, in MB")
    max_pixels: int = _setting(50_000_000, "FACES_MAX_PIXELS",
                               "largest accepted image, in pixels", DETECTION)
    score_threshold: float = _setting(0.0, "FACES_SCORE_THRESHOLD",
                                      "minimum face score (0-1; 0 = the detector family's "
                                      "own default: SCRFD 0.5, YuNet 0.7)", DETECTION)
    nms_threshold: float = _setting(0.4, "FACES_NMS_THRESHOLD",
                                    "overlap above which boxes merge (0-1)", DETECTION)
    precision: str = _setting("auto", "FACES_PRECISION",
                              "detector arithmetic: auto, fp32 or int8 (a quantized copy of the "
                              "model, made once and cached; auto = int8 where it is measured "
                              "faster on this CPU)", DETECTION)
    model_cache: str = _setting("", "FACES_MODEL_CACHE",
                                "folder for the int8 copy of the model (empty = beside the "
                                "model, or ~/.cache/faces where that folder is read-only)",
                                MODEL)
    fetch_models: bool = _setting(False, "FACES_FETCH_MODELS",
                                  "download a missing model at start (a family's own file, "
                                  "or the recognition model) into the model cache; the "
                                  "Docker image does", frozenset({"serve", "worker"}))
    model_mirror: str = _setting("", "FACES_MODEL_MIRROR",
                                 "with FACES_FETCH_MODELS: a web folder holding the model "
                                 "files by name (<mirror>/<file>), used instead of their "
                                 "publishers' addresses (empty = the publishers')",
                                 frozenset({"serve", "worker"}))
    download_timeout: float = _setting(30.0, "FACES_DOWNLOAD_TIMEOUT",
                                       "with FACES_FETCH_MODELS: seconds a model download may "
                                       "go without receiving a byte before it is given up",
                                       frozenset({"serve", "worker"}))
    det_size: int = _setting(0, "FACES_DET_SIZE",
                             "long side of the detector's first pass, in pixels (multiple "
                             "of 32; 0 = by precision: float32 640, int8 1024)", DETECTION)
    detail_scale: float = _setting(0.0, "FACES_DETAIL_SCALE",
                                   "a finer second pass for photos over twice the first "
                                   "pass's side, this many times larger (1 = off; 0 = by "
                                   "precision: float32 1.5, int8 1.25)", DETECTION)
    recognition_model: Path = _setting(DEFAULT_RECOGNITION_MODEL, "FACES_RECOGNITION_MODEL",
                                       "face recognizer ONNX model, for People (SFace by "
                                       "default: `faces fetch-model --recognition`; missing = "
                                       "People off)", MODEL | SERVE)
    recognizer: str = _setting(recognizers.AUTO, "FACES_RECOGNIZER",
                               f"recognizer family: {', '.join(recognizers.CHOICES)} (auto = "
                               "identified from the model file)", MODEL | SERVE)
    recognition_min_face: int = _setting(50, "FACES_RECOGNITION_MIN_FACE",
                                         "faces at least this many pixels high are "
                                         "recognized (People)", STORE)
    recognition_max_faces: int = _setting(50, "FACES_RECOGNITION_MAX_FACES",
                                          "faces recognized per photo, largest first "
                                          "(People)", STORE)
    library: str = _setting("", "FACES_LIBRARY",
                            "folders of photos indexed where they are, never written to "
                            f"(several separated by '{os.pathsep}', as in PATH; more with "
                            "`faces library add`)")
    library_min_size: int = _setting(1024, "FACES_LIBRARY_MIN_SIZE",
                                     "files in library folders smaller than this many bytes "
                                     "are skipped (icons, previews)")
    library_settle: float = _setting(2.0, "FACES_LIBRARY_SETTLE",
                                     "seconds a new or changed file in a library folder must "
                                     "stay unchanged before it is read (one being copied is "
                                     "never read half)")
    library_rescan: float = _setting(60.0, "FACES_LIBRARY_RESCAN",
                                     "minutes between two rescans of every library folder "
                                     "(network folders send no change events: this is how "
                                     "their changes are seen; 0 = never)")
    library_watch: bool = _setting(True, "FACES_LIBRARY_WATCH",
                                   "watch local library folders for changes as they happen "
                                   "(inotify, one watch per folder)")
    cluster: str = _setting("", "FACES_CLUSTER",
                            "Dask scheduler to run detection on (tcp://host:8786 or tls://...; "
                            "empty = a process pool on this machine)", STORE)
    detect_timeout: float = _setting(30.0, "FACES_DETECT_TIMEOUT",
                                     "seconds one photo may take in a worker before it is "
                                     "stopped and replaced", STORE)
    max_queue: int = _setting(32, "FACES_MAX_QUEUE",
                              "photos that may wait for a free worker; more get 503")
    max_megapixels_in_flight: float = _setting(
        64.0, "FACES_MAX_MEGAPIXELS_IN_FLIGHT", "megapixels the workers may decode at once "
        "(what bounds their memory: larger photos wait their turn; 0 = no limit)")
    worker_recycle_mb: float = _setting(600.0, "FACES_WORKER_RECYCLE_MB",
                                        "a worker whose memory at rest grows past this many "
                                        "MB is replaced after its job (0 = never)")
    request_timeout: float = _setting(60.0, "FACES_REQUEST_TIMEOUT",
                                      "seconds a client may stall sending a request or idle")
    rate_limit: int = _setting(120, "FACES_RATE_LIMIT",
                               "uploads per minute per client address (0 = no limit)")
    token: str = _setting("", "FACES_TOKEN",
                          "access token needed to upload and delete (empty = open)",
                          SERVE | {"import", "library"})
    server: str = _setting("http://127.0.0.1:8282", "FACES_SERVER",
                           "the gallery `faces import` sends photos to (and `faces "
                           "library` asks)", frozenset({"import", "library"}))
    concurrency: int = _setting(4, "FACES_IMPORT_CONCURRENCY",
                                "photos `faces import` sends at once", frozenset({"import"}))
    private: bool = _setting(False, "FACES_PRIVATE",
                             "with a token, viewing needs it too")
    session_idle: float = _setting(168.0, "FACES_SESSION_IDLE",
                                   "hours a login lasts unused before it ends")
    session_days: float = _setting(30.0, "FACES_SESSION_DAYS",
                                   "days a login lasts at most, used or not")
    share_days: float = _setting(30.0, "FACES_SHARE_DAYS",
                                 "days a share link lasts unless its maker says otherwise")
    password_time: int = _setting(3, "FACES_PASSWORD_TIME",
                                  "Argon2id passes per password hash (its time cost; "
                                  "lowering it makes guessing cheaper)",
                                  SERVE | {"user"})
    password_memory: int = _setting(65536, "FACES_PASSWORD_MEMORY",
                                    "KiB of memory per Argon2id password hash (its memory "
                                    "cost; at least 8192)", SERVE | {"user"})
    allowed_origins: str = _setting("", "FACES_ALLOWED_ORIGINS",
                                    "other origins (comma-separated, e.g. https://a.example) "
                                    "allowed to use the API and WebSocket from a browser")
    allowed_hosts: str = _setting("", "FACES_ALLOWED_HOSTS",
                                  "host names the server answers to besides IP addresses, "
                                  "localhost and this machine's name (comma-separated; "
                                  "'.example.com' for it and its subdomains; '*' for any)")
    trusted_proxies: str = _setting("", "FACES_TRUSTED_PROXIES",
                                    "reverse proxies (addresses or CIDR ranges, comma-"
                                    "separated) whose X-Forwarded-For / X-Real-IP / "
                                    "X-Forwarded-Proto are believed")
    certfile: str = _setting("", "FACES_CERTFILE", "TLS certificate (PEM): serve HTTPS")
    keyfile: str = _setting("", "FACES_KEYFILE", "TLS private key (PEM) for --certfile")
    debug: bool = _setting(False, "FACES_DEBUG",
                           "Tornado debug mode (autoreload; never in production)")
    log_format: str = _setting("text", "FACES_LOG_FORMAT",
                               "log lines as text, or json: one object per line with "
                               "request fields", SERVE | STORE | MODEL)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    # The lists below are parsed once per settings object (they are read on
    # every request); frozen settings never change under them.
    @cached_property
    def origins(self) -> set[str]:
        return {o.strip().rstrip("/").lower() for o in self.allowed_origins.split(",")
                if o.strip()}

    @cached_property
    def hosts(self) -> list[str]:
        return [h.strip() for h in self.allowed_hosts.split(",") if h.strip()]

    @cached_property
    def proxies(self) -> list[Network]:
        return networks(self.trusted_proxies)

    @property
    def worker_count(self) -> int:
        return self.workers if self.workers > 0 else cpu_count()

    @property
    def solo_thread_count(self) -> int:
        return self.solo_threads if self.solo_threads > 0 else min(cpu_count(), MAX_SOLO_THREADS)

    def validate(self) -> None:
        """Raise ValueError with a readable message for an impossible value."""
        if not 0 <= self.port < 65536:
            raise ValueError(f"port must be 0-65535, not {self.port}")
        if self.recognizer not in recognizers.CHOICES:
            raise ValueError(f"recognizer must be one of {', '.join(recognizers.CHOICES)}, "
                             f"not {self.recognizer!r}")
        if self.detector not in detectors.CHOICES:
            raise ValueError(f"detector must be one of {', '.join(detectors.CHOICES)}, "
                             f"not {self.detector!r}")
        if self.workers < 0 or self.solo_threads < 0:
            raise ValueError("workers and solo threads must be 0 (auto) or more")
        if self.max_upload_mb <= 0:
            raise ValueError("max upload MB must be positive")
        if self.max_pixels <= 0:
            raise ValueError("max pixels must be positive")
        if not 0.0 <= self.score_threshold < 1.0:
            raise ValueError("score threshold must be between 0 and 1 (0 = the family's own)")
        if not 0.0 < self.nms_threshold < 1.0:
            raise ValueError("NMS threshold must be between 0 and 1")
        if self.det_size < 0 or self.det_size % 32:
            raise ValueError("detector size must be 0 (by precision) or a multiple of 32")
        if not (self.detail_scale == 0 or 1 <= self.detail_scale <= 4):
            raise ValueError("detail scale must be 0 (by precision), 1 (off) or up to 4")
        if self.precision not in detectors.PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(detectors.PRECISIONS)}, "
                             f"not {self.precision!r}")
        if self.recognition_min_face < 1 or self.recognition_max_faces < 0:
            raise ValueError("recognition min face must be 1 or more, max faces 0 or more")
        if self.detect_timeout <= 0 or self.request_timeout <= 0 or \
                self.download_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if self.library_min_size < 0 or self.library_settle < 0 or self.library_rescan < 0:
            raise ValueError("library min size, settle and rescan must be 0 or more")
        if self.concurrency < 1:
            raise ValueError("import concurrency must be 1 or more")
        if min(self.max_queue, self.rate_limit, self.worker_recycle_mb,
               self.max_megapixels_in_flight) < 0:
            raise ValueError("max queue, rate limit, worker recycle MB and megapixels in flight "
                             "must be 0 or more")
        if self.log_format not in logs.FORMATS:
            raise ValueError(f"log format must be {' or '.join(logs.FORMATS)}")
        if self.private and not self.token:
            raise ValueError("private viewing needs a token (FACES_TOKEN)")
        if self.token and len(self.token) < MIN_TOKEN_LENGTH:
            raise ValueError(f"FACES_TOKEN is {len(self.token)} characters; use at least "
                             f"{MIN_TOKEN_LENGTH} (`faces token` prints a strong one)")
        if self.password_time < 1 or self.password_memory < 8:
            raise ValueError("FACES_PASSWORD_TIME must be at least 1 and "
                             "FACES_PASSWORD_MEMORY at least 8 (KiB)")
        if self.session_idle <= 0 or self.session_days <= 0 or self.share_days <= 0:
            raise ValueError("FACES_SESSION_IDLE, FACES_SESSION_DAYS and FACES_SHARE_DAYS "
                             "must be more than 0")
        self.proxies  # noqa: B018 (raises ValueError for a bad address or range)
        if bool(self.certfile) != bool(self.keyfile):
            raise ValueError("TLS needs both --certfile and --keyfile")
        for path in (self.certfile, self.keyfile):
            if path and not Path(path).is_file():
                raise ValueError(f"no TLS file at {path}")


def networks(text: str) -> list[Network]:
    """Comma-separated addresses or CIDR ranges; raises ValueError."""
    return [ipaddress.ip_network(item.strip(), strict=False)
            for item in text.split(",") if item.strip()]


def _parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _converter(kind: type) -> object:
    return _parse_bool if kind is bool else kind


def _fields() -> list[dataclasses.Field]:
    return list(dataclasses.fields(Settings))


def _field_type(f: dataclasses.Field) -> type:
    return type(f.default)  # every default is of the setting's own type


def add_arguments(parser: argparse.ArgumentParser, command: str = "serve") -> None:
    """Add one flag per setting ``command`` uses (``--data-dir`` for ``data_dir``)."""
    for f in _fields():
        if command not in f.metadata["commands"]:
            continue
        kind = _field_type(f)
        flag = "--" + f.name.replace("_", "-")
        shown = f.default if f.default != "" else "none"
        helptext = f"{f.metadata['help']} (env {f.metadata['env']}, default {shown})"
        if kind is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                                default=None, help=helptext)
        else:
            parser.add_argument(flag, dest=f.name, type=_converter(kind), default=None,
                                metavar=f.name.upper(), help=helptext)


def from_sources(args: argparse.Namespace | None = None,
                 environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from parsed flags, then the environment, then defaults."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for f in _fields():
        flag_value = getattr(args, f.name, None) if args is not None else None
        if flag_value is not None:
            values[f.name] = flag_value
            continue
        env_value = environ.get(f.metadata["env"])
        if env_value is not None and env_value != "":
            try:
                values[f.name] = _converter(_field_type(f))(env_value)
            except ValueError as exc:
                raise ValueError(f"{f.metadata['env']}={env_value!r}: {exc}") from None
    settings = Settings(**values)
    settings.validate()
    return settings


def environment(settings: Settings, command: str) -> dict[str, str]:
    """The FACES_* variables that give another process the settings
    ``command`` takes (how `faces worker` hands them to Dask's workers)."""
    return {f.metadata["env"]: str(getattr(settings, f.name)) for f in _fields()
            if command in f.metadata["commands"]}


def parse(argv: Sequence[str] | None = None,
          environ: Mapping[str, str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(prog="faces serve", description="Run the faces server.")
    add_arguments(parser)
    return from_sources(parser.parse_args(argv), environ)
